//! The `vipd` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vipd::config::Config;

/// vipd keeps a virtual IP address on exactly one healthy host, speaking VRRP (v2 and v3,
/// IPv4 and IPv6) so it can pair with keepalived, FRR and routers.
#[derive(Parser)]
#[command(name = "vipd", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a configuration file and print the effective settings.
    ///
    /// Prints, per instance, every value with defaults filled in and the timers derived
    /// from them (Skew_Time, Master_Down_Interval). On problems, prints every one as
    /// FILE:LINE:COLUMN: KEY.PATH: MESSAGE.
    ///
    /// Exit status: 0 valid, 1 invalid, 2 file unreadable or bad arguments.
    #[command(
        after_help = "Examples:\n  vipd check /etc/vipd/vipd.yaml\n  vipd check -c conf/lb1.yaml"
    )]
    Check(CheckArgs),
}

#[derive(Args)]
#[group(required = true, multiple = false)]
struct CheckArgs {
    /// The configuration file to check.
    #[arg(short, long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The configuration file to check (same as -c).
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> ExitCode {
    let Some(path) = args.config.or(args.file) else {
        // clap's required group makes this unreachable; stay graceful anyway.
        eprintln!("vipd check: no configuration file given");
        return ExitCode::from(2);
    };
    match Config::load(&path) {
        Ok(config) => {
            println!("{}: configuration is valid", path.display());
            print!("{}", config.summary());
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            if errors.is_unreadable() {
                return ExitCode::from(2);
            }
            let n = errors.errors().len();
            let plural = if n == 1 { "" } else { "s" };
            eprintln!("vipd check: {n} problem{plural} in {}", path.display());
            ExitCode::from(1)
        }
    }
}
