//! Decoder tests on frames built byte by byte (and on the probes' own frames, which real
//! hosts answer in the netns self-tests, so a mistake there cannot hide).

use super::*;
use crate::probe::{arp_request, icmpv6_checksum, internet_checksum, neighbor_solicit};

const A: Mac = Mac([2, 0, 0, 0, 0, 0xa]);
const VMAC: Mac = Mac([0, 0, 0x5e, 0, 1, 51]);

fn ether(dst: Mac, src: Mac, ethertype: u16, payload: &[u8]) -> Vec<u8> {
    [&dst.0[..], &src.0, &ethertype.to_be_bytes(), payload].concat()
}

fn ipv4(proto: u8, ttl: u8, src: [u8; 4], dst: [u8; 4], payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let sum = internet_checksum(&h);
    h[10..12].copy_from_slice(&sum.to_be_bytes());
    [h, payload.to_vec()].concat()
}

#[test]
fn vrrp_v3_ipv4_advert() {
    // version 3, type 1, vrid 51, prio 150, 2 addresses, max adver int 100 cs.
    let vrrp = [
        0x31, 51, 150, 2, 0x00, 100, 0, 0, 10, 0, 0, 100, 10, 0, 0, 101,
    ];
    let f = ether(
        Mac([1, 0, 0x5e, 0, 0, 18]),
        VMAC,
        ETH_P_IP,
        &ipv4(112, 255, [10, 0, 0, 1], [224, 0, 0, 18], &vrrp),
    );
    let a = is_vrrp_advert(&f).expect("an advert");
    assert_eq!(
        (a.version, a.vrid, a.priority, a.interval, a.ttl),
        (3, 51, 150, 100, 255)
    );
    assert_eq!(a.src, IpAddr::from([10, 0, 0, 1]));
    assert_eq!(a.src_mac, VMAC);
    assert_eq!(
        a.addrs,
        vec![IpAddr::from([10, 0, 0, 100]), IpAddr::from([10, 0, 0, 101])]
    );
}

#[test]
fn vrrp_v2_interval_is_the_seconds_byte_and_v3_masks_reserved_bits() {
    let v2 = [0x21, 7, 255, 1, 0, 3, 0, 0, 192, 168, 1, 1];
    let f = ether(
        Mac::BROADCAST,
        A,
        ETH_P_IP,
        &ipv4(112, 255, [192, 168, 1, 2], [224, 0, 0, 18], &v2),
    );
    let a = is_vrrp_advert(&f).unwrap();
    assert_eq!((a.version, a.vrid, a.priority, a.interval), (2, 7, 255, 3));
    let v3 = [0x31, 7, 0, 0, 0xf0, 0x64, 0, 0];
    let f = ether(
        Mac::BROADCAST,
        A,
        ETH_P_IP,
        &ipv4(112, 255, [192, 168, 1, 2], [224, 0, 0, 18], &v3),
    );
    assert_eq!(is_vrrp_advert(&f).unwrap().interval, 100);
}

#[test]
fn not_vrrp() {
    // Wrong protocol, wrong VRRP type, and an address list cut short.
    let body = [0x31, 1, 100, 1, 0, 100, 0, 0, 10, 0, 0, 9];
    let ip = |proto, body: &[u8]| {
        ether(
            Mac::BROADCAST,
            A,
            ETH_P_IP,
            &ipv4(proto, 255, [1; 4], [2; 4], body),
        )
    };
    assert!(is_vrrp_advert(&ip(17, &body)).is_none());
    assert!(is_vrrp_advert(&ip(112, &[0x32, 1, 100, 0, 0, 100, 0, 0])).is_none());
    assert!(is_vrrp_advert(&ip(112, &body[..10])).is_none());
}

#[test]
fn vrrp_v3_ipv6_advert() {
    let vip = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
    let vrrp = [&[0x31u8, 9, 200, 1, 0, 10, 0, 0][..], &vip.octets()].concat();
    let mut ip6 = vec![0x60, 0, 0, 0];
    ip6.extend_from_slice(&(vrrp.len() as u16).to_be_bytes());
    ip6.extend_from_slice(&[112, 255]);
    ip6.extend_from_slice(&Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1).octets());
    ip6.extend_from_slice(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12).octets());
    ip6.extend_from_slice(&vrrp);
    let a = is_vrrp_advert(&ether(
        Mac([0x33, 0x33, 0, 0, 0, 0x12]),
        A,
        ETH_P_IPV6,
        &ip6,
    ))
    .unwrap();
    assert_eq!((a.vrid, a.priority, a.interval), (9, 200, 10));
    assert_eq!(a.addrs, vec![IpAddr::V6(vip)]);
}

