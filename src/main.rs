//! The `vipd` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vipd::config::Config;
use vipd::control::{client, protocol, table};
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
    /// --allow-unsupported), something would differ on the wire from the keepalived node
    /// (even with --allow-unsupported), nothing to convert, or the result fails vipd check;
    /// 2 the input is unreadable or malformed.
    #[command(
        after_help = "Examples:\n  vipd convert /etc/keepalived/keepalived.conf -o /etc/vipd/vipd.yaml\n  vipd convert keepalived.conf --config-id lb1 --allow-unsupported"
    )]
    Convert(ConvertArgs),
    /// Show every instance of the running daemon: state, priorities, Master, VIPs, time in
    /// state and the reason for the last change, faults, packet counters, and the health of
    /// each heartbeat channel.
    Status {
        #[command(flatten)]
        socket: SocketArgs,
        /// Print the JSON answer of the control socket instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Drain a node for maintenance, or end the drain.
    ///
    /// `on`: every Master among the chosen instances sends a priority-0 advert (its peer takes
    /// over after Skew_Time), releases its VIPs, and stays Backup until `off`.
    Maintenance {
        #[command(flatten)]
        socket: SocketArgs,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        mode: String,
        /// One instance; all when omitted.
        instance: Option<String>,
    },
    /// Re-read the configuration file and apply it without a flap (as SIGHUP), and say what
    /// changed; on errors nothing changes and they are printed. Exit status 1 on errors.
    Reload {
        #[command(flatten)]
        socket: SocketArgs,
    },
    /// Follow state changes live, one JSON line each, until interrupted.
    Events {
        #[command(flatten)]
        socket: SocketArgs,
    },
}

/// Where to find the daemon's control socket.
#[derive(Args)]
struct SocketArgs {
    /// The control socket path.
    #[arg(long, value_name = "PATH", conflicts_with = "config")]
    socket: Option<PathBuf>,
    /// Read the control socket path from this configuration file.
    #[arg(short, long = "config", value_name = "FILE")]
    config: Option<PathBuf>,
}

impl SocketArgs {
    fn path(&self) -> Result<PathBuf, String> {
        if let Some(p) = &self.socket {
            return Ok(p.clone());
        }
        match &self.config {
            Some(file) => Config::load(file)
                .map(|c| c.global.control_socket)
                .map_err(|e| format!("{e}")),
            None => Ok(PathBuf::from(vipd::config::DEFAULT_CONTROL_SOCKET)),
        }
    }
}

#[derive(Args)]
struct ConvertArgs {
    /// The keepalived configuration file.
    #[arg(value_name = "KEEPALIVED_CONF")]
    input: PathBuf,
    /// Where to write the vipd YAML (default: standard output).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 0 even when some keywords could not be converted (they are still listed), unless
    /// one would change what the node does on the wire.
    #[arg(long)]
    allow_unsupported: bool,
    /// keepalived's config-id (its -i option): selects the '@ID' conditional lines. Default:
    /// this host's name up to the first dot, as keepalived's.
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

// jemalloc rather than glibc's malloc: an instance's state is some fifty small allocations,
// which glibc rounds up to 32-byte chunks with a header each, and the start-up's short-lived
// ones leave holes its heap keeps. Measured with 1,000 instances (two nodes, RssAnon in
// /proc/PID/status): anonymous memory 9.2-10.1 MB with glibc, 7.9-8.0 MB with jemalloc, for
// 0.4 MB more with one instance and about the same CPU at 5,000 adverts a second. Freed
// pages go back to the kernel at once: applying a configuration (start, reload) holds a few
// copies of every instance's settings for a moment (1,000 instances: about 2 MB), and a
// daemon that idles for months after it has no use for them. In steady state that costs no
// system call: a Backup of 50 instances at 10 ms made no madvise, mmap or munmap in 10 s.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's `malloc_conf`: a C `const char *`, hence a thin pointer and not a `&[u8]`.
/// One automatic arena for every thread but the router thread, and no thread caches but the
/// router thread's (see [`router_thread_allocation`]). A thread's cache keeps the small
/// blocks it frees for its next allocations; the threads that parse a configuration, run
/// scripts or serve clients kept theirs, full, for good (anonymous memory, with the router
/// thread's cache flushed after start: one instance 1.2 → 1.1 MB, 1,000 instances 6.9 →
/// 6.6-6.7 MB as Master and 6.6 → 6.3 MB as Backup, start-up and takeovers as before;
/// `bench-results/scale-2026-12-05-tcache.md`).
#[repr(transparent)]
struct MallocConf(*const std::ffi::c_char);
// SAFETY: it points at a constant string that nothing writes.
unsafe impl Sync for MallocConf {}

#[unsafe(export_name = "_rjem_malloc_conf")]
static MALLOC_CONF: MallocConf =
    MallocConf(c"narenas:1,tcache:false,dirty_decay_ms:0,muzzy_decay_ms:0".as_ptr());

/// Gives the calling thread, the one that runs the routers at realtime priority, an arena
/// of its own and a thread cache. An arena shared with the listeners, the scripts thread or
/// tokio's blocking pool would make the router thread wait on a lock that a thread of normal
/// priority holds and may be preempted with on a busy host. This arena costs about 0.1 MB; an
/// automatic arena per thread would cost 0.3 MB. The cache keeps the allocations of a
/// takeover (its log line, its address worker's task) off the arena's lock; the daemon
/// flushes it after applying a configuration. A failure only costs that separation or speed.
fn router_thread_allocation() -> tikv_jemalloc_ctl::Result<()> {
    // SAFETY: "arenas.create" reads an unsigned int, "thread.arena" takes one,
    // "thread.tcache.enabled" a bool.
    unsafe {
        tikv_jemalloc_ctl::raw::read::<std::ffi::c_uint>(b"arenas.create\0")
            .and_then(|arena| tikv_jemalloc_ctl::raw::write(b"thread.arena\0", arena))
            .and_then(|()| tikv_jemalloc_ctl::raw::write(b"thread.tcache.enabled\0", true))
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Run(_)) {
        // A command-line tool piped into `head` should end quietly, not panic on EPIPE. The
        // daemon keeps Rust's default (ignored), so a closed control client cannot kill it.
        // SAFETY: setting a signal disposition to the default before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cli.command {
        Command::Check(args) => check(args),
        Command::Run(args) => run(args),
        Command::Convert(args) => convert(args),
        Command::Status { socket, json } => control(&socket, |path| {
            let (answer, _) = client::request(path, protocol::Command::Status)?;
            let status = answer.status.unwrap_or(protocol::Status {
                router_id: None,
                instances: vec![],
            });
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).map_err(client::ClientError::from)?
                );
            } else {
                print!("{}", table::render(&status));
            }
            Ok(())
        }),
        Command::Maintenance {
            socket,
            mode,
            instance,
        } => control(&socket, |path| {
            let command = protocol::Command::Maintenance {
                on: mode == "on",
                instance: instance.clone(),
            };
            let (answer, _) = client::request(path, command)?;
            println!("{}", answer.message.unwrap_or_default());
            Ok(())
        }),
        Command::Reload { socket } => control(&socket, |path| {
            let (answer, _) = client::request(path, protocol::Command::Reload)?;
            println!("{}", answer.message.unwrap_or_default());
            Ok(())
        }),
        Command::Events { socket } => control(&socket, |path| {
            client::follow_events(path, &mut std::io::stdout())
        }),
    }
}

