//! Reading a UDP channel's key file.
//!
//! The key authenticates every heartbeat: whoever reads it can forge adverts and take the
//! VIP. So a file that others may read or write is refused outright, as ssh refuses a
//! private key with loose permissions, rather than used with a warning nobody reads.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::vrrp::udp_frame::{FrameKey, KeyError, MIN_KEY_LEN};

/// The most a key file may hold; anything longer is not a key someone meant to write.
const MAX_KEY_FILE: u64 = 4096;

/// Why a key file was not used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be opened or read.
    #[error("key file {}: {source}", path.display())]
    Io {
        /// The key file.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A directory, device, FIFO or socket rather than a regular file.
    #[error("key file {} is not a regular file", path.display())]
    NotRegular {
        /// The key file.
        path: PathBuf,
    },
    /// Others (neither owner nor group) may read or write it.
    #[error(
        "key file {} has mode {mode:04o}, so other users can read or change the key; \
         fix it with: chmod 600 {}",
        path.display(),
        path.display()
    )]
    Exposed {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Fewer than [`MIN_KEY_LEN`] bytes after the trailing newline is removed.
    #[error(
        "key file {} holds {len} bytes of key; at least {MIN_KEY_LEN} are required",
        path.display()
    )]
    TooShort {
        /// The key file.
        path: PathBuf,
        /// The key's length.
        len: usize,
    },
    /// Larger than `MAX_KEY_FILE` bytes: probably the wrong file.
    #[error(
        "key file {} is {size} bytes; a key file holds at most {MAX_KEY_FILE}",
        path.display()
    )]
    TooLarge {
        /// The key file.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
}

/// Loads a channel key: a regular file that others cannot read or write, whose content
/// (minus one trailing newline, as editors and `echo` add) is the key.
pub fn load_key(path: &Path) -> Result<FrameKey, KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_owned(),
        source,
    };
    // O_NONBLOCK so that a FIFO given by mistake is refused below instead of hanging the
    // reload; the checks use the opened file's own metadata, so the file cannot be swapped
    // between the check and the read.
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(KeyFileError::NotRegular {
            path: path.to_owned(),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o007 != 0 {
        return Err(KeyFileError::Exposed {
            path: path.to_owned(),
            mode,
        });
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyFileError::TooLarge {
            path: path.to_owned(),
            size: meta.len(),
        });
    }
    let mut bytes = Vec::new();
    file.by_ref()
        .take(MAX_KEY_FILE)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    FrameKey::new(bytes).map_err(|e| match e {
        KeyError::TooShort { len } => KeyFileError::TooShort {
            path: path.to_owned(),
            len,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::net::Ipv4Addr;
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::vrrp::udp_frame::{Stamper, seal};

    /// A directory of its own per test, removed when the test ends, pass or fail.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("vipd-keys-{}-{n}", std::process::id()));
            fs::create_dir(&dir).unwrap();
            TempDir(dir)
        }

        fn file(&self, name: &str, content: &[u8], mode: u32) -> PathBuf {
            let path = self.0.join(name);
            fs::write(&path, content).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// Two keys are the same if they seal the same frame identically.
    fn same_key(a: &FrameKey, raw: &[u8]) -> bool {
        let b = FrameKey::new(raw.to_vec()).unwrap();
        let origin = Ipv4Addr::new(10, 0, 0, 1).into();
        let stamp = Stamper::new(1).next(std::time::Duration::ZERO);
        seal(a, stamp, origin, b"payload") == seal(&b, stamp, origin, b"payload")
    }

    #[test]
    fn one_trailing_newline_is_not_part_of_the_key() {
        let dir = TempDir::new();
        let key = load_key(&dir.file("k", b"0123456789abcdef\n", 0o600)).unwrap();
        assert!(same_key(&key, b"0123456789abcdef"));
        assert!(!same_key(&key, b"0123456789abcdef\n"));

        let key = load_key(&dir.file("k2", b"0123456789abcdef\n\n", 0o600)).unwrap();
        assert!(same_key(&key, b"0123456789abcdef\n"));

        let key = load_key(&dir.file("k3", b"0123456789abcdefXYZ", 0o400)).unwrap();
        assert!(same_key(&key, b"0123456789abcdefXYZ"));
    }

    #[test]
    fn group_access_is_allowed_and_others_access_is_refused() {
        let dir = TempDir::new();
        assert!(load_key(&dir.file("g", b"0123456789abcdef", 0o640)).is_ok());
        for mode in [0o604, 0o602, 0o601, 0o644, 0o666] {
            let path = dir.file(&format!("o{mode:o}"), b"0123456789abcdef", mode);
            let err = load_key(&path).unwrap_err();
            assert!(
                matches!(err, KeyFileError::Exposed { mode: m, .. } if m == mode),
                "{err:?}"
            );
            let text = err.to_string();
            let shown = path.display().to_string();
            assert!(
                text.contains(&format!("{shown} has mode 0{mode:o}")),
                "{text}"
            );
            assert!(text.ends_with(&format!("chmod 600 {shown}")), "{text}");
        }
    }

    #[test]
    fn a_short_key_names_the_file_and_the_minimum() {
        let dir = TempDir::new();
        let path = dir.file("short", b"0123456789abcde\n", 0o600);
        let err = load_key(&path).unwrap_err();
        assert!(
            matches!(err, KeyFileError::TooShort { len: 15, .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("at least 16"), "{text}");
        assert!(matches!(
            load_key(&dir.file("empty", b"", 0o600)),
            Err(KeyFileError::TooShort { len: 0, .. })
        ));
    }

    #[test]
    fn only_regular_files_of_sane_size_are_read() {
        let dir = TempDir::new();
        let sub = dir.0.join("sub");
        fs::create_dir(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o700)).unwrap();
        assert!(matches!(
            load_key(&sub),
            Err(KeyFileError::NotRegular { .. })
        ));

        // Opening a FIFO for reading would block until a writer came; it must not.
        let fifo = dir.0.join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert!(matches!(
            load_key(&fifo),
            Err(KeyFileError::NotRegular { .. })
        ));

        let big = dir.file("big", &[b'k'; MAX_KEY_FILE as usize + 1], 0o600);
        assert!(matches!(load_key(&big), Err(KeyFileError::TooLarge { .. })));
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = TempDir::new();
        let path = dir.0.join("absent");
        let err = load_key(&path).unwrap_err();
        assert!(matches!(err, KeyFileError::Io { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with(&format!("key file {}: ", path.display())),
            "{err}"
        );
    }

    #[test]
    fn the_error_does_not_show_the_key() {
        let dir = TempDir::new();
        let err = load_key(&dir.file("leak", b"secret-key-material!", 0o644)).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("secret"), "{err:?}");
    }
}
