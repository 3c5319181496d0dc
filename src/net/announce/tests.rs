use super::*;

const MAC: MacAddr = MacAddr(0x02, 0x11, 0x22, 0x33, 0x44, 0x55);

/// One's-complement sum written out here independently of pnet, to check its checksum.
fn ones_complement_sum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let word = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(word);
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn garp_is_a_broadcast_request_with_sender_and_target_the_vip() {
    let f = garp_frame(MAC, Ipv4Addr::new(10, 0, 0, 100));
    #[rustfmt::skip]
    let expected: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff,       // dst: broadcast
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,       // src
        0x08, 0x06,                               // ARP
        0x00, 0x01, 0x08, 0x00, 6, 4,             // Ethernet / IPv4
        0x00, 0x01,                               // request
        0x02, 0x11, 0x22, 0x33, 0x44, 0x55,       // sender MAC
        10, 0, 0, 100,                            // sender IP = VIP
        0, 0, 0, 0, 0, 0,                         // target MAC zero
        10, 0, 0, 100,                            // target IP = VIP
    ];
    assert_eq!(f, expected);
}

#[test]
fn na_has_the_addresses_flags_option_and_hop_limit() {
    let ll: Ipv6Addr = "fe80::11:22ff:fe33:4455".parse().unwrap();
    let vip: Ipv6Addr = "2001:db8::100".parse().unwrap();
    let f = unsolicited_na_frame(MAC, ll, vip, false);
    assert_eq!(&f[0..6], &[0x33, 0x33, 0, 0, 0, 1]);
    assert_eq!(&f[6..12], &MAC.octets());
    assert_eq!(&f[12..14], &[0x86, 0xdd]);
    let ip = &f[14..54];
    assert_eq!(ip[0] >> 4, 6);
    assert_eq!(u16::from_be_bytes([ip[4], ip[5]]), 32, "payload length");
    assert_eq!(ip[6], 58, "next header ICMPv6");
    assert_eq!(ip[7], 255, "hop limit");
    assert_eq!(&ip[8..24], &ll.octets());
    assert_eq!(&ip[24..40], &ALL_NODES.octets());
    let icmp = &f[54..];
    assert_eq!(icmp[0], 136);
    assert_eq!(icmp[1], 0);
    assert_eq!(icmp[4], 0x20, "Override only");
    assert_eq!(&icmp[5..8], &[0, 0, 0]);
    assert_eq!(&icmp[8..24], &vip.octets());
    assert_eq!(&icmp[24..26], &[2, 1], "target link-layer address option");
    assert_eq!(&icmp[26..32], &MAC.octets());
}

#[test]
fn na_checksum_verifies_over_the_pseudo_header() {
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    let vip: Ipv6Addr = "fd00::abcd".parse().unwrap();
    let f = unsolicited_na_frame(MAC, ll, vip, true);
    let icmp = &f[54..];
    assert_ne!(&icmp[2..4], &[0, 0]);
    let len = (icmp.len() as u32).to_be_bytes();
    let pseudo_tail = [0, 0, 0, 58];
    let total = ones_complement_sum(&[&ll.octets(), &ALL_NODES.octets(), &len, &pseudo_tail, icmp]);
    assert_eq!(total, 0xffff, "a correct checksum makes the sum all ones");
    assert_eq!(icmp[4], 0xa0, "Router and Override");
}

#[test]
fn an_ipv6_vip_needs_a_link_local_source_and_kinds_follow_the_family() {
    let ll: Ipv6Addr = "fe80::1".parse().unwrap();
    let v4 = Ipv4Addr::new(192, 0, 2, 1);
    let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let vips = [IpAddr::V4(v4), IpAddr::V6(v6)];
    assert!(check_sources(&vips, Some(ll)).is_ok());
    let err = check_sources(&vips, None).unwrap_err();
    assert!(err.to_string().contains("2001:db8::1"), "{err}");
    assert!(check_sources(&[IpAddr::V4(v4)], None).is_ok());
    assert_eq!(kind_of(IpAddr::V4(v4)), Kind::Arp);
    assert_eq!(kind_of(IpAddr::V6(v6)), Kind::Na);
}
