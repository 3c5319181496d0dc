//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP may put in front of it.

use std::net::IpAddr;

use super::PROTOCOL;

/// A 16-bit ones'-complement sum being accumulated.
#[derive(Clone, Copy, Default)]
pub(super) struct Sum(u64);

impl Sum {
    /// Adds bytes as big-endian 16-bit words; an odd last byte is padded with zero.
    pub(super) fn bytes(mut self, bytes: &[u8]) -> Self {
        let mut words = bytes.chunks_exact(2);
        for w in &mut words {
            self.0 += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = words.remainder() {
            self.0 += u64::from(*last) << 8;
        }
        self
    }

    /// Adds the pseudo-header of RFC 9568 §5.2.8 / RFC 8200 §8.1 for a message of `len`
    /// bytes. Mixed families never reach here: callers check first.
    pub(super) fn pseudo_header(self, src: IpAddr, dst: IpAddr, len: usize) -> Self {
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => self
                .bytes(&s.octets())
                .bytes(&d.octets())
                .bytes(&[0, PROTOCOL])
                // VRRP messages are at most a few kilobytes, so the length fits 16 bits.
                .bytes(&(len as u16).to_be_bytes()),
            (IpAddr::V6(s), IpAddr::V6(d)) => self
                .bytes(&s.octets())
                .bytes(&d.octets())
                .bytes(&(len as u32).to_be_bytes())
                .bytes(&[0, 0, 0, PROTOCOL]),
            _ => self,
        }
    }

    fn folded(self) -> u16 {
        let mut s = self.0;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum to store, given a sum taken with the checksum field zeroed.
    pub(super) fn checksum(self) -> u16 {
        !self.folded()
    }

    /// Whether a sum taken over data including its checksum field verifies.
    pub(super) fn verifies(self) -> bool {
        self.folded() == 0xffff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2, checksum 220d.
        let sum = Sum::default().bytes(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(sum.folded(), 0xddf2);
        assert_eq!(sum.checksum(), 0x220d);
        assert!(sum.bytes(&[0x22, 0x0d]).verifies());
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(Sum::default().bytes(&[0x12]).folded(), 0x1200);
    }
}
