//! The stream form of a sealed frame, for transports that carry bytes rather than
//! datagrams (TCP): each frame is preceded by its length, a u16 big-endian. A length of 0 is
//! a keepalive: it carries nothing, and tells the reader the stream is alive while the
//! sender (a Backup) has no adverts to send.
//!
//! ```text
//! 0 2  length n (big-endian); 0: keepalive, else MIN_FRAME_LEN..=MAX_FRAME_LEN
//! 2 n  the frame, as `seal` makes it
//! ```
//!
//! A length out of range cannot be resynchronised (the next length would be read from the
//! middle of something), so the reader's answer to it is to close the stream. Pure: the
//! caller reads and writes the bytes.

use super::MIN_FRAME_LEN;

/// The longest frame: a VRRPv3 IPv6 advert with 255 addresses (8 + 255 * 16 bytes) in
/// the envelope (48 + 32), rounded up.
pub const MAX_FRAME_LEN: usize = 4200;

/// A keepalive: the length 0 and nothing after it.
pub const KEEPALIVE: [u8; 2] = [0, 0];

/// `frame` with its length in front.
///
/// # Panics
/// If `frame` is longer than [`MAX_FRAME_LEN`]: `seal` never makes one.
pub fn prefixed(frame: &[u8]) -> Vec<u8> {
    assert!(
        frame.len() <= MAX_FRAME_LEN,
        "a frame longer than any advert"
    );
    let mut out = Vec::with_capacity(2 + frame.len());
    out.extend_from_slice(&(frame.len() as u16).to_be_bytes());
    out.extend_from_slice(frame);
    out
}

/// What a stream held next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// A frame, still to be opened.
    Frame(Vec<u8>),
    /// A keepalive.
    Keepalive,
}

/// A length no frame has: the stream is not a frame stream, or is corrupt, and must be
/// closed. Holds the length read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a frame length of {0} bytes is outside {MIN_FRAME_LEN}..={MAX_FRAME_LEN}")]
pub struct BadLength(pub usize);

/// Bytes left over when the stream ended: a frame cut short.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the stream ended {have} bytes into a {want}-byte piece")]
pub struct Truncated {
    /// Bytes of the unfinished piece received (its length prefix included).
    pub have: usize,
    /// Bytes it would have had (prefix included); 2 when even the prefix was cut.
    pub want: usize,
}

/// Splits a byte stream into pieces. Holds at most one unfinished piece, so a reader's
/// memory per stream is bounded by [`MAX_FRAME_LEN`] whatever the peer sends.
#[derive(Debug, Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes the reader may pass to [`Deframer::push`] now without the buffer
    /// outgrowing one piece: the rest of the current piece, or a length prefix.
    pub fn wants(&self) -> usize {
        match self.declared() {
            Some(n) => 2 + n - self.buf.len(),
            None => 2 - self.buf.len(),
        }
    }

    /// Appends bytes read from the stream; at most [`Deframer::wants`] of them.
    pub fn push(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= self.wants());
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete piece, if one is buffered. An out-of-range length is an error
    /// every time it is asked again: the stream is unusable from there on.
    pub fn piece(&mut self) -> Result<Option<Piece>, BadLength> {
        let Some(n) = self.declared() else {
            return Ok(None);
        };
        if n != 0 && !(MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&n) {
            return Err(BadLength(n));
        }
        if self.buf.len() < 2 + n {
            return Ok(None);
        }
        let frame = self.buf.split_off(2);
        self.buf.clear();
        Ok(Some(match n {
            0 => Piece::Keepalive,
            _ => Piece::Frame(frame),
        }))
    }

    /// The stream ended: what was cut short, if anything.
    pub fn finish(&self) -> Option<Truncated> {
        if self.buf.is_empty() {
            return None;
        }
        let want = self.declared().map_or(2, |n| 2 + n);
        Some(Truncated {
            have: self.buf.len(),
            want,
        })
    }

    /// The length the buffered prefix declares, once both bytes are in.
    fn declared(&self) -> Option<usize> {
        (self.buf.len() >= 2).then(|| usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]])))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(len: usize) -> Vec<u8> {
        (0..len).map(|i| i as u8).collect()
    }

    /// Feeds `bytes` in chunks of at most `chunk`, as a reader would, collecting pieces.
    fn feed(d: &mut Deframer, bytes: &[u8], chunk: usize) -> Result<Vec<Piece>, BadLength> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min(chunk).min(d.wants());
            d.push(&rest[..n]);
            rest = &rest[n..];
            while let Some(p) = d.piece()? {
                out.push(p);
            }
        }
        Ok(out)
    }

    #[test]
    fn frames_and_keepalives_come_out_whole_whatever_the_read_sizes() {
        let (a, b) = (frame(MIN_FRAME_LEN), frame(MAX_FRAME_LEN));
        let mut stream = prefixed(&a);
        stream.extend_from_slice(&KEEPALIVE);
        stream.extend_from_slice(&prefixed(&b));
        for chunk in [1, 2, 3, 7, 100, 5000] {
            let mut d = Deframer::new();
            let got = feed(&mut d, &stream, chunk).unwrap();
            let want = [
                Piece::Frame(a.clone()),
                Piece::Keepalive,
                Piece::Frame(b.clone()),
            ];
            assert_eq!(got, want, "chunk {chunk}");
            assert_eq!(d.finish(), None);
            assert_eq!(d.wants(), 2, "only a prefix is wanted between pieces");
        }
    }

    #[test]
    fn a_length_no_frame_has_is_refused_before_its_bytes_are_read() {
        for n in [
            1,
            MIN_FRAME_LEN - 1,
            MAX_FRAME_LEN + 1,
            usize::from(u16::MAX),
        ] {
            let mut d = Deframer::new();
            let err = feed(&mut d, &(n as u16).to_be_bytes(), 2).unwrap_err();
            assert_eq!(err, BadLength(n));
            assert_eq!(d.piece(), Err(BadLength(n)), "and stays refused");
        }
    }

    #[test]
    fn a_stream_ending_inside_a_piece_is_truncated() {
        let f = prefixed(&frame(MIN_FRAME_LEN + 10));
        let mut d = Deframer::new();
        assert!(feed(&mut d, &f[..f.len() - 1], 64).unwrap().is_empty());
        let want = Truncated {
            have: f.len() - 1,
            want: f.len(),
        };
        assert_eq!(d.finish(), Some(want));
        let mut d = Deframer::new();
        d.push(&f[..1]);
        assert_eq!(d.finish(), Some(Truncated { have: 1, want: 2 }));
    }

    #[test]
    fn the_buffer_never_holds_more_than_one_piece() {
        let mut d = Deframer::new();
        d.push(&(MAX_FRAME_LEN as u16).to_be_bytes());
        assert_eq!(d.wants(), MAX_FRAME_LEN);
        d.push(&frame(MAX_FRAME_LEN));
        assert_eq!(d.wants(), 0);
        assert!(matches!(d.piece(), Ok(Some(Piece::Frame(_)))));
    }
}
