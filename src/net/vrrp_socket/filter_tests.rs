use std::net::{Ipv4Addr, Ipv6Addr};

use super::*;

/// A datagram as a raw socket's filter sees it: `data` from its start, and the network
/// header the kernel's negative offsets reach.
struct Seen<'a> {
    data: &'a [u8],
    net: &'a [u8],
}

/// Runs `prog` over `seen` as the kernel's interpreter would, for the instructions these
/// programs use; an out-of-bounds load ends the program with 0, as in the kernel.
fn run(prog: &[SockFilter], seen: &Seen<'_>) -> u32 {
    // SAFETY: `SockFilter` is `repr(transparent)` over `libc::sock_filter`.
    let prog: &[libc::sock_filter] =
        unsafe { std::slice::from_raw_parts(prog.as_ptr().cast(), prog.len()) };
    let load = |at: u32, len: usize| -> Option<u32> {
        let (from, at) = if at >= SKF_NET_OFF as u32 {
            (seen.net, (at - SKF_NET_OFF as u32) as usize)
        } else {
            (seen.data, at as usize)
        };
        let bytes = from.get(at..at + len)?;
        Some(bytes.iter().fold(0, |a, b| (a << 8) | u32::from(*b)))
    };
    let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
    loop {
        let i = prog[pc];
        pc += 1;
        let c = u32::from(i.code);
        let jump = |yes: bool| usize::from(if yes { i.jt } else { i.jf });
        if c == BPF_LDX | BPF_B | BPF_MSH {
            match load(i.k, 1) {
                Some(b) => x = (b & 0xf) * 4,
                None => return 0,
            }
        } else if c == BPF_LD | BPF_W | BPF_LEN {
            a = seen.data.len() as u32;
        } else if c == libc::BPF_ALU | libc::BPF_SUB | BPF_K {
            a = a.wrapping_sub(i.k);
        } else if c == BPF_LD | BPF_B | BPF_IND {
            match load(x + i.k, 1) {
                Some(b) => a = b,
                None => return 0,
            }
        } else if c == BPF_LD | BPF_B | BPF_ABS || c == BPF_LD | BPF_W | BPF_ABS {
            let len = if c == BPF_LD | BPF_B | BPF_ABS { 1 } else { 4 };
            match load(i.k, len) {
                Some(v) => a = v,
                None => return 0,
            }
        } else if c == BPF_JMP | BPF_JGE | BPF_X {
            pc += jump(a >= x);
        } else if c == BPF_JMP | BPF_JGE | BPF_K {
            pc += jump(a >= i.k);
        } else if c == BPF_JMP | BPF_JEQ | BPF_K {
            pc += jump(a == i.k);
        } else if c == BPF_RET | BPF_K {
            return i.k;
        } else {
            panic!("instruction {c:#x} not modelled");
        }
    }
}

const MASTER4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const OTHER4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 9);
const MASTER6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const OTHER6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 1, 1);

fn ipv4(src: Ipv4Addr, ihl_words: u8, vrrp: &[u8]) -> Vec<u8> {
    let mut pkt = vec![0u8; usize::from(ihl_words) * 4];
    pkt[0] = 0x40 | ihl_words;
    pkt[12..16].copy_from_slice(&src.octets());
    pkt.extend_from_slice(vrrp);
    pkt
}

fn ipv6_header(src: Ipv6Addr) -> Vec<u8> {
    let mut h = vec![0u8; 40];
    h[0] = 0x60;
    h[8..24].copy_from_slice(&src.octets());
    h
}

/// Whether `seen` goes to the routine socket, checking it goes to exactly one.
fn routine_for(family: Family, sources: &[IpAddr], seen: &Seen<'_>) -> bool {
    let to_routine = run(&routine(family, sources), seen) == KEEP;
    let to_others = run(&others(family, sources), seen) == KEEP;
    assert_ne!(to_routine, to_others, "one socket");
    to_routine
}

const ADVERTS: [&[u8]; 5] = [
    &[0x31, 51, 0, 1, 0, 100, 0, 0],
    &[0x31, 51, 100, 1, 0, 100, 0, 0],
    &[0x31, 51, 255, 1],
    &[0x31, 51],
    &[],
];

#[test]
fn only_a_followed_masters_prioritised_adverts_are_routine_in_ipv4() {
    let sources = [
        IpAddr::V4(OTHER4.to_bits().wrapping_add(1).into()),
        IpAddr::V4(MASTER4),
    ];
    for vrrp in ADVERTS {
        let prioritised = vrrp.get(2).is_some_and(|p| *p != 0);
        for ihl in [5, 6] {
            for (src, followed) in [(MASTER4, true), (OTHER4, false)] {
                let data = ipv4(src, ihl, vrrp);
                let seen = Seen {
                    data: &data,
                    net: &data,
                };
                assert_eq!(
                    routine_for(Family::V4, &sources, &seen),
                    prioritised && followed,
                    "{src} {vrrp:?} ihl {ihl}"
                );
            }
        }
    }
}

#[test]
fn only_a_followed_masters_prioritised_adverts_are_routine_in_ipv6() {
    let sources = [IpAddr::V6(MASTER6), IpAddr::V6(Ipv6Addr::LOCALHOST)];
    for vrrp in ADVERTS {
        let prioritised = vrrp.get(2).is_some_and(|p| *p != 0);
        for (src, followed) in [(MASTER6, true), (OTHER6, false)] {
            let net = ipv6_header(src);
            let seen = Seen {
                data: vrrp,
                net: &net,
            };
            assert_eq!(
                routine_for(Family::V6, &sources, &seen),
                prioritised && followed,
                "{src} {vrrp:?}"
            );
        }
    }
}

#[test]
fn with_no_source_or_too_many_nothing_is_routine() {
    let data = ipv4(MASTER4, 5, ADVERTS[1]);
    let seen = Seen {
        data: &data,
        net: &data,
    };
    assert!(!routine_for(Family::V4, &[], &seen));
    let many: Vec<IpAddr> = (0..=MOST_SOURCES as u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)))
        .collect();
    assert!(!routine_for(Family::V4, &many, &seen));
    assert!(routine_for(Family::V4, &many[..MOST_SOURCES], &seen));
    // The other family's sources name nobody here.
    assert!(!routine_for(Family::V4, &[IpAddr::V6(MASTER6)], &seen));
}

#[test]
fn an_ipv4_header_with_options_moves_the_priority() {
    // Priority 0 at the first byte after a 20-byte header, but the header is 24 bytes:
    // what follows the options is what counts.
    let mut data = ipv4(MASTER4, 6, &[0x31, 51, 7, 1]);
    data[22] = 0;
    let seen = Seen {
        data: &data,
        net: &data,
    };
    assert!(routine_for(Family::V4, &[IpAddr::V4(MASTER4)], &seen));
}
