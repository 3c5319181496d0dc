//! Socket filters (classic BPF) that split one interface's VRRP traffic between two sockets:
//! the routine adverts of the Masters that Backups here follow, which a Backup may read late
//! (see `routine`), and everything else, read as it comes.
//!
//! Routine means a priority other than 0 from one of the given sources. A resignation
//! (priority 0, RFC 9568 §6.4.2) must be acted on within Skew_Time; an advert from anyone
//! else may be a new Master, or a flood: read late, a flood from a LAN host would fill the
//! queue the followed Master's adverts wait in, and the Backup, finding only the flood at
//! its deadline, would take over. So only the followed Masters' adverts wait, and a queue
//! holds no more than they send.
//!
//! A raw IPv4 socket's filter sees the IP header first (its length in the low nibble of the
//! first byte, the source at offset 12); a raw IPv6 socket's sees the VRRP message, and
//! reaches the IPv6 header's source through the kernel's network-header offset. The
//! priority is the message's third byte. A datagram too short to hold it is not routine.

use std::net::IpAddr;

use libc::{
    BPF_ABS, BPF_B, BPF_IND, BPF_JEQ, BPF_JGE, BPF_JMP, BPF_K, BPF_LD, BPF_LDX, BPF_LEN, BPF_MSH,
    BPF_RET, BPF_W, BPF_X, SKF_NET_OFF,
};
use socket2::SockFilter;

use crate::vrrp::Family;

/// Where the priority is in the VRRP message.
const PRIORITY_AT: u32 = 2;
/// What a filter returns to keep a whole datagram, and to drop it.
const KEEP: u32 = u32::MAX;
const DROP: u32 = 0;
/// The most sources one program names: jumps reach 255 instructions at most, and a socket's
/// Backups follow one Master, or a few while a partition heals. With more, nothing is
/// routine and everything is read as it comes.
pub const MOST_SOURCES: usize = 8;
/// The IPv6 source's offset in the network header.
const V6_SOURCE_AT: i32 = 8;

/// An instruction whose jump targets are labels, resolved by [`assemble`].
enum Op {
    Plain(u16, u32),
    /// Jumps to `yes` if the comparison holds, else to `no`.
    Jump(u16, u32, Target, Target),
}

#[derive(Clone, Copy)]
enum Target {
    Next,
    /// The instruction that returns "routine".
    Routine,
    /// The instruction that returns "not routine".
    Other,
    /// The first instruction of the next source's comparison.
    NextSource,
}

fn code(c: u32) -> u16 {
    c as u16
}

/// The program that keeps routine adverts from `sources` (`routine`), or everything else.
fn program(family: Family, sources: &[IpAddr], routine: bool) -> Vec<SockFilter> {
    let (yes, no) = if routine { (KEEP, DROP) } else { (DROP, KEEP) };
    let sources: Vec<IpAddr> = sources
        .iter()
        .copied()
        .filter(|s| {
            matches!(
                (family, s),
                (Family::V4, IpAddr::V4(_)) | (Family::V6, IpAddr::V6(_))
            )
        })
        .collect();
    if sources.is_empty() || sources.len() > MOST_SOURCES {
        return vec![SockFilter::new(code(BPF_RET | BPF_K), 0, 0, no)];
    }
    let mut ops = Vec::new();
    match family {
        Family::V4 => {
            // X = the IP header's length; A = the datagram's length less three bytes.
            ops.push(Op::Plain(code(BPF_LDX | BPF_B | BPF_MSH), 0));
            ops.push(Op::Plain(code(BPF_LD | BPF_W | BPF_LEN), 0));
            ops.push(Op::Plain(
                code(libc::BPF_ALU | libc::BPF_SUB | BPF_K),
                PRIORITY_AT + 1,
            ));
            ops.push(Op::Jump(
                code(BPF_JMP | BPF_JGE | BPF_X),
                0,
                Target::Next,
                Target::Other,
            ));
            ops.push(Op::Plain(code(BPF_LD | BPF_B | BPF_IND), PRIORITY_AT));
        }
        Family::V6 => {
            ops.push(Op::Plain(code(BPF_LD | BPF_W | BPF_LEN), 0));
            ops.push(Op::Jump(
                code(BPF_JMP | BPF_JGE | BPF_K),
                PRIORITY_AT + 1,
                Target::Next,
                Target::Other,
            ));
            ops.push(Op::Plain(code(BPF_LD | BPF_B | BPF_ABS), PRIORITY_AT));
        }
    }
    ops.push(Op::Jump(
        code(BPF_JMP | BPF_JEQ | BPF_K),
        0,
        Target::Other,
        Target::Next,
    ));
    let mut starts = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        starts.push(ops.len());
        let last = i + 1 == sources.len();
        let miss = if last {
            Target::Other
        } else {
            Target::NextSource
        };
        match source {
            IpAddr::V4(a) => {
                ops.push(Op::Plain(code(BPF_LD | BPF_W | BPF_ABS), 12));
                ops.push(Op::Jump(
                    code(BPF_JMP | BPF_JEQ | BPF_K),
                    u32::from(*a),
                    Target::Routine,
                    miss,
                ));
            }
            IpAddr::V6(a) => {
                let words = a.octets();
                for (w, word) in words.chunks_exact(4).enumerate() {
                    let at = (SKF_NET_OFF + V6_SOURCE_AT + 4 * w as i32) as u32;
                    let word = u32::from_be_bytes(word.try_into().expect("four bytes"));
                    ops.push(Op::Plain(code(BPF_LD | BPF_W | BPF_ABS), at));
                    let hit = if w == 3 {
                        Target::Routine
                    } else {
                        Target::Next
                    };
                    ops.push(Op::Jump(code(BPF_JMP | BPF_JEQ | BPF_K), word, hit, miss));
                }
            }
        }
    }
    assemble(&ops, &starts, yes, no)
}

/// Resolves the labels of `ops` and appends the two returns: "not routine" first, then
/// "routine".
fn assemble(ops: &[Op], starts: &[usize], yes: u32, no: u32) -> Vec<SockFilter> {
    let other = ops.len();
    let routine = other + 1;
    let mut out: Vec<SockFilter> = ops
        .iter()
        .enumerate()
        .map(|(pc, op)| match *op {
            Op::Plain(c, k) => SockFilter::new(c, 0, 0, k),
            Op::Jump(c, k, jt, jf) => {
                let to = |t: Target| -> u8 {
                    let target = match t {
                        Target::Next => pc + 1,
                        Target::Routine => routine,
                        Target::Other => other,
                        Target::NextSource => *starts
                            .iter()
                            .find(|&&s| s > pc)
                            .expect("a next source after a miss that names one"),
                    };
                    u8::try_from(target - (pc + 1)).expect("jumps within 255 instructions")
                };
                SockFilter::new(c, to(jt), to(jf), k)
            }
        })
        .collect();
    out.push(SockFilter::new(code(BPF_RET | BPF_K), 0, 0, no));
    out.push(SockFilter::new(code(BPF_RET | BPF_K), 0, 0, yes));
    out
}

/// Keeps the routine adverts of `sources`: a priority other than 0, from one of them.
pub(super) fn routine(family: Family, sources: &[IpAddr]) -> Vec<SockFilter> {
    program(family, sources, true)
}

/// Keeps everything [`routine`] with the same sources drops.
pub(super) fn others(family: Family, sources: &[IpAddr]) -> Vec<SockFilter> {
    program(family, sources, false)
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
