//! `checks.NAME.process`: keepalived's `vrrp_track_process`, a count of running processes
//! that match a name (and arguments) against a quorum.

use std::time::Duration;

use super::decode::Cap;
use super::errors::ErrorKind;
use super::reader::Reader;
use super::tree::Node;

/// The longest the kernel keeps of a process name (`/proc/PID/comm`, TASK_COMM_LEN - 1).
pub const COMM_LEN: usize = 15;

/// How a process's arguments are compared with `args` (keepalived's `param_match`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ArgsMatch {
    /// Arguments are not compared (no `args`, no `match`).
    #[default]
    Any,
    /// The arguments are exactly `args` (none when `args` is empty).
    Exact,
    /// The first arguments are exactly `args`; more may follow (`param_match partial`).
    Partial,
    /// As `Partial`, but the last of `args` need only begin the process's argument
    /// (`param_match initial`).
    Initial,
}

/// A process check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessCheck {
    /// The process name (`/proc/PID/comm`, compared on its first 15 bytes), or, when
    /// arguments are compared or `full_command` is set, the program as started (`argv[0]`).
    pub name: String,
    /// The arguments to compare (see `args_match`).
    pub args: Vec<String>,
    /// How `args` are compared.
    pub args_match: ArgsMatch,
    /// Compare `name` with `argv[0]` rather than the process name.
    pub full_command: bool,
    /// At least this many matching processes for healthy (default 1).
    pub quorum: u32,
    /// At most this many (default unlimited).
    pub quorum_max: Option<u32>,
    /// Wait this long after a process appears before a change it causes counts.
    pub fork_delay: Duration,
    /// Wait this long after a process ends before a change it causes counts.
    pub terminate_delay: Duration,
}

impl ProcessCheck {
    /// Whether `name` is compared with the command line rather than the process name.
    pub fn uses_cmdline(&self) -> bool {
        self.full_command || self.args_match != ArgsMatch::Any
    }
}

/// The bound on a process check's delays: as a check interval, an hour.
const DELAY_CAP: Cap = Cap::new(
    super::model::MAX_CHECK_INTERVAL,
    "an hour, as a check interval",
);

pub(crate) fn process(r: &mut Reader, node: &Node, path: &str) -> Option<ProcessCheck> {
    let keys = [
        "name",
        "args",
        "match",
        "full_command",
        "quorum",
        "quorum_max",
        "delay",
        "fork_delay",
        "terminate_delay",
    ];
    let f = r.fields(node, path, &keys)?;
    let name = r.require(&f, "name").and_then(|n| {
        let p = f.path_of("name");
        let s = r.string(n, &p)?;
        if s.is_empty() || s.contains('\0') {
            r.problem(
                n.pos,
                &p,
                ErrorKind::Invalid,
                "a process name is not empty and has no NUL byte",
            );
            return None;
        }
        Some(s)
    });
    let args: Option<Vec<String>> = match f.get("args") {
        Some(n) => r
            .list(n, &f.path_of("args"))
            .into_iter()
            .map(|(a, p)| r.string(a, &p))
            .collect(),
        None => Some(Vec::new()),
    };
    let args_match = match f.get("match") {
        Some(n) => r
            .word(n, &f.path_of("match"), &["exact", "partial", "initial"])
            .map(|w| match w {
                "partial" => ArgsMatch::Partial,
                "initial" => ArgsMatch::Initial,
                _ => ArgsMatch::Exact,
            }),
        None if f.get("args").is_some() => Some(ArgsMatch::Exact),
        None => Some(ArgsMatch::Any),
    };
    let full_command = match f.get("full_command") {
        Some(n) => r.bool(n, &f.path_of("full_command")),
        None => Some(false),
    };
    let count = |r: &mut Reader, key: &str| {
        f.get(key)
            .map(|n| r.int::<u32>(n, &f.path_of(key), 0, 65535))
    };
    let quorum = count(r, "quorum").unwrap_or(Some(1));
    let quorum_max = match count(r, "quorum_max") {
        Some(v) => v.map(Some),
        None => Some(None),
    };
    let delay =
        |r: &mut Reader, key: &str| f.get(key).map(|n| DELAY_CAP.read(r, n, &f.path_of(key)));
    let both = delay(r, "delay").unwrap_or(Some(Duration::ZERO));
    let fork_delay = delay(r, "fork_delay").unwrap_or(both);
    let terminate_delay = delay(r, "terminate_delay").unwrap_or(both);
    if let (Some(q), Some(Some(max))) = (quorum, quorum_max) {
        if q > max {
            let n = f.get("quorum_max").expect("read above");
            let msg = format!(
                "quorum_max {max} is below quorum {q}: no count of processes could be healthy"
            );
            r.problem(n.pos, &f.path_of("quorum_max"), ErrorKind::Invalid, msg);
            return None;
        }
    }
    Some(ProcessCheck {
        name: name?,
        args: args?,
        args_match: args_match?,
        full_command: full_command?,
        quorum: quorum?,
        quorum_max: quorum_max?,
        fork_delay: fork_delay?,
        terminate_delay: terminate_delay?,
    })
}
