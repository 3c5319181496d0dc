//! Tree to model: keys, types and single-value ranges. Relations between values (families,
//! versions, references) are checked afterwards in `validate`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::errors::ErrorKind;
use super::instance::instance;
use super::model::{Check, CheckKind, Config, EventLogFormat, Global, HttpCheck};
use super::reader::Reader;
use super::tree::{Node, Value};

/// The decoded model plus the names of entries that had decoding errors: validation skips
/// those, so one typo does not set off a cascade of follow-on errors.
pub(crate) struct Decoded {
    pub config: Config,
    pub tainted: BTreeSet<String>,
}

const ROOT_KEYS: &[&str] = &["global", "arbiter", "checks", "instances", "groups"];

/// Decodes the whole file.
pub(crate) fn config(r: &mut Reader, root: &Node) -> Decoded {
    let mut out = Decoded {
        config: Config {
            global: Global::default(),
            checks: BTreeMap::new(),
            instances: BTreeMap::new(),
            groups: BTreeMap::new(),
            group_notify: BTreeMap::new(),
            arbiter: None,
        },
        tainted: BTreeSet::new(),
    };
    if matches!(root.value, Value::Null) {
        r.problem(
            root.pos,
            "",
            ErrorKind::MissingKey,
            "the file is empty; it needs at least an 'instances' section",
        );
        return out;
    }
    let Some(f) = r.fields(root, "", ROOT_KEYS) else {
        return out;
    };
    if let Some(n) = f.get("global") {
        out.config.global = global(r, n, "global");
    }
    if let Some(n) = f.get("arbiter") {
        out.config.arbiter = super::arbiter::arbiter(r, n, "arbiter");
    }
    if let Some(n) = f.get("checks") {
        for (name, node, path) in r.named(n, "checks") {
            let before = r.problems.len();
            if let Some(c) = check(r, node, &path) {
                out.config.checks.insert(name.to_owned(), c);
            }
            if r.problems.len() > before {
                out.tainted.insert(path);
            }
        }
    }
    if let Some(n) = r.require(&f, "instances") {
        let entries = r.named(n, "instances");
        if entries.is_empty() && matches!(&n.value, Value::Map(m) if m.is_empty()) {
            r.problem(
                n.pos,
                "instances",
                ErrorKind::Invalid,
                "at least one instance is needed",
            );
        }
        for (name, node, path) in entries {
            let before = r.problems.len();
            if let Some(i) = instance(r, node, &path) {
                out.config.instances.insert(name.to_owned(), i);
            }
            if r.problems.len() > before {
                out.tainted.insert(path);
            }
        }
    }
    if let Some(n) = f.get("groups") {
        for (name, node, path) in r.named(n, "groups") {
            // A list of members, or {members: [...], notify: {...}} for group notifications.
            let (list, notify) = match &node.value {
                Value::Map(_) => {
                    let Some(f) = r.fields(node, &path, &["members", "notify"]) else {
                        continue;
                    };
                    let notify = f
                        .get("notify")
                        .and_then(|n| super::instance::notify(r, n, &f.path_of("notify")));
                    (
                        r.require(&f, "members").map(|m| (m, f.path_of("members"))),
                        notify,
                    )
                }
                _ => (Some((node, path.clone())), None),
            };
            let members = list
                .map(|(node, path)| r.list(node, &path))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(m, p)| r.string(m, &p))
                .collect();
            out.config.groups.insert(name.to_owned(), members);
            if let Some(notify) = notify {
                out.config.group_notify.insert(name.to_owned(), notify);
            }
        }
    }
    out
}

