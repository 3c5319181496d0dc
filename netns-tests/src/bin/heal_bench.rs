//! Partition-heal benchmark, vipd against keepalived: see `heal_bench --help` and
//! `scripts/bench.sh`, which builds everything in release and saves the report.

use std::process::ExitCode;

use netns_tests::bench::heal::{self, args};
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
            eprintln!("heal_bench: {e}");
            return ExitCode::from(2);
        }
    };
    if !require_root() {
        eprintln!("heal_bench: needs root and the lab's tools");
        return ExitCode::from(2);
    }
    let c = &opts.common;
    for (what, bin) in [("vipd", &c.vipd), ("pinger", &c.pinger)] {
        if !bin.is_file() {
            eprintln!(
                "heal_bench: {what} binary {} not found (see --{what})",
                bin.display()
            );
            return ExitCode::from(2);
        }
    }
    // The report goes to stdout alone, so `> file` captures exactly the document.
    print!("{}", heal::session(&opts, &argv.join(" ")));
    ExitCode::SUCCESS
}
