//! `instances.NAME.fence`: the command that fences a silent Master before this node takes
//! its addresses (Pacemaker's STONITH; keepalived has nothing like it).

use std::time::Duration;

use super::decode::Cap;
use super::errors::ErrorKind;
use super::instance::opt;
use super::reader::Reader;
use super::tree::Node;

/// Longest `fence.timeout`: five minutes. A takeover from silence waits for the fence, and a
/// fence device (a PDU, a BMC, a cloud API) that has not answered by then will not.
pub const MAX_FENCE_TIMEOUT: Duration = Duration::from_secs(300);

/// How a takeover from silence fences the silent Master first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The command and its arguments (split like a shell, no expansion); vipd appends the
    /// silent Master's address, the instance name and the VRID.
    pub argv: Vec<String>,
    /// Killed (with its process group) after this long, which counts as a failure
    /// (default 10 s, at most [`MAX_FENCE_TIMEOUT`]).
    pub timeout: Duration,
    /// What a failed fence means for the takeover.
    pub on_failure: OnFenceFailure,
}

/// What a failed fence (non-zero exit, signal, timeout, could not start) does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnFenceFailure {
    /// Stay Backup and fence again when the master-down timer next fires.
    #[default]
    Retry,
    /// Take over anyway (logged as an error): availability over safety.
    Proceed,
}

impl OnFenceFailure {
    /// The config spelling.
    pub fn word(self) -> &'static str {
        match self {
            OnFenceFailure::Retry => "retry",
            OnFenceFailure::Proceed => "proceed",
        }
    }
}

pub(crate) fn fence(r: &mut Reader, n: &Node, p: &str) -> Option<Fence> {
    let f = r.fields(n, p, &["command", "timeout", "on_failure"])?;
    let argv = r.require(&f, "command").and_then(|n| {
        let path = f.path_of("command");
        let line = r.string(n, &path)?;
        match shlex::split(&line) {
            Some(argv) if !argv.is_empty() => Some(argv),
            _ => {
                let msg = "cannot split this command line: unbalanced quote or trailing backslash";
                r.problem(n.pos, &path, ErrorKind::Invalid, msg);
                None
            }
        }
    });
    let cap = Cap::new(
        MAX_FENCE_TIMEOUT,
        "five minutes: a takeover from silence waits for the fence",
    );
    let timeout = opt(r, &f, "timeout", Duration::from_secs(10), |r, n, p| {
        cap.read_positive(r, n, p)
    });
    let on_failure = opt(
        r,
        &f,
        "on_failure",
        OnFenceFailure::Retry,
        |r, n, p| match r.word(n, p, &["retry", "proceed"])? {
            "proceed" => Some(OnFenceFailure::Proceed),
            _ => Some(OnFenceFailure::Retry),
        },
    );
    Some(Fence {
        argv: argv?,
        timeout: timeout?,
        on_failure: on_failure?,
    })
}
