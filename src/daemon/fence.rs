//! The fence gate's command: before a Backup takes over from a Master that went silent, it
//! fences that Master (powers it off, cuts it off) so a Master that is alive but unheard
//! cannot keep answering for the addresses. Pacemaker calls this STONITH; keepalived has no
//! equivalent. Run once per question on the scripts runtime, by the same runner (and under
//! the same user and descriptor limit) as checks and notify commands.

use std::net::IpAddr;
use std::time::Duration;

use tracing::{error, info, warn};

use super::driver::GateQuestion;
use super::io::LiveIo;
use super::stats::FENCE_COUNTER_PREFIX;
use crate::config::{Fence, OnFenceFailure};
use crate::control::protocol::Event;
use crate::track::process::{self, RunAs};
use crate::vrrp::router::{GateAnswer, GateKind, Input, Router};

/// A ready-to-run fence command.
#[derive(Debug)]
pub struct Fencer {
    fence: Fence,
    run_as: Option<RunAs>,
}

/// How one question to the fence gate ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceOutcome {
    /// The command exited 0: the peer is fenced.
    Fenced,
    /// The command failed (exit status, signal, timeout, could not start).
    Failed,
    /// No Master was heard since this node entered Backup (a startup silence): nothing to
    /// fence, so nothing was run.
    NoPeer,
}

impl FenceOutcome {
    /// The metric label (`vipd_fence_runs_total{outcome}`).
    pub fn label(self) -> &'static str {
        self.counter().trim_start_matches(FENCE_COUNTER_PREFIX)
    }

    /// The instance counter (see [`super::stats::Stats::bump`]).
    pub fn counter(self) -> &'static str {
        match self {
            FenceOutcome::Fenced => "fence_fenced",
            FenceOutcome::Failed => "fence_failed",
            FenceOutcome::NoPeer => "fence_no_peer",
        }
    }
}

/// What the gate answers, and what to log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceAnswer {
    /// How it ended.
    pub outcome: FenceOutcome,
    /// The takeover may go on.
    pub granted: bool,
    /// The peer was really fenced (later gates may rely on it).
    pub fenced: bool,
    /// One line: what ran, its exit, duration and the tail of its stderr.
    pub detail: String,
}

/// The environment variables a fence command is given, besides its arguments.
pub const ENV_PEER: &str = "VIPD_FENCE_PEER";
/// The instance's name.
pub const ENV_INSTANCE: &str = "VIPD_INSTANCE";
/// The instance's VRID.
pub const ENV_VRID: &str = "VIPD_VRID";

/// The last bytes of a command's stderr worth putting in a log line.
const STDERR_TAIL: usize = 200;

impl Fencer {
    /// The command of `fence`, run as `run_as` when vipd is root.
    pub fn new(fence: Fence, run_as: Option<RunAs>) -> Fencer {
        Fencer { fence, run_as }
    }

    /// What the command line is, with what vipd appends to it for `peer`.
    pub fn spec(&self, peer: IpAddr, instance: &str, vrid: u8) -> process::Spec {
        let mut argv = self.fence.argv.clone();
        argv.extend([peer.to_string(), instance.to_owned(), vrid.to_string()]);
        process::Spec {
            argv,
            env: vec![
                (ENV_PEER.to_owned(), peer.to_string()),
                (ENV_INSTANCE.to_owned(), instance.to_owned()),
                (ENV_VRID.to_owned(), vrid.to_string()),
            ],
            run_as: self.run_as,
            timeout: self.fence.timeout,
        }
    }

    /// Fences `peer` (the silent Master) of `instance`. With no peer there is nothing to
    /// fence: a node that never heard a Master cannot name one, and refusing would leave
    /// a cluster whose first node starts alone without a Master for ever.
    pub async fn run(&self, peer: Option<IpAddr>, instance: &str, vrid: u8) -> FenceAnswer {
        let Some(peer) = peer else {
            return FenceAnswer {
                outcome: FenceOutcome::NoPeer,
                granted: true,
                fenced: false,
                detail: "no Master heard since entering Backup: nothing to fence".into(),
            };
        };
        let out = process::run(&self.spec(peer, instance, vrid)).await;
        self.judge(peer, &out.exit, out.elapsed, &out.stderr.to_string())
    }

    /// The answer for a fence of `peer` that ended with `exit` after `elapsed`.
    pub fn judge(
        &self,
        peer: IpAddr,
        exit: &process::Exit,
        elapsed: Duration,
        stderr: &str,
    ) -> FenceAnswer {
        let ok = exit.success();
        let mut detail = format!(
            "fence of {peer} by `{}`: {exit} after {:.2}s",
            self.fence.argv.join(" "),
            elapsed.as_secs_f64()
        );
        if !stderr.is_empty() {
            let start = stderr
                .char_indices()
                .map(|(i, _)| i)
                .find(|&i| stderr.len() - i <= STDERR_TAIL)
                .unwrap_or(stderr.len());
            detail.push_str(&format!("; stderr: {:?}", &stderr[start..]));
        }
        let proceed = self.fence.on_failure == OnFenceFailure::Proceed;
        if !ok && proceed {
            detail.push_str("; on_failure: proceed, taking over anyway");
        }
        FenceAnswer {
            outcome: if ok {
                FenceOutcome::Fenced
            } else {
                FenceOutcome::Failed
            },
            granted: ok || proceed,
            fenced: ok,
            detail,
        }
    }
}

