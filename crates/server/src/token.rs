//! The server's bearer token: 32 random bytes from the kernel, in hex,
//! made on the first start and kept in a file only its owner can read
//! (`<data dir>/server.token`, mode 0600), so that every later start, and
//! every script of the person's, uses the same one.

use crate::Error;
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A token: 64 lowercase hex digits.
#[derive(Clone)]
pub struct Token(pub(crate) String);

impl Token {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// `server.token` in the data directory (beside a SQLite database).
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("server.token")
}

/// The token in `path`, made first if there is none. A file that others
/// may read, or that holds no token, is refused rather than trusted or
/// replaced.
pub fn load_or_create(path: &Path) -> Result<Token, Error> {
    let io = |source| Error::TokenIo {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(_) => return read(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let token = Token(hex(&random_bytes().map_err(io)?));
    // Written whole under a private name created with mode 0600, then
    // linked into place: the token file never exists with other
    // permissions or half written, and of two servers starting at once the
    // second finds the first one's file and uses it.
    let staging = path.with_extension(format!("token.{}.new", std::process::id()));
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staging)?;
        file.write_all(token.0.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::hard_link(&staging, path)
    })();
    let _ = std::fs::remove_file(&staging);
    match result {
        Ok(()) => Ok(token),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
        Err(e) => Err(io(e)),
    }
}

fn read(path: &Path) -> Result<Token, Error> {
    let io = |source| Error::TokenIo {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::TokenExposed {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::TokenInvalid {
            path: path.to_path_buf(),
        });
    }
    Ok(Token(text.to_ascii_lowercase()))
}

fn random_bytes() -> std::io::Result<[u8; 32]> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
