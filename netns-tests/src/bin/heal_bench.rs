//! Partition-heal benchmark, vipd against keepalived: see `heal_bench --help` and
//! `scripts/bench.sh`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::args::{Pinger, bin_main};
use netns_tests::bench::heal::{self, args};

fn main() -> ExitCode {
    bin_main(
        "heal_bench",
        args::USAGE,
        args::parse,
        |o| &o.common,
        heal::session,
        Pinger::Started,
    )
}
