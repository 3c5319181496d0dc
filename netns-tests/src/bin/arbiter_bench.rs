//! Arbiter benchmark: vipd's takeover with the etcd arbiter off and on, and the time two
//! nodes held the VIP in partition scenarios; see `arbiter_bench --help` and
//! `scripts/bench.sh arbiter`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::arbiter::{self, args};
use netns_tests::bench::args::bin_main;

fn main() -> ExitCode {
    if !netns_tests::etcd::require_etcd() {
        eprintln!("arbiter_bench: needs etcd, etcdctl and openssl");
        return ExitCode::from(2);
    }
    bin_main(
        "arbiter_bench",
        args::USAGE,
        args::parse,
        |o| &o.common,
        arbiter::session,
    )
}