/// Runs a control-socket command; errors are one line on stderr and exit status 1.
fn control(
    socket: &SocketArgs,
    f: impl FnOnce(&std::path::Path) -> Result<(), client::ClientError>,
) -> ExitCode {
    let path = match socket.path() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    match f(&path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn convert(args: ConvertArgs) -> ExitCode {
    // keepalived's config-id defaults to the first part of the node name (uname).
    let host_id = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|h| h.trim().split('.').next().map(str::to_owned))
        .filter(|h| !h.is_empty());
    let defaulted = args.config_id.is_none();
    let options = vipd::convert::Options {
        config_id: args.config_id.or(host_id),
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
    if let (true, true, Some(id)) = (defaulted, result.conditional_lines > 0, &options.config_id) {
        eprintln!(
            "vipd convert: the @ lines were chosen for config-id '{id}', this host's name as keepalived defaults it; pass --config-id ID to convert for another node"
        );
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
    let wire = result.unsupported.iter().filter(|u| u.on_wire).count();
    if wire > 0 {
        eprintln!(
            "vipd convert: {wire} of the {n} listed difference{plural} would change what this node does on the network (marked 'differs on the wire'): against the keepalived peer it replaces, that can make both Master; change them on both nodes first (--allow-unsupported does not accept these)"
        );
        return ExitCode::from(1);
    }
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
    // First, so that what this thread allocates from here on is in its arena.
    let arena = router_thread_allocation();
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
    let _log_guard = logging::init(args.log_format);
    if let Err(e) = arena {
        tracing::warn!("the router thread has no allocator arena or cache of its own: {e}");
    }
    // One thread: the work is a few packets a second per instance, and a single thread keeps
    // idle CPU and memory low; nothing on it blocks.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_park(daemon::before_park)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vipd run: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(daemon::run(args.config.clone(), config)) {
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
            // Scripts are judged as `vipd run` will judge them: writable by another user is
            // refused when scripts run privileged (root or capabilities). A script missing
            // here may exist where the file is deployed, so that is a warning; `vipd run`
            // refuses it.
            let root = vipd::track::security::scripts_privileged();
            let mut refused = 0;
            for problem in vipd::track::script_security(&config) {
                if matches!(problem, vipd::track::InsecureScript::NotFound(_)) {
                    eprintln!("{}: warning: {problem}", path.display());
                } else if root {
                    eprintln!("{}: {problem}", path.display());
                    refused += 1;
                } else {
                    eprintln!(
                        "{}: warning (refused when vipd runs as root or with capabilities): {problem}",
                        path.display()
                    );
                }
            }
            // UDP channel keys as `vipd run` loads them; a missing one may exist where the
            // file is deployed, so that is a warning.
            let key_files: std::collections::BTreeSet<_> = config
                .instances
                .values()
                .flat_map(|i| &i.channels)
                .filter_map(|c| c.key_file().map(ToOwned::to_owned))
                .collect();
            for file in key_files {
                match vipd::daemon::keys::load_key(&file) {
                    Ok(_) => {}
                    Err(vipd::daemon::keys::KeyFileError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        eprintln!(
                            "{}: warning: key file {} not found (vipd run refuses to start without it)",
                            path.display(),
                            file.display()
                        );
                    }
                    Err(e) => {
                        eprintln!("{}: {e}", path.display());
                        refused += 1;
                    }
                }
            }
            if refused > 0 {
                eprintln!(
                    "vipd check: {refused} insecure script(s) or key file(s) in {}",
                    path.display()
                );
                return ExitCode::from(1);
            }
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
