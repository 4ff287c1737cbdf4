//! A thin, synchronous runner over the `git` binary.
//!
//! Why the binary and not a library (gix, libgit2): techlead works in the
//! person's own repository, so it must behave as the person's git does,
//! with their config (merge drivers, attributes, `merge.conflictStyle`,
//! rerere, LFS filters, hooks where hooks belong), and it needs
//! `git merge-tree --write-tree`, which merges two commits into a tree
//! without touching any index or working tree; that is how task branches
//! reach the integration branch while the person's checkout stays as it
//! is. Neither gix nor libgit2 has the same merge machinery (ort) with the
//! same config. The minimum is git 2.38, the first with `merge-tree
//! --write-tree`; [`Git::open`] checks it once.
//!
//! Every command runs as `git -C <dir> --no-pager ...` with `LC_ALL=C` (so
//! messages can be read), no terminal prompts, no pager and no editor, and
//! without the `GIT_DIR`-style variables a caller's environment (a git
//! hook, say) might carry, which would point every command at another
//! repository. Everything here blocks: call it from a blocking thread.

use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The oldest git with `merge-tree --write-tree`.
pub const MIN_VERSION: (u32, u32) = (2, 38);

/// The name and address techlead commits with. Set through the
/// environment, which outranks any config, so commits work on a machine
/// with no git identity configured.
pub const NAME: &str = "techlead";
pub const EMAIL: &str = "techlead@localhost";

/// Variables that would make a command act on a repository other than the
/// one named with `-C`.
const REPOSITORY_VARIABLES: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot run `{}`", program.display())]
    NotFound {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("git {found} is too old: techlead needs git {}.{} or newer", MIN_VERSION.0, MIN_VERSION.1)]
    TooOld { found: String },
    #[error("cannot read the git version from `{output}`")]
    UnknownVersion { output: String },
    #[error("`{}` is not in a git repository", path.display())]
    NotARepository { path: PathBuf, stderr: String },
    #[error("`{command}` failed in `{}` ({status}){}", dir.display(), stderr_suffix(stderr))]
    Failed {
        command: String,
        dir: PathBuf,
        /// `exit status N`, or the signal that ended it.
        status: String,
        stderr: String,
    },
    #[error("`{command}` in `{}`", dir.display())]
    Io {
        command: String,
        dir: PathBuf,
        #[source]
        source: io::Error,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::NotFound { .. } => {
                "install git (2.38 or newer) and make sure it is on PATH".into()
            }
            Error::TooOld { .. } => format!(
                "techlead merges without a checkout with `git merge-tree --write-tree` (git {}.{}+); upgrade git (https://git-scm.com/downloads) and make sure the new one comes first on PATH",
                MIN_VERSION.0, MIN_VERSION.1
            ),
            Error::UnknownVersion { .. } => {
                "check that `git --version` runs git; techlead needs git 2.38 or newer".into()
            }
            Error::NotARepository { .. } => {
                "run techlead inside a git repository (`git init` makes one); each task works in its own worktree of it".into()
            }
            Error::Failed { .. } | Error::Io { .. } => return None,
        })
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// One repository, as the `git` binary sees it.
#[derive(Debug, Clone)]
pub struct Git {
    program: PathBuf,
    repo: PathBuf,
    version: String,
}

impl Git {
    /// The repository containing `path` (its top level), after checking
    /// that `git` on PATH is 2.38 or newer.
    pub fn open(path: &Path) -> Result<Git> {
        Git::open_with("git", path)
    }

