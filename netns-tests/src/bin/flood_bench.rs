//! Forged-advert flood benchmark, vipd against keepalived: see `flood_bench --help` and
//! `scripts/bench.sh`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::args::{Pinger, bin_main};
use netns_tests::bench::flood::{self, args};

fn main() -> ExitCode {
    bin_main(
        "flood_bench",
        args::USAGE,
        args::parse,
        |o| &o.common,
        flood::session,
        Pinger::Started,
    )
}
