//! Ethernet MAC addresses, compared as bytes and printed the way `ip` prints them.

use std::fmt;
use std::str::FromStr;

use crate::error::HarnessError;

/// A 48-bit Ethernet address. `Display` gives lowercase `aa:bb:cc:dd:ee:ff`, like `ip link`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// The broadcast address.
    pub const BROADCAST: Mac = Mac([0xff; 6]);

    /// Reads a MAC from the first 6 bytes of `b`, if there are 6.
    pub fn from_slice(b: &[u8]) -> Option<Mac> {
        Some(Mac(b.get(..6)?.try_into().ok()?))
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Mac {
    type Err = HarnessError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || HarnessError::parse("MAC address", s.to_string());
        let mut out = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut out {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || p.len() > 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_like_ip() {
        let m: Mac = "00:00:5E:00:01:33".parse().unwrap();
        assert_eq!(m.0, [0, 0, 0x5e, 0, 1, 0x33]);
        assert_eq!(m.to_string(), "00:00:5e:00:01:33");
    }

    #[test]
    fn rejects_malformed() {
        for s in [
            "",
            "00:00:5e:00:01",
            "00:00:5e:00:01:33:44",
            "0g:00:00:00:00:00",
            "000:0:0:0:0:0",
        ] {
            assert!(s.parse::<Mac>().is_err(), "{s:?} accepted");
        }
    }
}