impl LiveIo {
    /// Answers the fence gate: runs the fence command off the routers' thread, then logs,
    /// counts and records the outcome and hands the router its answer.
    pub(super) fn fence(&mut self, router: &Router, question: GateQuestion) {
        let settings = self.settings.borrow();
        let fencer = settings.fence.clone();
        let (inbox, stats, events) = (self.inbox.clone(), self.stats.clone(), self.events.clone());
        let name = self.name.to_string();
        let vrid = router.config().vrid;
        let (state, priority) = (router.state().to_string(), router.priority());
        settings.scripts.spawn(async move {
            let answer = match &fencer {
                Some(f) => f.run(question.peer, &name, vrid).await,
                // Only if a reload removed the fence under a waiting router: nothing to run.
                None => FenceAnswer {
                    outcome: FenceOutcome::NoPeer,
                    granted: true,
                    fenced: false,
                    detail: "no fence configured any more".into(),
                },
            };
            let detail = &answer.detail;
            match (answer.outcome, answer.granted) {
                (FenceOutcome::Fenced, _) => {
                    info!(instance = %name, %detail, "fenced the silent Master")
                }
                (FenceOutcome::NoPeer, _) => info!(instance = %name, %detail, "fence skipped"),
                (FenceOutcome::Failed, true) => error!(
                    instance = %name,
                    %detail,
                    "FENCE FAILED and on_failure is proceed: taking over while the silent \
                     Master may still hold the addresses"
                ),
                (FenceOutcome::Failed, false) => warn!(
                    instance = %name,
                    %detail,
                    "fence failed: staying Backup, fencing again at the next master-down"
                ),
            }
            stats.bump(answer.outcome.counter());
            let now = std::time::SystemTime::now();
            stats.set_last_fence(format!(
                "{} at {}: {detail}",
                answer.outcome.label(),
                humantime::format_rfc3339_seconds(now)
            ));
            // Followers of `vipd events` see it; a receiver-less stream is no error.
            let _ = events.send(Event {
                time: humantime::format_rfc3339_millis(now).to_string(),
                instance: name.clone(),
                from: state.clone(),
                to: state,
                reason: detail.clone(),
                priority: Some(priority),
                master: question.peer.map(|p| p.to_string()),
                group: false,
                fence: Some(answer.outcome.label().to_owned()),
            });
            let _ = inbox
                .send(Input::Gate(GateAnswer {
                    gate: GateKind::Fence,
                    attempt: question.attempt,
                    granted: answer.granted,
                    detail: answer.detail,
                    fenced: answer.fenced,
                }))
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::track::process::Exit;

    fn fencer(on_failure: OnFenceFailure) -> Fencer {
        Fencer::new(
            Fence {
                argv: vec!["/usr/local/sbin/fence-peer".into(), "--hard".into()],
                timeout: Duration::from_secs(10),
                on_failure,
            },
            None,
        )
    }

    fn peer() -> IpAddr {
        "10.0.0.2".parse().unwrap()
    }

    #[test]
    fn the_peer_instance_and_vrid_are_appended_and_in_the_environment() {
        let spec = fencer(OnFenceFailure::Retry).spec(peer(), "web", 51);
        assert_eq!(
            spec.argv,
            [
                "/usr/local/sbin/fence-peer",
                "--hard",
                "10.0.0.2",
                "web",
                "51"
            ]
        );
        assert_eq!(
            spec.env,
            [
                ("VIPD_FENCE_PEER".to_owned(), "10.0.0.2".to_owned()),
                ("VIPD_INSTANCE".to_owned(), "web".to_owned()),
                ("VIPD_VRID".to_owned(), "51".to_owned()),
            ]
        );
        assert_eq!(spec.timeout, Duration::from_secs(10));
    }

    #[test]
    fn only_exit_zero_fences_and_proceed_grants_a_failure_without_claiming_a_fence() {
        let f = fencer(OnFenceFailure::Retry);
        let ok = f.judge(peer(), &Exit::Code(0), Duration::from_millis(120), "");
        assert_eq!(
            (ok.outcome, ok.granted, ok.fenced),
            (FenceOutcome::Fenced, true, true)
        );
        for exit in [Exit::Code(1), Exit::TimedOut, Exit::Signal(9)] {
            let no = f.judge(peer(), &exit, Duration::from_secs(1), "ipmi: no route");
            assert_eq!(
                (no.outcome, no.granted, no.fenced),
                (FenceOutcome::Failed, false, false)
            );
            assert!(no.detail.contains("ipmi: no route"), "{}", no.detail);
            let on = fencer(OnFenceFailure::Proceed).judge(peer(), &exit, Duration::ZERO, "");
            assert_eq!((on.granted, on.fenced), (true, false));
            assert!(on.detail.contains("taking over anyway"), "{}", on.detail);
        }
    }

    #[test]
    fn a_long_stderr_is_cut_to_its_tail() {
        let long = format!("{}END", "é".repeat(500));
        let a = fencer(OnFenceFailure::Retry).judge(peer(), &Exit::Code(1), Duration::ZERO, &long);
        assert!(a.detail.ends_with("END\""), "{}", a.detail);
        assert!(a.detail.len() < 400, "{}", a.detail);
    }

    #[tokio::test]
    async fn without_a_peer_nothing_runs_and_the_takeover_goes_on() {
        // A program that cannot exist: had it been run, the answer would be a failure.
        let f = Fencer::new(
            Fence {
                argv: vec!["/nonexistent/fence".into()],
                timeout: Duration::from_secs(1),
                on_failure: OnFenceFailure::Retry,
            },
            None,
        );
        let a = f.run(None, "web", 51).await;
        assert_eq!(
            (a.outcome, a.granted, a.fenced),
            (FenceOutcome::NoPeer, true, false)
        );
        assert_eq!(
            (a.outcome.label(), a.outcome.counter()),
            ("no_peer", "fence_no_peer")
        );
        let ran = f.run(Some(peer()), "web", 51).await;
        assert_eq!((ran.outcome, ran.granted), (FenceOutcome::Failed, false));
    }
}
