//! Scale benchmark, vipd beside keepalived (1 to 1,000 instances, 10 ms to 100 ms adverts):
//! see `scale_bench --help` and `scripts/bench.sh`, which builds everything in release and
//! saves the report.

use std::process::ExitCode;

use netns_tests::bench::args::{Pinger, bin_main};
use netns_tests::bench::scale::{self, args};

fn main() -> ExitCode {
    bin_main(
        "scale_bench",
        args::USAGE,
        args::parse,
        |o| &o.common,
        scale::session,
        Pinger::Unused,
    )
}
