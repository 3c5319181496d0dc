//! Track files (keepalived's `track_file`): an integer in a file that an operator, or a
//! script, writes to force a failover.
//!
//! vipd reads them as root, and the file often sits in a directory other users can write,
//! so what is read is guarded: a regular file only (a FIFO would block the tracker, a
//! device like `/dev/zero` never ends), at most [`TRACK_FILE_LIMIT`] bytes, and a symbolic
//! link only if root owns it or it stays inside its own directory (else a user could make
//! vipd read any root-only file). Content that is not an integer is never echoed into the
//! log, as it may come from such a file.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::regular_file::{self, ReadError};

/// The most of a track file that is read. keepalived's track_file holds one number.
pub const TRACK_FILE_LIMIT: u64 = 4096;

/// What a track file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileValue {
    /// The integer in the file; a missing or empty file reads as 0, so deleting the file
    /// undoes a forced failover.
    Value(i64),
    /// The file exists but cannot be read, is refused, or does not hold an integer.
    Unreadable(String),
}

/// Parses a track file's content: the first whitespace-separated word, as an integer.
/// The error does not quote the content.
pub fn parse_file_value(content: &str) -> Result<i64, String> {
    match content.split_whitespace().next() {
        None => Ok(0),
        Some(w) => w
            .parse()
            .map_err(|_| "does not start with an integer (content not shown)".to_owned()),
    }
}

/// Whether a symbolic link owned by `link_uid`, in directory `dir` (canonical), may be
/// followed to `target` (canonical): root's links anywhere, anyone's within `dir`.
pub fn link_allowed(link_uid: u32, dir: &Path, target: &Path) -> Result<(), String> {
    if link_uid == 0 || (target.starts_with(dir) && target != dir) {
        return Ok(());
    }
    Err(format!(
        "is a symbolic link owned by uid {link_uid} (not root) to {}, outside its directory {}",
        target.display(),
        dir.display()
    ))
}

/// Decides what to open for `path`: itself (not following links), or the checked target of
/// a symbolic link. `Ok(None)`: nothing there (a missing file, or a dangling link).
fn what_to_open(path: &Path) -> Result<Option<PathBuf>, String> {
    let meta = match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(m) => m,
    };
    if !meta.file_type().is_symlink() {
        return Ok(Some(path.to_owned()));
    }
    let target = match std::fs::canonicalize(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(t) => t,
    };
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(parent).map_err(|e| e.to_string())?;
    link_allowed(meta.uid(), &dir, &target)?;
    Ok(Some(target))
}

/// Reads a track file, blocking; see the module documentation for what is refused.
pub fn read_file_blocking(path: &Path) -> FileValue {
    let shown = path.display();
    let open = match what_to_open(path) {
        Ok(None) => return FileValue::Value(0),
        Ok(Some(p)) => p,
        Err(why) => return FileValue::Unreadable(format!("{shown}: refused: {why}")),
    };
    // The target was checked; do not follow a link swapped in since.
    match regular_file::read_regular(&open, TRACK_FILE_LIMIT, false) {
        Err(ReadError::NotFound) => FileValue::Value(0),
        Err(e @ (ReadError::NotRegular(_) | ReadError::Symlink | ReadError::TooLarge(_))) => {
            FileValue::Unreadable(format!("{shown}: refused: {e}"))
        }
        Err(ReadError::Io(e)) => FileValue::Unreadable(format!("{shown}: {e}")),
        Ok(bytes) => match parse_file_value(&String::from_utf8_lossy(&bytes)) {
            Ok(v) => FileValue::Value(v),
            Err(e) => FileValue::Unreadable(format!("{shown}: {e}")),
        },
    }
}

/// Reads a track file off the async threads (a read can still stall on a slow filesystem).
pub async fn read_file(path: &Path) -> FileValue {
    let p = path.to_owned();
    tokio::task::spawn_blocking(move || read_file_blocking(&p))
        .await
        .unwrap_or_else(|e| FileValue::Unreadable(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_parse_like_keepalived() {
        assert_eq!(parse_file_value(""), Ok(0));
        assert_eq!(parse_file_value("  \n"), Ok(0));
        assert_eq!(parse_file_value("5\n"), Ok(5));
        assert_eq!(parse_file_value("-12 trailing"), Ok(-12));
        assert!(parse_file_value("five").is_err());
        assert!(parse_file_value("1.5").is_err());
    }

    #[test]
    fn the_content_of_an_unparsable_file_is_not_quoted() {
        let e = parse_file_value("s3cret-root-password").unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn links_of_other_users_stay_in_their_directory() {
        let dir = Path::new("/var/lib/x");
        assert!(link_allowed(0, dir, Path::new("/etc/shadow")).is_ok());
        assert!(link_allowed(1000, dir, Path::new("/var/lib/x/real")).is_ok());
        assert!(link_allowed(1000, dir, Path::new("/var/lib/x/sub/real")).is_ok());
        let e = link_allowed(1000, dir, Path::new("/etc/shadow")).unwrap_err();
        assert!(e.contains("uid 1000") && e.contains("/etc/shadow"), "{e}");
        assert!(link_allowed(1000, dir, Path::new("/var/lib/xy")).is_err());
        assert!(link_allowed(1000, dir, Path::new("/var/lib")).is_err());
        assert!(link_allowed(1000, dir, dir).is_err());
    }
}
