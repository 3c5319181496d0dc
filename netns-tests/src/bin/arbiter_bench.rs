//! Arbiter benchmark: vipd's takeover with the etcd arbiter off and on, and the time two
//! nodes held the VIP in partition scenarios; see `arbiter_bench --help` and
//! `scripts/bench.sh arbiter`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::BenchError;
use netns_tests::bench::arbiter::{self, ArbiterOptions, args};
use netns_tests::bench::args::{Pinger, bin_main};

fn main() -> ExitCode {
    bin_main(
        "arbiter_bench",
        args::USAGE,
        parse_then_require_etcd,
        |o| &o.common,
        arbiter::session,
        Pinger::Started,
    )
}

/// The arguments first, so that `--help` and a bad flag are answered on a machine without
/// etcd; only a run needs etcd, etcdctl and openssl.
fn parse_then_require_etcd(argv: &[String]) -> Result<Option<ArbiterOptions>, BenchError> {
    let opts = args::parse(argv)?;
    if opts.is_some() && !netns_tests::etcd::require_etcd() {
        return Err(BenchError::Usage(
            "needs root, the lab's tools, etcd, etcdctl and openssl (see above)".into(),
        ));
    }
    Ok(opts)
}
