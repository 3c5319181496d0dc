//! Health checks, trackers and notify commands of a test configuration.
//!
//! Every string is written as a JSON string, which YAML reads as a double-quoted scalar, so
//! paths and command lines never need thinking about YAML's plain-scalar rules.

use std::fmt::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// What a check probes (the `checks:` kinds tests use).
#[derive(Debug, Clone)]
pub enum CheckKind {
    /// A command line; exit 0 is healthy.
    Script(String),
    /// A TCP connect to this address.
    Tcp(SocketAddr),
    /// An HTTP GET on `url`, healthy on status 200 (and a body containing `expect_body`).
    Http {
        /// An `http://` URL.
        url: String,
        /// A substring the body must contain, if set.
        expect_body: Option<String>,
    },
}

/// One entry of `checks:`. `CheckSpec::new` gives 200 ms probes, fall 2, rise 2.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    /// The check's name, referenced from an instance's `track:`.
    pub name: String,
    /// What it probes.
    pub kind: CheckKind,
    /// Time between probes.
    pub interval: Duration,
    /// A probe taking longer fails; `None` leaves vipd's default (the interval).
    pub timeout: Option<Duration>,
    /// Successes in a row to recover.
    pub rise: u32,
    /// Failures in a row to fail.
    pub fall: u32,
}

impl CheckSpec {
    /// A check probing every 200 ms, failing after 2 failures and recovering after 2
    /// successes.
    pub fn new(name: &str, kind: CheckKind) -> CheckSpec {
        CheckSpec {
            name: name.into(),
            kind,
            interval: Duration::from_millis(200),
            timeout: None,
            rise: 2,
            fall: 2,
        }
    }

    /// The worst-case time from a failure starting to vipd acting on it: the probe in
    /// flight may have just passed, then `fall` more probes must fail.
    pub fn detection_time(&self) -> Duration {
        self.interval * self.fall + self.timeout.unwrap_or(self.interval)
    }

    /// Like [`CheckSpec::detection_time`] for recovery (`rise` successes).
    pub fn recovery_time(&self) -> Duration {
        self.interval * self.rise + self.timeout.unwrap_or(self.interval)
    }

    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(out, "  {}:", self.name);
        match &self.kind {
            CheckKind::Script(line) => {
                let _ = writeln!(out, "    script: {}", quote(line));
            }
            CheckKind::Tcp(addr) => {
                let _ = writeln!(out, "    tcp: {}", quote(&addr.to_string()));
            }
            CheckKind::Http { url, expect_body } => {
                let _ = writeln!(out, "    http:");
                let _ = writeln!(out, "      url: {}", quote(url));
                if let Some(body) = expect_body {
                    let _ = writeln!(out, "      expect_body: {}", quote(body));
                }
            }
        }
        let _ = writeln!(out, "    interval: {}", ms(self.interval));
        if let Some(t) = self.timeout {
            let _ = writeln!(out, "    timeout: {}", ms(t));
        }
        let _ = writeln!(out, "    rise: {}", self.rise);
        let _ = writeln!(out, "    fall: {}", self.fall);
    }
}

/// What an instance tracks.
#[derive(Debug, Clone)]
pub enum TrackTarget {
    /// A named entry of `checks:`.
    Check(String),
    /// An interface's link state.
    Interface(String),
    /// An integer in a file (keepalived's `track_file`).
    File(PathBuf),
}

/// One entry of an instance's `track:`.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    /// What is tracked.
    pub target: TrackTarget,
    /// -253..=253; 0 means FAULT while it fails.
    pub weight: i16,
}

impl TrackSpec {
    pub(crate) fn render(&self, out: &mut String) {
        let (key, value) = match &self.target {
            TrackTarget::Check(name) => ("check", quote(name)),
            TrackTarget::Interface(name) => ("interface", quote(name)),
            TrackTarget::File(path) => ("file", quote(&path.display().to_string())),
        };
        let _ = writeln!(out, "      - {{ {key}: {value}, weight: {} }}", self.weight);
    }
}

/// An instance's `notify:` commands; `None` fields are left out.
#[derive(Debug, Clone, Default)]
pub struct NotifySpec {
    /// On becoming Master.
    pub master: Option<String>,
    /// On becoming Backup.
    pub backup: Option<String>,
    /// On entering FAULT.
    pub fault: Option<String>,
    /// On stop.
    pub stop: Option<String>,
    /// On every change, after the specific one.
    pub any: Option<String>,
    /// Kill a command still running after this.
    pub timeout: Option<Duration>,
}

impl NotifySpec {
    pub(crate) fn render(&self, out: &mut String) {
        let _ = writeln!(out, "    notify:");
        for (key, cmd) in [
            ("master", &self.master),
            ("backup", &self.backup),
            ("fault", &self.fault),
            ("stop", &self.stop),
            ("any", &self.any),
        ] {
            if let Some(cmd) = cmd {
                let _ = writeln!(out, "      {key}: {}", quote(cmd));
            }
        }
        if let Some(t) = self.timeout {
            let _ = writeln!(out, "      timeout: {}", ms(t));
        }
    }
}

/// A YAML double-quoted scalar (a JSON string is one).
pub(crate) fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}
