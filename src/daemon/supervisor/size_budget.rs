//! The structures every instance keeps, against the jemalloc size class each was cut to fit.
//! jemalloc hands out a small block in the least class that holds it (…, 80, 96, 112, 128,
//! 160, 192, 224, 256, 320, 384, 448, 512, 640, 768, 896, 1,024 bytes), so one field more
//! can cost a whole class per instance: 128 bytes for the router's cell. Sizes as on 64-bit Linux, where they were measured.

use std::mem::size_of;

use super::*;

/// What an `Arc` adds to its value: the two reference counts.
const ARC: usize = 16;

#[test]
fn per_instance_structures_fit_their_size_classes() {
    let kept = [
        (
            "the router's cell",
            size_of::<RouterCell<LiveIo>>() + ARC,
            512,
        ),
        ("the supervisor's record", size_of::<Live>(), 384),
        (
            "the router's configuration",
            size_of::<RouterConfig>() + ARC,
            256,
        ),
        ("the counters", size_of::<stats::Stats>() + ARC, 96),
        ("the counters' rare part", stats::Stats::rare_size(), 80),
        (
            "the send paths of an instance with one channel",
            size_of::<TxPath>() + ARC,
            128,
        ),
        ("the status view", size_of::<server::View>() + ARC, 160),
        ("the settings", size_of::<io::Settings>() + ARC, 96),
        (
            "the address worker",
            size_of::<vips::Worker<vips::Kernel>>(),
            160,
        ),
        (
            "the router's inbox",
            crate::daemon::router_inbox::RouterInbox::shared_size() + ARC,
            128,
        ),
        (
            "the address worker's queue",
            vips::VipQueue::shared_size() + ARC,
            128,
        ),
    ];
    for (what, size, class) in kept {
        assert!(
            size <= class,
            "{what} takes {size} bytes, over the {class}-byte class it was cut to fit"
        );
    }
}