fn global(r: &mut Reader, node: &Node, path: &str) -> Global {
    let mut g = Global::default();
    let keys = [
        "router_id",
        "control_socket",
        "metrics_listen",
        "script_user",
        "event_log",
        "event_log_format",
        "control_group",
        "realtime_priority",
    ];
    let Some(f) = r.fields(node, path, &keys) else {
        return g;
    };
    if let Some(n) = f.get("router_id") {
        g.router_id = r.string(n, &f.path_of("router_id"));
    }
    if let Some(n) = f.get("control_socket") {
        if let Some(s) = r.string(n, &f.path_of("control_socket")) {
            g.control_socket = PathBuf::from(s);
        }
    }
    if let Some(n) = f.get("metrics_listen") {
        g.metrics_listen =
            r.parsed::<SocketAddr>(n, &f.path_of("metrics_listen"), "an address:port");
    }
    if let Some(n) = f.get("script_user") {
        g.script_user = r.string(n, &f.path_of("script_user"));
    }
    if let Some(n) = f.get("control_group") {
        g.control_group = r.string(n, &f.path_of("control_group"));
    }
    if let Some(n) = f.get("realtime_priority")
        && let Some(p) = r.int(n, &f.path_of("realtime_priority"), 0, 99)
    {
        g.realtime_priority = p;
    }
    if let Some(n) = f.get("event_log") {
        g.event_log = r.string(n, &f.path_of("event_log")).map(PathBuf::from);
    }
    if let Some(n) = f.get("event_log_format") {
        let p = f.path_of("event_log_format");
        if let Some(w) = r.word(n, &p, &["json", "keepalived"]) {
            g.event_log_format = match w {
                "keepalived" => EventLogFormat::Keepalived,
                _ => EventLogFormat::Json,
            };
        }
    }
    g
}

/// The keys that pick a check's kind; exactly one must be present.
const CHECK_KINDS: &[&str] = &["script", "tcp", "http", "interface", "file", "process"];

/// Settings of probed checks that a process check, which follows events, does not have.
const NOT_FOR_PROCESS: &[&str] = &["timeout", "rise", "fall", "user"];

fn check(r: &mut Reader, node: &Node, path: &str) -> Option<Check> {
    let keys = [
        CHECK_KINDS,
        &["interval", "timeout", "rise", "fall", "user"],
    ]
    .concat();
    let f = r.fields(node, path, &keys)?;
    let interval = match f.get("interval") {
        Some(n) => CHECK_CAP.read_positive(r, n, &f.path_of("interval")),
        None => Some(Duration::from_secs(1)),
    };
    let timeout = match f.get("timeout") {
        Some(n) => CHECK_TIMEOUT_CAP.read_positive(r, n, &f.path_of("timeout")),
        None => interval,
    };
    let count = |r: &mut Reader, key: &str| match f.get(key) {
        Some(n) => r.int::<u32>(n, &f.path_of(key), 1, 1000),
        None => Some(1),
    };
    let rise = count(r, "rise");
    let fall = count(r, "fall");
    let user = f.get("user").and_then(|n| r.string(n, &f.path_of("user")));
    let kind = check_kind(r, &f);
    if matches!(kind, Some(CheckKind::Process(_))) {
        for key in NOT_FOR_PROCESS {
            if let Some(n) = f.get(key) {
                let msg = format!(
                    "a process check has no '{key}': it counts processes as they come and go; use process.delay to ride over restarts"
                );
                r.problem(n.pos, &f.path_of(key), ErrorKind::UnknownKey, msg);
                return None;
            }
        }
    }
    Some(Check {
        kind: kind?,
        interval: interval?,
        timeout: timeout?,
        rise: rise?,
        fall: fall?,
        user,
    })
}

fn check_kind(r: &mut Reader, f: &super::reader::Fields<'_>) -> Option<CheckKind> {
    let present: Vec<&str> = CHECK_KINDS
        .iter()
        .copied()
        .filter(|k| f.get(k).is_some())
        .collect();
    let kind = match present.as_slice() {
        [] => {
            r.problem(
                f.pos,
                &f.path,
                ErrorKind::MissingKey,
                format!("a check needs exactly one of: {}", CHECK_KINDS.join(", ")),
            );
            return None;
        }
        [one] => *one,
        [first, second, ..] => {
            let pos = f.key_pos(second).unwrap_or(f.pos);
            let msg =
                format!("a check has exactly one kind, but both '{first}' and '{second}' are set");
            r.problem(pos, &f.path_of(second), ErrorKind::Invalid, msg);
            return None;
        }
    };
    let node = f.get(kind)?;
    let path = f.path_of(kind);
    match kind {
        "script" => r.string(node, &path).map(CheckKind::Script),
        "tcp" => tcp_target(r, node, &path),
        "http" => http(r, node, &path).map(CheckKind::Http),
        "interface" => interface_name(r, node, &path).map(CheckKind::Interface),
        "process" => super::process_check::process(r, node, &path).map(CheckKind::Process),
        _ => r
            .string(node, &path)
            .map(|s| CheckKind::File(PathBuf::from(s))),
    }
}

