//! The stream form of sealed frames (see `stream`) read from a line that can lose or garble
//! bytes and cannot be reset (a serial line): where a TCP reader closes the connection on
//! a length no frame has, this reader slides forward a byte at a time until a plausible
//! length is followed by the frame's magic, and carries on from there. A frame cut short
//! is told by silence: the writer sends a frame in one go, so a gap inside one means the
//! rest is not coming (the caller times the gap and calls [`LineDeframer::cut`]).
//!
//! What it finds is then judged like any frame (MAC, replay); the sliding only decides
//! where frames start. Pure: the caller reads the bytes and the clock.

use super::MAGIC;
use super::MIN_FRAME_LEN;
use super::stream::{MAX_FRAME_LEN, Piece};

/// What the line held next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinePiece {
    /// A frame or a keepalive, as on a stream.
    Piece(Piece),
    /// Bytes that start no frame were skipped until one started (or the buffer ran dry):
    /// one of these per stretch of garbage, with its length so far.
    Skipped(usize),
}

/// Splits a line's bytes into pieces, resynchronising after garbage. Holds at most one
/// unfinished piece, like the stream's deframer.
#[derive(Debug, Default)]
pub struct LineDeframer {
    buf: Vec<u8>,
    /// Bytes skipped since the last piece, not yet reported.
    skipped: usize,
}

impl LineDeframer {
    /// An empty deframer.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many bytes the reader may pass to [`LineDeframer::push`] now: up to the end of
    /// the length prefix, of the magic, or of the piece.
    pub fn wants(&self) -> usize {
        let have = self.buf.len();
        match self.declared() {
            None => 2 - have,
            Some(0) => 0,
            Some(n) if have < 2 + MAGIC.len() => 2 + MAGIC.len().min(n) - have,
            Some(n) => 2 + n - have,
        }
    }

    /// Appends bytes read from the line; at most [`LineDeframer::wants`] of them.
    pub fn push(&mut self, bytes: &[u8]) {
        debug_assert!(bytes.len() <= self.wants());
        self.buf.extend_from_slice(bytes);
    }

    /// The next piece, if one is complete; skipped garbage is reported first, once per
    /// stretch, when a piece is found after it.
    pub fn piece(&mut self) -> Option<LinePiece> {
        loop {
            let n = self.declared()?;
            let plausible = n == 0 || (MIN_FRAME_LEN..=MAX_FRAME_LEN).contains(&n);
            let magic_seen = self.buf.len() >= 2 + MAGIC.len();
            if !plausible || (n != 0 && magic_seen && self.buf[2..2 + MAGIC.len()] != MAGIC) {
                // Not the start of a frame: try one byte later.
                self.buf.remove(0);
                self.skipped += 1;
                continue;
            }
            if self.buf.len() < 2 + n {
                return None;
            }
            if self.skipped > 0 {
                // Reported before the piece; the piece comes on the next call.
                return Some(LinePiece::Skipped(std::mem::take(&mut self.skipped)));
            }
            let frame = self.buf.split_off(2);
            self.buf.clear();
            return Some(LinePiece::Piece(match n {
                0 => Piece::Keepalive,
                _ => Piece::Frame(frame),
            }));
        }
    }

    /// The line went quiet: whatever is buffered will not be finished. Returns how many
    /// bytes were dropped, counting skipped ones (0: nothing was pending).
    pub fn cut(&mut self) -> usize {
        let dropped = self.buf.len() + std::mem::take(&mut self.skipped);
        self.buf.clear();
        dropped
    }

    /// Whether a piece is partly in (a gap now means it was cut short).
    pub fn pending(&self) -> bool {
        !self.buf.is_empty() || self.skipped > 0
    }

    fn declared(&self) -> Option<usize> {
        (self.buf.len() >= 2).then(|| usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]])))
    }
}

#[cfg(test)]
mod tests {
    use super::super::stream::{KEEPALIVE, prefixed};
    use super::*;

    /// A frame-shaped body of `len` bytes: the magic, then filler.
    fn frame(len: usize, fill: u8) -> Vec<u8> {
        let mut f = MAGIC.to_vec();
        f.resize(len, fill);
        f
    }