    /// As [`Git::open`], running `program` as git.
    pub fn open_with(program: impl Into<PathBuf>, path: &Path) -> Result<Git> {
        let mut git = Git {
            program: program.into(),
            repo: path.to_path_buf(),
            version: String::new(),
        };
        // Not `-C path`: a path that does not exist is a repository
        // problem, reported below, not a git one.
        let output = git.at(Path::new(".")).arg("--version").run()?;
        git.version = check_version(output.trim())?;
        match git
            .at(path)
            .args(["rev-parse", "--show-toplevel"])
            .output(&[0, 128])
        {
            Ok(output) if output.code == 0 => {
                git.repo = PathBuf::from(output.stdout.trim_end_matches('\n'));
                Ok(git)
            }
            Ok(output) => Err(Error::NotARepository {
                path: path.to_path_buf(),
                stderr: output.stderr,
            }),
            // `-C` into a directory that does not exist.
            Err(Error::Failed { stderr, .. }) => Err(Error::NotARepository {
                path: path.to_path_buf(),
                stderr,
            }),
            Err(error) => Err(error),
        }
    }

    /// The top level of the working tree.
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// What `git --version` said, e.g. `2.47.3`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether this git is at least `major.minor`.
    pub fn at_least(&self, (major, minor): (u32, u32)) -> bool {
        let mut numbers = self
            .version
            .split('.')
            .map(|part| part.parse::<u32>().unwrap_or(0));
        let found = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
        found >= (major, minor)
    }

    /// A command to run in `dir` (the repository or one of its worktrees).
    pub fn at<'a>(&'a self, dir: &'a Path) -> Invocation<'a> {
        Invocation {
            git: self,
            dir,
            args: Vec::new(),
            input: None,
            identity: None,
        }
    }

    /// A command to run at the top level.
    pub fn cmd(&self) -> Invocation<'_> {
        self.at(&self.repo)
    }

    /// The commit HEAD points at; `None` in a repository without commits.
    pub fn head_commit(&self) -> Result<Option<String>> {
        self.resolve("HEAD")
    }

    /// The branch checked out at the top level (`main`); `None` when HEAD
    /// is detached.
    pub fn current_branch(&self) -> Result<Option<String>> {
        let output = self
            .cmd()
            .args(["symbolic-ref", "-q", "--short", "HEAD"])
            .output(&[0, 1])?;
        Ok((output.code == 0).then(|| output.stdout.trim().to_string()))
    }

    /// The commit `rev` names, as a full hash; `None` when it names none.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>> {
        let output = self
            .cmd()
            .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
            .arg(format!("{rev}^{{commit}}"))
            .output(&[0, 1])?;
        Ok((output.code == 0).then(|| output.stdout.trim().to_string()))
    }

    /// Whether `ancestor` is reachable from `descendant` (a commit is its
    /// own ancestor).
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let output = self
            .cmd()
            .args(["merge-base", "--is-ancestor", ancestor, descendant])
            .output(&[0, 1])?;
        Ok(output.code == 0)
    }
}

/// `git version 2.39.2 (Apple Git-143)` → `2.39.2`, if at least 2.38.
fn check_version(output: &str) -> Result<String> {
    let unknown = || Error::UnknownVersion {
        output: output.to_string(),
    };
    let version = output
        .strip_prefix("git version ")
        .and_then(|rest| rest.split_whitespace().next())
        .ok_or_else(unknown)?;
    let mut numbers = version.split('.').map(|part| part.parse::<u32>());
    let (Some(Ok(major)), Some(Ok(minor))) = (numbers.next(), numbers.next()) else {
        return Err(unknown());
    };
    if (major, minor) < MIN_VERSION {
        return Err(Error::TooOld {
            found: version.to_string(),
        });
    }
    Ok(version.to_string())
}

/// What a command printed and how it ended.
#[derive(Debug)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Who a commit is by: techlead, or the original author of a commit being
/// replayed (with techlead as the committer).
#[derive(Debug, Clone)]
pub struct Identity {
    pub author_name: String,
    pub author_email: String,
    /// Git's raw date (`1700000000 +0100`), or `None` for now.
    pub author_date: Option<String>,
}

impl Identity {
    pub fn techlead() -> Identity {
        Identity {
            author_name: NAME.into(),
            author_email: EMAIL.into(),
            author_date: None,
        }
    }
}

/// One git command being put together.
pub struct Invocation<'a> {
    git: &'a Git,
    dir: &'a Path,
    args: Vec<OsString>,
    input: Option<Vec<u8>>,
    identity: Option<Identity>,
}

