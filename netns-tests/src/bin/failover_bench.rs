//! Failover benchmark, vipd against keepalived: see `failover_bench --help` and
//! `scripts/bench.sh`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::{args, session};

fn main() -> ExitCode {
    args::bin_main(
        "failover_bench",
        args::USAGE,
        args::parse,
        |o| o,
        session::run,
        args::Pinger::Started,
    )
}
