//! Failover benchmark, vipd against keepalived: see `failover_bench --help` and
//! `scripts/bench.sh`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::{args, session};
use netns_tests::require_root;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let opts = match args::parse(&argv[1..]) {
        Ok(Some(o)) => o,
        Ok(None) => {
            print!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("failover_bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !require_root() {
        eprintln!("failover_bench: needs root and the lab's tools");
        return ExitCode::from(2);
    }
    for (what, bin) in [("vipd", &opts.vipd), ("pinger", &opts.pinger)] {
        if !bin.is_file() {
            eprintln!(
                "failover_bench: {what} binary {} not found (see --{what})",
                bin.display()
            );
            return ExitCode::from(2);
        }
    }
    // The report goes to stdout alone, so `> file` captures exactly the document.
    print!("{}", session::run(&opts, &argv.join(" ")));
    ExitCode::SUCCESS
}