impl Invocation<'_> {
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_os_string()));
        self
    }

    /// Bytes for the command's standard input (otherwise it reads nothing).
    pub fn input(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.input = Some(input.into());
        self
    }

    /// Commits made by this command are by `identity`, committed by
    /// techlead, whatever the config says.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The command as the person would type it, for messages.
    fn describe(&self) -> String {
        let mut text = String::from("git");
        for arg in &self.args {
            let arg = arg.to_string_lossy();
            text.push(' ');
            if arg.is_empty() || arg.contains([' ', '\n', '\'', '"']) {
                text.push_str(&format!("{:?}", arg.as_ref()));
            } else {
                text.push_str(&arg);
            }
        }
        text
    }

    /// The process, configured; for callers that stream its output.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.git.program);
        command
            .arg("-C")
            .arg(self.dir)
            .arg("--no-pager")
            .args(&self.args)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GCM_INTERACTIVE", "never")
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .env("GIT_EDITOR", ":")
            .env("GIT_SEQUENCE_EDITOR", ":")
            .env("GIT_MERGE_AUTOEDIT", "no")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for variable in REPOSITORY_VARIABLES {
            command.env_remove(variable);
        }
        if let Some(identity) = &self.identity {
            command
                .env("GIT_AUTHOR_NAME", &identity.author_name)
                .env("GIT_AUTHOR_EMAIL", &identity.author_email)
                .env("GIT_COMMITTER_NAME", NAME)
                .env("GIT_COMMITTER_EMAIL", EMAIL)
                .env_remove("GIT_COMMITTER_DATE");
            match &identity.author_date {
                Some(date) => command.env("GIT_AUTHOR_DATE", date),
                None => command.env_remove("GIT_AUTHOR_DATE"),
            };
        }
        command
    }

    fn io_error(&self, source: io::Error) -> Error {
        if source.kind() == io::ErrorKind::NotFound {
            Error::NotFound {
                program: self.git.program.clone(),
                source,
            }
        } else {
            Error::Io {
                command: self.describe(),
                dir: self.dir.to_path_buf(),
                source,
            }
        }
    }

    /// Runs it; any exit code in `ok` is a result, others are errors.
    pub fn output(self, ok: &[i32]) -> Result<Output> {
        let mut command = self.command();
        if self.input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn().map_err(|error| self.io_error(error))?;
        if let Some(input) = &self.input {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            // A command that exits without reading all of it closes the
            // pipe; its exit status says what went wrong.
            match stdin.write_all(input) {
                Err(error) if error.kind() != io::ErrorKind::BrokenPipe => {
                    return Err(self.io_error(error));
                }
                _ => {}
            }
        }
        let output = child
            .wait_with_output()
            .map_err(|error| self.io_error(error))?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        match output.status.code() {
            Some(code) if ok.contains(&code) => Ok(Output {
                code,
                stdout,
                stderr,
            }),
            _ => Err(Error::Failed {
                command: self.describe(),
                dir: self.dir.to_path_buf(),
                status: output.status.to_string(),
                stderr,
            }),
        }
    }

    /// Runs it and returns its standard output; failing unless it exits 0.
    pub fn run(self) -> Result<String> {
        Ok(self.output(&[0])?.stdout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(check_version("git version 2.47.3").unwrap(), "2.47.3");
        assert_eq!(
            check_version("git version 2.39.2 (Apple Git-143)").unwrap(),
            "2.39.2"
        );
        assert_eq!(
            check_version("git version 2.45.1.windows.1").unwrap(),
            "2.45.1.windows.1"
        );
        assert_eq!(check_version("git version 3.0").unwrap(), "3.0");
        assert!(matches!(
            check_version("git version 2.37.9"),
            Err(Error::TooOld { found }) if found == "2.37.9"
        ));
        assert!(matches!(
            check_version("hub version 1"),
            Err(Error::UnknownVersion { .. })
        ));
    }
}
