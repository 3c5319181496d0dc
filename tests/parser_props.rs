//! What a neighbour sends reaches the VRRP packet parser and the UDP frame opener first:
//! on any bytes they must return, never panic, and allocate no more than the input's size
//! warrants. Allocation is measured by an allocator that counts per thread, installed in
//! this test binary only.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::*;
use vipd::vrrp::packet::{Advert, Auth, emit, emit_ipv4, parse_ipv4, parse_vrrp};
use vipd::vrrp::timing::Centis;
use vipd::vrrp::udp_frame::{FrameKey, Stamper, open, seal, vrid_hint};
use vipd::vrrp::{V3Checksum, Version};

thread_local! {
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, adding every allocation's size to the calling thread's count.
struct Counting;

fn count(bytes: usize) {
    // During thread teardown the counter may be gone; those bytes are nobody's test.
    let _ = ALLOCATED.try_with(|a| a.set(a.get().saturating_add(bytes)));
}

// SAFETY: every call goes to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What `f` returns and the bytes it allocated on this thread.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATED.with(Cell::get);
    let out = f();
    (out, ALLOCATED.with(Cell::get) - before)
}

/// The most a parse may allocate for `len` input bytes: the address list (an `IpAddr` per
/// 4 bytes at most) and a little fixed overhead.
fn bound(len: usize) -> usize {
    64 + len / 4 * std::mem::size_of::<IpAddr>()
}

const SRC4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const DST4: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const SRC6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const DST6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));

fn key() -> FrameKey {
    FrameKey::new(b"a key of some twenty bytes".to_vec()).unwrap()
}

/// Every parser on `bytes`, each within the bound.
fn parse_everywhere(bytes: &[u8]) -> Result<(), TestCaseError> {
    for (src, dst) in [(SRC4, DST4), (SRC6, DST6), (SRC4, DST6)] {
        let (_, used) = allocated_by(|| parse_vrrp(bytes, src, dst, 255));
        prop_assert!(
            used <= bound(bytes.len()),
            "parse_vrrp: {used} bytes for {}",
            bytes.len()
        );
    }
    let (_, used) = allocated_by(|| parse_ipv4(bytes));
    prop_assert!(
        used <= bound(bytes.len()),
        "parse_ipv4: {used} bytes for {}",
        bytes.len()
    );
    let (_, used) = allocated_by(|| (vrid_hint(bytes), open(&key(), bytes).is_ok()));
    // The key's HMAC state is cloned on the stack: opening allocates nothing.
    prop_assert!(used <= 64, "open: {used} bytes");
    Ok(())
}

/// A valid advert of either family with 1 to 255 addresses, half of them with one or two.
fn advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr)> {
    let v4 = prop_oneof![
        prop::collection::vec(any::<[u8; 4]>(), 1..=2),
        prop::collection::vec(any::<[u8; 4]>(), 1..=255),
    ]
    .prop_map(|a| {
        let addrs = a.into_iter().map(IpAddr::from).collect();
        (addrs, SRC4, DST4)
    });
    let v6 = prop_oneof![
        prop::collection::vec(any::<[u8; 16]>(), 1..=2),
        prop::collection::vec(any::<[u8; 16]>(), 1..=255),
    ]
    .prop_map(|a| {
        let addrs = a.into_iter().map(IpAddr::from).collect();
        (addrs, SRC6, DST6)
    });
    (prop_oneof![v4, v6], 1..=255u8, any::<u8>()).prop_map(
        |((addresses, src, dst), vrid, priority)| {
            let advert = Advert {
                version: Version::V3,
                vrid,
                priority,
                interval: Centis::ONE_SECOND,
                addresses,
                auth: Auth::None,
            };
            (advert, src, dst)
        },
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_nor_allocate_beyond_their_size(
        bytes in prop::collection::vec(any::<u8>(), 0..5000),
    ) {
        parse_everywhere(&bytes)?;
    }

    #[test]
    fn valid_and_mutated_adverts_stay_within_the_bound(
        (advert, src, dst) in advert(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut msg = emit(&advert, src, dst, V3Checksum::PseudoHeader).unwrap();
        let (parsed, used) = allocated_by(|| parse_vrrp(&msg, src, dst, 255));
        prop_assert!(parsed.is_ok());
        prop_assert!(used <= bound(msg.len()), "{used} bytes for {}", msg.len());
        // The adverts of nearly every instance (one or two addresses) are read on the
        // protocol path many times a second: without an allocation.
        if advert.addresses.len() <= 2 {
            prop_assert_eq!(used, 0, "{} addresses", advert.addresses.len());
        }
        if let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) {
            parse_everywhere(&emit_ipv4(&advert, s, d, V3Checksum::PseudoHeader).unwrap())?;
        }
        for (at, value) in &edits {
            let i = at.index(msg.len());
            msg[i] = *value;
        }
        parse_everywhere(&msg)?;
        parse_everywhere(&msg[..cut.index(msg.len())])?;
    }

    #[test]
    fn an_authentic_frame_around_any_bytes_opens_and_its_content_parses_without_panic(
        inner in prop::collection::vec(any::<u8>(), 0..2000),
        first in any::<u8>(),
    ) {
        // The tag vouches for the sender, not for what it sent: a key holder's bytes still
        // go through the parser, which must hold up.
        let mut inner = inner;
        if let Some(b) = inner.first_mut() {
            *b = first & 0x3f | 0x30; // often version 3, so parsing goes deeper
        }
        let stamp = Stamper::new(1).next(Duration::ZERO);
        let frame = seal(&key(), stamp, SRC4, &inner);
        let (opened, used) = allocated_by(|| open(&key(), &frame).map(|o| o.vrrp.len()));
        prop_assert!(used <= 64, "open: {used} bytes");
        match opened {
            Ok(n) => prop_assert_eq!(n, inner.len()),
            // Too short to hold the fixed VRRP header: refused before the tag.
            Err(_) => prop_assert!(inner.len() < 8),
        }
        parse_everywhere(&frame)?;
        parse_everywhere(&inner)?;
    }
}