pub(crate) fn tcp_target(r: &mut Reader, node: &Node, path: &str) -> Option<CheckKind> {
    let s = r.string(node, path)?;
    let parsed = s.rsplit_once(':').and_then(|(host, port)| {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
        (!host.is_empty()).then(|| CheckKind::Tcp {
            host: host.to_owned(),
            port,
        })
    });
    if parsed.is_none() {
        let msg = format!("'{s}' is not host:port (IPv6 as [addr]:port, port 1..=65535)");
        r.problem(node.pos, path, ErrorKind::Invalid, msg);
    }
    parsed
}

fn http(r: &mut Reader, node: &Node, path: &str) -> Option<HttpCheck> {
    let f = r.fields(node, path, &["url", "expect_status", "expect_body"])?;
    let url = r.require(&f, "url").and_then(|n| {
        let p = f.path_of("url");
        let url = r.string(n, &p)?;
        let ok = url
            .strip_prefix("http://")
            .is_some_and(|rest| !rest.is_empty());
        if !ok {
            let msg = format!("'{url}' is not an http:// URL (https is not supported)");
            r.problem(n.pos, &p, ErrorKind::Invalid, msg);
        }
        ok.then_some(url)
    });
    let expect_status = match f.get("expect_status") {
        Some(n) => r.int::<u16>(n, &f.path_of("expect_status"), 100, 599),
        None => Some(200),
    };
    let expect_body = f
        .get("expect_body")
        .and_then(|n| r.string(n, &f.path_of("expect_body")));
    Some(HttpCheck {
        url: url?,
        expect_status: expect_status?,
        expect_body,
    })
}

/// The longest a duration setting may be, and where that bound comes from (for the error).
#[derive(Clone, Copy)]
pub(crate) struct Cap {
    pub max: Duration,
    pub why: &'static str,
}

impl Cap {
    pub const fn new(max: Duration, why: &'static str) -> Self {
        Cap { max, why }
    }

    /// Reads a duration of at most `self.max`.
    pub fn read(self, r: &mut Reader, node: &Node, path: &str) -> Option<Duration> {
        let d = r.duration(node, path)?;
        self.check(r, node, path, d)
    }

    /// Reads a duration greater than zero and at most `self.max`.
    pub fn read_positive(self, r: &mut Reader, node: &Node, path: &str) -> Option<Duration> {
        let d = positive(r, node, path)?;
        self.check(r, node, path, d)
    }

    fn check(self, r: &mut Reader, node: &Node, path: &str, d: Duration) -> Option<Duration> {
        if d <= self.max {
            return Some(d);
        }
        let got = node.value.scalar_text().unwrap_or_default();
        let key = path.rsplit('.').next().unwrap_or(path);
        let msg = format!(
            "'{got}' is too long: {key} is at most {}s ({})",
            self.max.as_secs(),
            self.why
        );
        r.problem(node.pos, path, ErrorKind::Invalid, msg);
        None
    }
}

/// The bound on a check's interval.
const CHECK_CAP: Cap = Cap::new(
    super::model::MAX_CHECK_INTERVAL,
    "an hour: a check probed less often cannot guard a failover",
);
/// The bound on a check's timeout: the longest interval.
const CHECK_TIMEOUT_CAP: Cap = Cap::new(
    super::model::MAX_CHECK_INTERVAL,
    "the longest check interval",
);

/// A duration that must not be zero (intervals and timeouts).
pub(crate) fn positive(r: &mut Reader, node: &Node, path: &str) -> Option<Duration> {
    let d = r.duration(node, path)?;
    if d.is_zero() {
        r.problem(
            node.pos,
            path,
            ErrorKind::Invalid,
            "must be greater than zero",
        );
        return None;
    }
    Some(d)
}

/// A Linux interface name: 1..=15 bytes, no '/', ':' or whitespace.
pub(crate) fn interface_name(r: &mut Reader, node: &Node, path: &str) -> Option<String> {
    let s = r.string(node, path)?;
    let ok = s.len() <= 15 && !s.contains(['/', ':']) && !s.chars().any(char::is_whitespace);
    if !ok {
        let msg =
            format!("'{s}' is not an interface name (at most 15 bytes, no '/', ':' or spaces)");
        r.problem(node.pos, path, ErrorKind::Invalid, msg);
    }
    ok.then_some(s)
}
