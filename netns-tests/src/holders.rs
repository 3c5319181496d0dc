//! Who holds a VIP, sampled on both nodes of a pair every few milliseconds from a thread of
//! this process: no `ip` process per sample, so a sample costs microseconds and both nodes
//! are read within one (the thread joins one node's namespace, lists its addresses, joins
//! the other's, lists them).
//!
//! A split brain shows up as a sample in which both nodes hold the address; the timeline
//! keeps every change, so a test can say when a node got or lost it.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

use crate::error::{HarnessError, Result};
use crate::node::Node;

/// Time between samples (each pair of reads takes well under a millisecond).
const PERIOD: Duration = Duration::from_millis(5);

/// Which of the two nodes held the VIP, from `at` until the next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// When this was first sampled.
    pub at: Instant,
    /// Node 0 held it, node 1 held it.
    pub held: [bool; 2],
}

#[derive(Debug, Default)]
struct Shared {
    changes: Vec<Change>,
    samples: u64,
    dual_samples: u64,
    /// The longest time between two consecutive samples (how blind the watch was at worst).
    longest_step: Duration,
    last: Option<Instant>,
}

/// A running watch; [`HolderWatch::stop`] ends it and returns the timeline.
pub struct HolderWatch {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
    vip: Ipv4Addr,
}

/// What a watch saw.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// Every change, in order; the first entry is the first sample.
    pub changes: Vec<Change>,
    /// Samples taken.
    pub samples: u64,
    /// Samples in which both nodes held the VIP.
    pub dual_samples: u64,
    /// The longest time between two samples.
    pub longest_step: Duration,
    /// When the watch ended.
    pub end: Instant,
}

impl HolderWatch {
    /// Starts sampling whether `nodes[0]` and `nodes[1]` hold `vip` (on any interface).
    pub fn start(nodes: [&Node; 2], vip: Ipv4Addr) -> Result<HolderWatch> {
        let open = |n: &Node| {
            let path = format!("/run/netns/{}", n.ns());
            File::open(&path).map_err(|e| HarnessError::io(format!("open {path}"), e))
        };
        let files = [open(nodes[0])?, open(nodes[1])?];
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sh, st) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || sample_loop(&files, vip, &sh, &st));
        let watch = HolderWatch {
            shared,
            stop,
            thread: Some(thread),
            vip,
        };
        // Return once there is a first sample, so `current` means something at once.
        crate::wait::wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
            watch.lock().samples > 0 || watch.thread.as_ref().is_none_or(|t| t.is_finished())
        })
        .map_err(|what| HarnessError::Timeout {
            what: format!("first VIP sample: {what}"),
            waited: Duration::from_secs(5),
        })?;
        Ok(watch)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The VIP watched.
    pub fn vip(&self) -> Ipv4Addr {
        self.vip
    }

    /// The latest sample.
    pub fn current(&self) -> [bool; 2] {
        self.lock().changes.last().map_or([false; 2], |c| c.held)
    }

    /// The timeline so far.
    pub fn timeline(&self) -> Timeline {
        let s = self.lock();
        Timeline {
            changes: s.changes.clone(),
            samples: s.samples,
            dual_samples: s.dual_samples,
            longest_step: s.longest_step,
            end: Instant::now(),
        }
    }

    /// Waits until the latest sample satisfies `pred`; returns when that sample was first
    /// seen, or `None` after `timeout`.
    pub fn wait(&self, timeout: Duration, pred: impl Fn([bool; 2]) -> bool) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(c) = self.lock().changes.last().filter(|c| pred(c.held)) {
                return Some(c.at);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Ends the watch; fails if sampling failed.
    pub fn stop(mut self) -> Result<Timeline> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
        }
        Ok(self.timeline())
    }
}