#[test]
fn garp_is_an_arp_whose_sender_is_its_target() {
    let ip = Ipv4Addr::new(10, 1, 1, 100);
    let garp = arp_request(VMAC, ip, ip);
    assert_eq!(is_garp(&garp), Some((ip, VMAC)));
    let ordinary = arp_request(A, Ipv4Addr::new(10, 1, 1, 2), ip);
    assert_eq!(is_garp(&ordinary), None);
    let a = arp(&ordinary).unwrap();
    assert_eq!((a.op, a.sha, a.tpa), (1, A, ip));
    assert_eq!(ordinary.len(), 60);
}

#[test]
fn neighbor_solicit_is_well_formed() {
    let src = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0xa);
    let target = Ipv6Addr::new(0xfd00, 1, 2, 0, 0, 0, 0x12, 0x3456);
    let f = neighbor_solicit(A, src, target);
    let e = eth(&f).unwrap();
    assert_eq!(e.dst, Mac([0x33, 0x33, 0xff, 0x12, 0x34, 0x56]));
    let ip = ip(&f).unwrap();
    assert_eq!((ip.proto, ip.ttl), (58, 255));
    assert_eq!(
        ip.dst,
        IpAddr::from(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff12, 0x3456))
    );
    // A correct checksum makes the sum over pseudo-header and message come out as zero.
    let IpAddr::V6(dst) = ip.dst else {
        unreachable!()
    };
    assert_eq!(icmpv6_checksum(src, dst, ip.payload), 0);
}

#[test]
fn neighbor_adverts_solicited_and_unsolicited() {
    let target = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100);
    let na = |flags: u8, with_option: bool| {
        let mut icmp = vec![136, 0, 0, 0, flags, 0, 0, 0];
        icmp.extend_from_slice(&target.octets());
        if with_option {
            icmp.extend_from_slice(&[2, 1]);
            icmp.extend_from_slice(&VMAC.0);
        }
        let mut ip6 = vec![0x60, 0, 0, 0];
        ip6.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
        ip6.extend_from_slice(&[58, 255]);
        ip6.extend_from_slice(&[0xfe; 16]);
        ip6.extend_from_slice(&Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1).octets());
        ip6.extend_from_slice(&icmp);
        ether(Mac([0x33, 0x33, 0, 0, 0, 1]), A, ETH_P_IPV6, &ip6)
    };
    assert_eq!(is_unsolicited_na(&na(0x20, true)), Some((target, VMAC)));
    // Without the option the frame's source MAC is what a neighbour learns.
    assert_eq!(is_unsolicited_na(&na(0x20, false)), Some((target, A)));
    assert_eq!(is_unsolicited_na(&na(0x60, true)), None);
    let solicited = neighbor_advert(&na(0x60, true)).unwrap();
    assert!(solicited.solicited && solicited.override_flag);
}

#[test]
fn icmp_echo_request_and_reply() {
    let echo = |t: u8| [t, 0, 0, 0, 0x12, 0x34, 0, 7];
    let f = ether(
        A,
        VMAC,
        ETH_P_IP,
        &ipv4(1, 64, [10, 0, 0, 100], [10, 0, 0, 200], &echo(0)),
    );
    let e = icmp_echo(&f).unwrap();
    assert_eq!((e.reply, e.id, e.seq, e.src_mac), (true, 0x1234, 7, VMAC));
    let f = ether(
        A,
        VMAC,
        ETH_P_IP,
        &ipv4(1, 64, [10, 0, 0, 100], [10, 0, 0, 200], &echo(8)),
    );
    assert!(!icmp_echo(&f).unwrap().reply);
    let f = ether(
        A,
        VMAC,
        ETH_P_IP,
        &ipv4(1, 64, [10, 0, 0, 100], [10, 0, 0, 200], &echo(3)),
    );
    assert_eq!(icmp_echo(&f), None);
}
