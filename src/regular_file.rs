//! Reading a file that someone else may control: regular files only, a bounded number of
//! bytes, and never a wait. vipd reads as root, so a path may name a FIFO (which blocks an
//! `open` until a writer comes), `/dev/zero` (which never ends) or a symbolic link planted
//! by a local user; each is refused with a reason instead of hanging or filling memory.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Nothing at the path.
    #[error("not found")]
    NotFound,
    /// Something that is not a regular file (named by [`kind_name`]).
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// A symbolic link where links are not followed.
    #[error("is a symbolic link, which is not followed here")]
    Symlink,
    /// More bytes than the limit.
    #[error("is larger than {0} bytes")]
    TooLarge(u64),
    /// Any other error from the system.
    #[error("{0}")]
    Io(std::io::Error),
}

/// Names a file type for an error message ("a FIFO", "a directory", ...).
pub fn kind_name(t: std::fs::FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "an unknown kind of file"
    }
}

/// Opens `path` without blocking (`O_NONBLOCK`: a FIFO opens at once instead of waiting
/// for a writer; `O_NOCTTY`: a terminal does not become ours), with `O_NOFOLLOW` unless
/// `follow`, and checks on the open descriptor (`fstat`, so nothing can be swapped in
/// between) that it is a regular file. Regular files ignore `O_NONBLOCK`.
pub fn open_regular(path: &Path, follow: bool) -> Result<File, ReadError> {
    let mut flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ReadError::NotFound,
            _ if e.raw_os_error() == Some(libc::ELOOP) && !follow => ReadError::Symlink,
            _ => ReadError::Io(e),
        })?;
    let t = file.metadata().map_err(ReadError::Io)?.file_type();
    if !t.is_file() {
        return Err(ReadError::NotRegular(kind_name(t)));
    }
    Ok(file)
}

/// Reads at most `limit` bytes of the regular file at `path`; a longer file is refused
/// after reading one byte past the limit, never whole.
pub fn read_regular(path: &Path, limit: u64, follow: bool) -> Result<Vec<u8>, ReadError> {
    let file = open_regular(path, follow)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge(limit));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("vipd-rf-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_fifo_is_refused_at_once() {
        let d = scratch("fifo");
        let f = d.join("p");
        nix::unistd::mkfifo(&f, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let start = Instant::now();
        let r = read_regular(&f, 10, true);
        assert!(matches!(r, Err(ReadError::NotRegular("a FIFO"))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn devices_directories_and_oversized_files_are_refused() {
        let r = read_regular(Path::new("/dev/zero"), 10, true);
        assert!(
            matches!(r, Err(ReadError::NotRegular("a character device"))),
            "{r:?}"
        );
        let d = scratch("big");
        let r = read_regular(&d, 10, true);
        assert!(
            matches!(r, Err(ReadError::NotRegular("a directory"))),
            "{r:?}"
        );
        let f = d.join("f");
        std::fs::write(&f, "0123456789").unwrap();
        assert_eq!(read_regular(&f, 10, true).unwrap(), b"0123456789");
        std::fs::write(&f, "0123456789a").unwrap();
        assert!(matches!(
            read_regular(&f, 10, true),
            Err(ReadError::TooLarge(10))
        ));
        std::fs::remove_dir_all(d).unwrap();
    }

    #[test]
    fn links_are_followed_only_when_asked() {
        let d = scratch("link");
        std::fs::write(d.join("t"), "1").unwrap();
        std::os::unix::fs::symlink(d.join("t"), d.join("l")).unwrap();
        assert!(matches!(
            read_regular(&d.join("l"), 10, false),
            Err(ReadError::Symlink)
        ));
        assert_eq!(read_regular(&d.join("l"), 10, true).unwrap(), b"1");
        assert!(matches!(
            read_regular(&d.join("none"), 10, true),
            Err(ReadError::NotFound)
        ));
        std::fs::remove_dir_all(d).unwrap();
    }
}