impl Drop for HolderWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn sample_loop(
    files: &[File; 2],
    vip: Ipv4Addr,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) {
        let mut held = [false; 2];
        for (i, f) in files.iter().enumerate() {
            setns(f.as_fd(), CloneFlags::CLONE_NEWNET)
                .map_err(|e| HarnessError::io("setns (VIP watch)", e.into()))?;
            held[i] = has_v4(vip)?;
        }
        let now = Instant::now();
        let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
        s.samples += 1;
        if held == [true; 2] {
            s.dual_samples += 1;
        }
        if let Some(last) = s.last {
            s.longest_step = s.longest_step.max(now - last);
        }
        s.last = Some(now);
        if s.changes.last().is_none_or(|c| c.held != held) {
            s.changes.push(Change { at: now, held });
        }
        drop(s);
        std::thread::sleep(PERIOD);
    }
    Ok(())
}

/// Whether an interface of the calling thread's namespace has `vip`.
fn has_v4(vip: Ipv4Addr) -> Result<bool> {
    let addrs = nix::ifaddrs::getifaddrs().map_err(|e| HarnessError::io("getifaddrs", e.into()))?;
    Ok(addrs.into_iter().any(|a| {
        a.address
            .as_ref()
            .and_then(|s| s.as_sockaddr_in())
            .is_some_and(|sin| sin.ip() == vip)
    }))
}

impl Timeline {
    /// The changes after `from` (and the state in force at `from` as the first entry).
    pub fn since(&self, from: Instant) -> Vec<Change> {
        let before = self.changes.iter().rev().find(|c| c.at <= from).copied();
        before
            .map(|c| Change { at: from, ..c })
            .into_iter()
            .chain(self.changes.iter().filter(|c| c.at > from).copied())
            .collect()
    }

    /// How long both nodes held the VIP at once, between `from` and the end (to the
    /// sampling period).
    pub fn dual_time_since(&self, from: Instant) -> Duration {
        let changes = self.since(from);
        changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.held == [true; 2])
            .map(|(i, c)| changes.get(i + 1).map_or(self.end, |n| n.at) - c.at)
            .sum()
    }

    /// The first change after `from` whose holders satisfy `pred`.
    pub fn first_after(&self, from: Instant, pred: impl Fn([bool; 2]) -> bool) -> Option<Instant> {
        self.since(from)
            .into_iter()
            .find(|c| pred(c.held))
            .map(|c| c.at)
    }

    /// The changes as (milliseconds since `origin`, node 0, node 1), for failure messages.
    pub fn describe(&self, origin: Instant) -> String {
        let parts: Vec<String> = self
            .changes
            .iter()
            .map(|c| {
                let ms = if c.at >= origin {
                    (c.at - origin).as_secs_f64() * 1e3
                } else {
                    -(origin - c.at).as_secs_f64() * 1e3
                };
                format!("{ms:+.0}ms {:?}", c.held)
            })
            .collect();
        format!(
            "[{}] ({} samples, longest step {:?})",
            parts.join(", "),
            self.samples,
            self.longest_step
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dual_time_counts_only_the_spans_where_both_held() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let tl = Timeline {
            changes: vec![
                Change {
                    at: at(0),
                    held: [true, false],
                },
                Change {
                    at: at(100),
                    held: [true, true],
                },
                Change {
                    at: at(130),
                    held: [false, true],
                },
                Change {
                    at: at(500),
                    held: [true, true],
                },
            ],
            samples: 100,
            dual_samples: 10,
            longest_step: Duration::from_millis(6),
            end: at(520),
        };
        assert_eq!(tl.dual_time_since(at(0)), Duration::from_millis(50));
        assert_eq!(tl.dual_time_since(at(120)), Duration::from_millis(30));
        assert_eq!(tl.dual_time_since(at(200)), Duration::from_millis(20));
        assert_eq!(
            tl.first_after(at(50), |h| h == [false, true]),
            Some(at(130))
        );
        assert_eq!(tl.since(at(200))[0].held, [false, true]);
    }
}
