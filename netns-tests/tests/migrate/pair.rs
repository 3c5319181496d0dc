//! Test 1: node A converted and run by vipd against keepalived on node B, then both converted.

use std::time::Duration;

use netns_tests::peers::{
    Agent, Keepalived, PairReport, VrrpSpec, exercise_pair, expect_holder, graceful_handover,
    master_down_interval,
};
use netns_tests::{Lab, LabSpec, wait_until};

use super::conf::{CHECK_FALL, CHECK_INTERVAL_S, NodeConf, PairConf, convert_and_check, write};
use super::vipd_from;

/// Runs the whole migration of a pair with this configuration shape.
pub fn run(pair_shape: impl FnOnce(&Lab) -> PairConf) {
    let lab = Lab::new(LabSpec::default()).expect("lab");
    let pair = pair_shape(&lab);
    let spec = pair.spec();
    let dir = lab.log_path("");
    let (a, b) = (NodeConf::new(true, &dir), NodeConf::new(false, &dir));
    a.set_healthy(true);
    b.set_healthy(true);
    let a_conf = write(&dir, "keepalived-a.conf", &pair.keepalived_conf(&a));
    let b_text = pair.keepalived_conf(&b);
    let a_yaml = convert_and_check(&a_conf);

    // Half migrated: vipd on A with the converted file, keepalived on B with its own.
    let mut vipd_a = vipd_from(&lab, 0, &spec, a.priority, &a_yaml);
    let mut ka_b =
        Keepalived::new(lab.node(1), &spec, b.priority, dir.clone()).with_config(b_text.clone());
    let r = exercise_pair(&lab, &spec, &mut vipd_a, &mut ka_b);
    report("vipd A vs keepalived B", &spec, &r);
    assert!(
        a.master_notifications() > 0,
        "vipd never ran node A's converted notify_master"
    );
    tracker_and_peer_stop(&lab, &spec, (&mut vipd_a, &a), (&mut ka_b, &b));

    // Fully migrated: B's file converted too, vipd on both.
    let b_yaml = convert_and_check(&write(&dir, "keepalived-b.conf", &b_text));
    let mut vipd_b = vipd_from(&lab, 1, &spec, b.priority, &b_yaml);
    let r = exercise_pair(&lab, &spec, &mut vipd_a, &mut vipd_b);
    report("vipd A vs vipd B", &spec, &r);
    tracker_and_peer_stop(&lab, &spec, (&mut vipd_a, &a), (&mut vipd_b, &b));
    // Every SIGTERM above (the crashes aside) must have finished within vipd's own budget.
    for v in [&vipd_a, &vipd_b] {
        let log = v.log_text();
        assert!(
            !log.contains("stop took longer"),
            "a vipd stop overran its budget:\n{}",
            tail(&log)
        );
    }
}

fn report(what: &str, spec: &VrrpSpec, r: &PairReport) {
    eprintln!(
        "v{} {what}: priority-0 takeover {:?}, crash takeover {:?} (on the wire)",
        spec.version, r.stop_takeover, r.crash_takeover
    );
}

/// The steps `exercise_pair` does not cover, with A (the preferred Master) and B started
/// afresh: A's check script fails and the VIP moves to B (the weight carried over); B, now
/// Master, stops and A, lowered by its tracker, takes over on B's priority 0; B comes back
/// and, outranking the lowered A, preempts; A's check recovers and A preempts back. Every
/// takeover also runs the new Master's notify_master. Ends with both stopped.
fn tracker_and_peer_stop(
    lab: &Lab,
    spec: &VrrpSpec,
    (a, a_conf): (&mut dyn Agent, &NodeConf),
    (b, b_conf): (&mut dyn Agent, &NodeConf),
) {
    let mdi = |priority| master_down_interval(spec.version, priority, spec.interval);
    // Starting takes a moment on a loaded machine; the down timer is the real wait.
    // A takeover on the down timer waits longest at the lowest priority in play, A's lowered
    // one.
    let settle = mdi(a_conf.failed_priority()) * 3 + Duration::from_secs(5);
    let verdict = Duration::from_secs(CHECK_INTERVAL_S * (CHECK_FALL + 1));
    let vip = spec.vip;
    let mut steps = Steps { a, b };

    steps.run("election (again)", |a, b| {
        b.start().map_err(|e| format!("start B: {e}"))?;
        a.start().map_err(|e| format!("start A: {e}"))?;
        expect_holder(lab, vip, a, settle)
    });
    steps.run("check script fails on the Master", |_, b| {
        let before = b_conf.master_notifications();
        a_conf.set_healthy(false);
        expect_holder(lab, vip, b, verdict + settle)?;
        notified(b_conf, before)
    });
    steps.run("SIGTERM of B, Master over a lowered A", |a, b| {
        let before = a_conf.master_notifications();
        let (took, _) = graceful_handover(lab, spec, b, &*a, a_conf.failed_priority())?;
        eprintln!(
            "v{}: {} took over {took:?} after {}'s priority 0",
            spec.version,
            a.kind(),
            b.kind()
        );
        notified(a_conf, before)
    });
    steps.run("B restarts and preempts the lowered A", |_, b| {
        b.start().map_err(|e| format!("restart B: {e}"))?;
        expect_holder(lab, vip, b, settle)
    });
    steps.run("check script recovers: A preempts back", |a, _| {
        let before = a_conf.master_notifications();
        a_conf.set_healthy(true);
        expect_holder(lab, vip, a, verdict + settle)?;
        notified(a_conf, before)
    });
    steps.run("clean shutdown of both", |a, b| {
        a.stop().map_err(|e| e.to_string())?;
        b.stop().map_err(|e| e.to_string())
    });
}

/// Waits for `node`'s notify_master to have run again since it had run `before` times.
fn notified(node: &NodeConf, before: usize) -> Result<(), String> {
    wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        node.master_notifications() > before
    })
    .map(|_| ())
    .map_err(|e| format!("notify_master of {} did not run: {e}", node.router_id))
}

/// Runs steps on the pair; a failing one panics with its name and both agents' logs.
struct Steps<'a> {
    a: &'a mut dyn Agent,
    b: &'a mut dyn Agent,
}

impl Steps<'_> {
    fn run(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut dyn Agent, &mut dyn Agent) -> Result<(), String>,
    ) {
        if let Err(why) = f(&mut *self.a, &mut *self.b) {
            panic!(
                "step `{name}` failed ({} A, {} B): {why}\n--- A ---\n{}\n--- B ---\n{}",
                self.a.kind(),
                self.b.kind(),
                tail(&self.a.log_text()),
                tail(&self.b.log_text()),
            );
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}
