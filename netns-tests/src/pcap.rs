//! Reading the classic pcap files tcpdump writes with `-w`.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{HarnessError, Result};

/// One captured frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Capture time in seconds since the Unix epoch (microsecond or nanosecond resolution).
    pub ts: f64,
    /// The bytes captured, starting at the Ethernet header.
    pub data: Vec<u8>,
}

impl Frame {
    /// The capture time as a `SystemTime`.
    pub fn time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(self.ts)
    }
}

/// LINKTYPE_ETHERNET: the only link type a capture on a lab interface produces.
const LINKTYPE_ETHERNET: u32 = 1;

/// Reads every frame of a pcap file. A record cut short at the end (tcpdump killed mid-write)
/// ends the list instead of failing it.
pub fn read(path: &Path) -> Result<Vec<Frame>> {
    let bytes =
        std::fs::read(path).map_err(|e| HarnessError::io(format!("read {}", path.display()), e))?;
    parse(&bytes).map_err(|detail| HarnessError::parse(format!("pcap {}", path.display()), detail))
}

/// Parses the contents of a pcap file.
pub fn parse(bytes: &[u8]) -> std::result::Result<Vec<Frame>, String> {
    let header = bytes.get(..24).ok_or("shorter than a pcap header")?;
    let magic = <[u8; 4]>::try_from(&header[..4]).expect("4 bytes");
    // The magic number says both the byte order and the timestamp resolution.
    let (big_endian, frac_per_sec) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, 1e6),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, 1e6),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, 1e9),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, 1e9),
        _ => return Err(format!("bad magic {magic:02x?} (pcapng is not supported)")),
    };
    let u32_at = |b: &[u8], at: usize| {
        let w = <[u8; 4]>::try_from(&b[at..at + 4]).expect("4 bytes");
        if big_endian {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    let linktype = u32_at(header, 20) & 0x0fff_ffff;
    if linktype != LINKTYPE_ETHERNET {
        return Err(format!("link type {linktype}, expected Ethernet"));
    }
    let mut frames = Vec::new();
    let mut rest = &bytes[24..];
    while rest.len() >= 16 {
        let len = u32_at(rest, 8) as usize;
        let Some(data) = rest.get(16..16 + len) else {
            break;
        };
        let ts = f64::from(u32_at(rest, 0)) + f64::from(u32_at(rest, 4)) / frac_per_sec;
        frames.push(Frame {
            ts,
            data: data.to_vec(),
        });
        rest = &rest[16 + len..];
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file as tcpdump would write it, in either byte order and resolution.
    fn file(big_endian: bool, nanos: bool, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w = |v: u32| {
            if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut f = Vec::new();
        f.extend_from_slice(&w(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
        f.extend_from_slice(&[0; 12]);
        f.extend_from_slice(&w(262_144));
        f.extend_from_slice(&w(LINKTYPE_ETHERNET));
        for (sec, frac, data) in records {
            for v in [*sec, *frac, data.len() as u32, data.len() as u32] {
                f.extend_from_slice(&w(v));
            }
            f.extend_from_slice(data);
        }
        f
    }

    #[test]
    fn reads_every_variant() {
        for (be, nanos, frac) in [
            (false, false, 250_000),
            (true, false, 250_000),
            (false, true, 250_000_000),
            (true, true, 250_000_000),
        ] {
            let bytes = file(be, nanos, &[(100, frac, &[1, 2, 3]), (101, 0, &[4])]);
            let frames = parse(&bytes).unwrap();
            assert_eq!(
                frames,
                vec![
                    Frame {
                        ts: 100.25,
                        data: vec![1, 2, 3]
                    },
                    Frame {
                        ts: 101.0,
                        data: vec![4]
                    }
                ]
            );
        }
    }

    #[test]
    fn truncated_tail_is_dropped_and_bad_headers_rejected() {
        let mut bytes = file(false, false, &[(1, 0, &[9; 20])]);
        bytes.truncate(bytes.len() - 5);
        assert_eq!(parse(&bytes).unwrap(), vec![]);
        assert!(parse(&[0; 10]).is_err());
        let mut linux_sll = file(false, false, &[]);
        linux_sll[20] = 113;
        assert!(parse(&linux_sll).unwrap_err().contains("link type 113"));
        assert!(parse(&[0x0a, 0x0d, 0x0d, 0x0a].repeat(6)).is_err());
    }
}