    /// Feeds `bytes` in chunks of at most `chunk`, as a reader would.
    fn feed(d: &mut LineDeframer, bytes: &[u8], chunk: usize) -> Vec<LinePiece> {
        let mut out = Vec::new();
        let mut rest = bytes;
        loop {
            while let Some(p) = d.piece() {
                out.push(p);
            }
            if rest.is_empty() {
                return out;
            }
            let n = rest.len().min(chunk).min(d.wants().max(1));
            d.push(&rest[..n]);
            rest = &rest[n..];
        }
    }

    #[test]
    fn clean_frames_and_keepalives_come_out_whatever_the_read_sizes() {
        let (a, b) = (frame(MIN_FRAME_LEN, 1), frame(MAX_FRAME_LEN, 2));
        let mut line = prefixed(&a);
        line.extend_from_slice(&KEEPALIVE);
        line.extend_from_slice(&prefixed(&b));
        for chunk in [1, 2, 5, 64, 5000] {
            let mut d = LineDeframer::new();
            let want = [
                LinePiece::Piece(Piece::Frame(a.clone())),
                LinePiece::Piece(Piece::Keepalive),
                LinePiece::Piece(Piece::Frame(b.clone())),
            ];
            assert_eq!(feed(&mut d, &line, chunk), want, "chunk {chunk}");
            assert!(!d.pending());
        }
    }

    #[test]
    fn garbage_before_a_frame_is_skipped_and_reported_once() {
        let a = frame(MIN_FRAME_LEN + 3, 7);
        // Noise, including a plausible length without the magic after it.
        let mut line = vec![0xff, 0x13, 0x00, 0x60, b'X', b'Y', b'Z', b'W', 0x42];
        let noise = line.len();
        line.extend_from_slice(&prefixed(&a));
        let mut d = LineDeframer::new();
        let got = feed(&mut d, &line, 3);
        assert_eq!(
            got,
            [LinePiece::Skipped(noise), LinePiece::Piece(Piece::Frame(a))]
        );
    }

    #[test]
    fn a_frame_that_lost_bytes_costs_itself_and_the_next_is_found_again() {
        let (a, b) = (frame(MIN_FRAME_LEN + 20, 3), frame(MIN_FRAME_LEN + 40, 4));
        let mut cut = prefixed(&a);
        cut.drain(30..50); // 20 bytes lost in the middle of a
        let mut line = cut;
        line.extend_from_slice(&prefixed(&b));
        line.extend_from_slice(&prefixed(&b));
        let mut d = LineDeframer::new();
        let got = feed(&mut d, &line, 16);
        // a's prefix swallows the start of the first b: a garbled frame (its MAC will
        // fail), then garbage up to the second b, which comes out whole.
        assert!(matches!(&got[0], LinePiece::Piece(Piece::Frame(f)) if f.len() == a.len()));
        assert!(matches!(got[1], LinePiece::Skipped(_)));
        assert_eq!(got[2], LinePiece::Piece(Piece::Frame(b)));
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn a_cut_drops_the_unfinished_piece() {
        let a = frame(MIN_FRAME_LEN, 5);
        let p = prefixed(&a);
        let mut d = LineDeframer::new();
        assert!(feed(&mut d, &p[..p.len() - 10], 64).is_empty());
        assert!(d.pending());
        assert_eq!(d.cut(), p.len() - 10);
        assert!(!d.pending());
        assert_eq!(feed(&mut d, &p, 64), [LinePiece::Piece(Piece::Frame(a))]);
    }

    #[test]
    fn the_buffer_never_holds_more_than_one_piece() {
        let mut d = LineDeframer::new();
        let p = prefixed(&frame(MAX_FRAME_LEN, 9));
        let mut fed = 0;
        while fed < p.len() {
            let n = d.wants();
            assert!(n > 0 && d.buf.len() + n <= 2 + MAX_FRAME_LEN);
            d.push(&p[fed..fed + n]);
            fed += n;
        }
        assert!(matches!(d.piece(), Some(LinePiece::Piece(Piece::Frame(_)))));
    }
}
