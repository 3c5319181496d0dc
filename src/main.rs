//! The `vipd` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vipd::config::Config;
use vipd::daemon;
use vipd::daemon::logging::{self, LogFormat};

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
    /// Run the VRRP daemon: hold the virtual addresses while this node is Master.
    ///
    /// Needs CAP_NET_RAW and CAP_NET_ADMIN (run as root). Logs go to stderr, one line per
    /// state change with its reason. SIGTERM or SIGINT: every Master sends a priority-0
    /// advert, releases its addresses, and vipd exits 0; a second signal exits at once.
    ///
    /// Exit status: 0 after a clean stop, 1 on a bad configuration or a startup failure.
    #[command(after_help = "Example:\n  vipd run -c /etc/vipd/vipd.yaml --log-format json")]
    Run(RunArgs),
    /// Convert a keepalived.conf (with its includes) to vipd's YAML configuration.
    ///
    /// Maps global_defs, vrrp_script, vrrp_instance, vrrp_sync_group and track_file, and
    /// writes comments wherever keepalived rewrote a setting silently (state MASTER without
    /// priority, VRRPv2 interval rounding, default version 2, ...). Every keyword it cannot
    /// map is listed on stderr as FILE:LINE: KEYWORD: REASON. The output always passes
    /// `vipd check`; it is not written if it would not.
    ///
    /// Exit status: 0 converted; 1 something was not converted (unless
    /// --allow-unsupported), nothing to convert, or the result fails vipd check; 2 the input
    /// is unreadable or malformed.
    #[command(
        after_help = "Examples:\n  vipd convert /etc/keepalived/keepalived.conf -o /etc/vipd/vipd.yaml\n  vipd convert keepalived.conf --config-id lb1 --allow-unsupported"
    )]
    Convert(ConvertArgs),
}

#[derive(Args)]
struct ConvertArgs {
    /// The keepalived configuration file.
    #[arg(value_name = "KEEPALIVED_CONF")]
    input: PathBuf,
    /// Where to write the vipd YAML (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 0 even when some keywords could not be converted (they are still listed).
    #[arg(long)]
    allow_unsupported: bool,
    /// keepalived's config-id (its -i option): selects the '@ID' conditional lines.
    #[arg(long, value_name = "ID")]
    config_id: Option<String>,
}

#[derive(Args)]
struct RunArgs {
    /// The configuration file.
    #[arg(short, long = "config", value_name = "FILE")]
    config: PathBuf,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
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
        Command::Run(args) => run(args),
        Command::Convert(args) => convert(args),
    }
}

fn convert(args: ConvertArgs) -> ExitCode {
    let options = vipd::convert::Options {
        config_id: args.config_id,
    };
    let result = match vipd::convert::convert_file(&args.input, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vipd convert: {e}");
            return ExitCode::from(2);
        }
    };
    for u in &result.unsupported {
        eprintln!("{u}");
    }
    let Some(yaml) = result.yaml else {
        eprintln!("vipd convert: nothing to convert: no vrrp_instance could be mapped");
        return ExitCode::from(1);
    };
    let out_name = args
        .output
        .as_ref()
        .map_or_else(|| "<stdout>".to_owned(), |p| p.display().to_string());
    if let Err(errors) = Config::parse(&yaml, &out_name) {
        eprintln!("{errors}");
        eprintln!(
            "vipd convert: the converted configuration does not pass vipd check (shown above); nothing written"
        );
        return ExitCode::from(1);
    }
    match &args.output {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &yaml) {
                eprintln!("vipd convert: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
        None => print!("{yaml}"),
    }
    let n = result.unsupported.len();
    if n == 0 {
        return ExitCode::SUCCESS;
    }
    let plural = if n == 1 { "" } else { "s" };
    if args.allow_unsupported {
        eprintln!(
            "vipd convert: {n} keyword{plural} not converted or approximated (listed above); allowed by --allow-unsupported"
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "vipd convert: {n} keyword{plural} not converted or approximated (listed above); review them, then pass --allow-unsupported to accept"
        );
        ExitCode::from(1)
    }
}

fn run(args: RunArgs) -> ExitCode {
    let config = match Config::load(&args.config) {
        Ok(config) => config,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!(
                "vipd run: not starting: {} is not valid (see vipd check)",
                args.config.display()
            );
            return ExitCode::from(1);
        }
    };
    logging::init(args.log_format);
    // One thread: the work is a few packets a second per instance, and a single thread keeps
    // idle CPU and memory low; nothing on it blocks.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vipd run: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(daemon::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vipd run: {e}");
            ExitCode::from(1)
        }
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
