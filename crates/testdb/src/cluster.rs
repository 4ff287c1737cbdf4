//! Starting and stopping the throwaway cluster.

use crate::{Database, PASSWORD_USER, USER, next_name};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::Mutex;

/// A running server and the connection that creates databases on it.
pub struct Cluster {
    dir: PathBuf,
    admin: Mutex<postgres::Client>,
    /// Held, never written: when the test binary exits, the watchdog
    /// reads the end of it and removes the cluster.
    _watchdog: ChildStdin,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("dir", &self.dir).finish()
    }
}

impl Cluster {
    /// Finds the binaries, creates the cluster and starts it; says why
    /// when it cannot.
    pub(crate) fn start() -> Result<Cluster, String> {
        let bin = bin_dir()?;
        let run_as = run_as()?;
        let dir = tempfile::Builder::new()
            .prefix("tl-pg")
            .tempdir()
            .map_err(|e| format!("no temporary directory: {e}"))?
            .keep();
        let data = dir.join("data");
        if let Some(user) = &run_as {
            run(Command::new("chown").arg(user).arg(&dir))?;
        }
        let as_user = |program: &str| -> Command {
            let program = bin.join(program);
            match &run_as {
                Some(user) => {
                    let mut command = Command::new("runuser");
                    command.args(["-u", user, "--"]).arg(program);
                    command
                }
                None => Command::new(program),
            }
        };
        // The watchdog first, so that nothing is left behind if a later
        // step fails.
        let watchdog = watchdog(&dir, &data, as_user("pg_ctl"))?;
        run(as_user("initdb")
            .args(["--no-sync", "--auth=trust", "--encoding=UTF8", "--locale=C"])
            .arg(format!("--username={USER}"))
            .arg("-D")
            .arg(&data))?;
        configure(&dir, &data)?;
        run(as_user("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "start"]))?;
        let admin = connect(&dir)?;
        Ok(Cluster {
            dir,
            admin: Mutex::new(admin),
            _watchdog: watchdog,
        })
    }

    /// The directory of the server's Unix socket.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A URL for `database` as `user`, with `password` if given.
    pub fn url(&self, user: &str, password: Option<&str>, database: &str) -> String {
        let password = password.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "postgresql://{user}{password}@{}/{database}",
            encode(&self.dir.display().to_string())
        )
    }

    /// A new empty database.
    pub(crate) fn create_database(&self) -> Database {
        let name = next_name();
        let statement = format!("CREATE DATABASE {name}");
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
                    admin.batch_execute(&statement)
                })
                .join()
                .expect("creating a database panicked")
        })
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
        Database {
            url: self.url(USER, None, &name),
            name,
        }
    }
}

/// Where `initdb`, `pg_ctl` and `postgres` are: `PATH`, else the newest
/// of Debian's `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    debian.sort();
    on_path
        .into_iter()
        .chain(debian.into_iter().rev().map(|(_, dir)| dir))
        .find(|dir| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| dir.join(b).is_file())
        })
        .ok_or_else(|| {
            "initdb, pg_ctl and postgres are not on PATH nor in /usr/lib/postgresql/*/bin: \
             install PostgreSQL (Debian: apt-get install postgresql)"
                .to_string()
        })
}

/// The user to run the server as: none (ourselves) unless we are root,
/// which `initdb` refuses; then `postgres`, which Debian's package creates.
fn run_as() -> Result<Option<String>, String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let known = Command::new("id")
        .args(["-u", "postgres"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if known {
        Ok(Some("postgres".to_string()))
    } else {
        Err("running as root, and there is no `postgres` user to run the server as".to_string())
    }
}

/// Only the socket in `dir`, more connections than the default (every
/// test thread holds a few), fsync as in production, and one role that
/// must give its password.
fn configure(dir: &Path, data: &Path) -> Result<(), String> {
    let append = |file: &str, text: String| {
        use std::io::Write;
        std::fs::OpenOptions::new()
            .append(true)
            .open(data.join(file))
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| format!("cannot write {file}: {e}"))
    };
    append(
        "postgresql.conf",
        format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{}'\nfsync = on\n\
             max_connections = 300\n",
            dir.display()
        ),
    )?;
    let hba = std::fs::read_to_string(data.join("pg_hba.conf")).unwrap_or_default();
    std::fs::write(
        data.join("pg_hba.conf"),
        format!("local all {PASSWORD_USER} scram-sha-256\n{hba}"),
    )
    .map_err(|e| format!("cannot write pg_hba.conf: {e}"))
}

fn connect(dir: &Path) -> Result<postgres::Client, String> {
    let mut admin = postgres::Config::new()
        .host_path(dir)
        .user(USER)
        .dbname("postgres")
        .connect(postgres::NoTls)
        .map_err(|e| format!("cannot connect to the new server: {e}"))?;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD 'right'"
        ))
        .map_err(|e| format!("cannot create role {PASSWORD_USER}: {e}"))?;
    Ok(admin)
}

/// A shell, in its own process group (a Ctrl-C to the tests does not
/// reach it), that waits for the test binary to close its stdin, then
/// stops the server and removes `dir`.
fn watchdog(dir: &Path, data: &Path, mut pg_ctl: Command) -> Result<ChildStdin, String> {
    use std::os::unix::process::CommandExt;
    let stop: Vec<String> = std::iter::once(pg_ctl.get_program())
        .chain(pg_ctl.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    pg_ctl.arg("-D").arg(data);
    let script =
        r#"cat >/dev/null; "$@" -D "$DATA" -m immediate stop >/dev/null 2>&1; rm -rf "$DIR""#;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("watchdog")
        .args(&stop)
        .env("DATA", data)
        .env("DIR", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the watchdog shell: {e}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the watchdog has no stdin".to_string())
}

/// Runs `command`, or says what it printed when it failed.
fn run(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{:?} failed ({}): {}",
        command.get_program(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// Percent-encodes a socket directory for the host part of a URL.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
