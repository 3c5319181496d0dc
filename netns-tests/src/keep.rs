//! What a lab or an etcd cluster leaves on disk after a failed test: kept for debugging, but
//! bounded, so that a run of failures cannot fill the disk.
//!
//! A kept directory holds logs, configs, certificates, control sockets and packet captures:
//! all grow with the length of the test only, but a long or chatty one (a flood, debug
//! logging) could still leave a large file, so every file is cut to [`FILE_CAP`] bytes.
//! etcd's data directories are not kept at all (see [`crate::etcd`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The most bytes of any one file kept after a failure.
pub(crate) const FILE_CAP: u64 = 8 << 20;

/// Whether a test's files are kept: after a panic (the test failed), or always with
/// `VIPD_KEEP_LOGS` set.
pub(crate) fn keep_files() -> bool {
    std::thread::panicking() || std::env::var_os("VIPD_KEEP_LOGS").is_some()
}

/// Cuts every regular file under `dir` (recursively) to at most `cap` bytes: a packet
/// capture keeps its start (the pcap header and the first frames, which readers accept with
/// a cut-short last frame), anything else keeps its end, where a log says why it failed.
/// Best effort: a file that cannot be cut is reported and left whole.
pub(crate) fn bound_dir(dir: &Path, cap: u64) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            bound_dir(&path, cap);
        } else if kind.is_file() {
            let keep_start = path.extension().is_some_and(|e| e == "pcap");
            if let Err(e) = cut(&path, cap, keep_start) {
                eprintln!("cannot cut kept file {}: {e}", path.display());
            }
        }
    }
}

/// Cuts `path` to its first or last `cap` bytes if it is longer.
fn cut(path: &Path, cap: u64, keep_start: bool) -> std::io::Result<()> {
    let mut f = File::options().read(true).write(true).open(path)?;
    let len = f.metadata()?.len();
    if len <= cap {
        return Ok(());
    }
    if !keep_start {
        let mut end = Vec::with_capacity(cap as usize);
        f.seek(SeekFrom::Start(len - cap))?;
        (&mut f).take(cap).read_to_end(&mut end)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&end)?;
    }
    f.set_len(cap)?;
    eprintln!("kept file {} cut from {len} to {cap} bytes", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bound_dir;

    #[test]
    fn cuts_logs_to_their_end_and_captures_to_their_start() {
        let dir = std::env::temp_dir().join(format!("vipd-keep-test-{}", std::process::id()));
        let sub = dir.join("tls");
        std::fs::create_dir_all(&sub).unwrap();
        let long: Vec<u8> = (0..100u8).collect();
        std::fs::write(dir.join("n0.log"), &long).unwrap();
        std::fs::write(dir.join("lan.pcap"), &long).unwrap();
        std::fs::write(sub.join("ca.pem"), &long).unwrap();
        std::fs::write(dir.join("short.yaml"), b"abc").unwrap();
        bound_dir(&dir, 10);
        let read = |p: &std::path::Path| std::fs::read(p).unwrap();
        assert_eq!(read(&dir.join("n0.log")), (90..100u8).collect::<Vec<_>>());
        assert_eq!(read(&dir.join("lan.pcap")), (0..10u8).collect::<Vec<_>>());
        assert_eq!(read(&sub.join("ca.pem")), (90..100u8).collect::<Vec<_>>());
        assert_eq!(read(&dir.join("short.yaml")), b"abc");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
