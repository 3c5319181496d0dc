//! Reloads (`vipd reload` and SIGHUP): an unchanged Master stays Master with its VIPs, added
//! VIPs appear, a broken file changes nothing, removed instances resign, added ones start.

use std::time::{Duration, Instant};

use netns_tests::require_root;
use netns_tests::vipd::VrrpState;
use nix::sys::signal::Signal;

use crate::common::*;

#[test]
fn reload_adding_a_vip_loses_no_ping_and_a_broken_file_changes_nothing() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (old_vip, new_vip) = (lab.vip4(0), lab.vip4(1));
    let (n0, n1) = (lab.node(0), lab.node(1));
    let (high, low) = (inst("web", 51, old_vip, 150), inst("web", 51, old_vip, 100));
    let [d0, d1] = master_then_backup(
        &lab,
        &config(n0, vec![high.clone()]),
        &config(n1, vec![low.clone()]),
    );
    wait_holds(n0, old_vip, true, TOLERANCE);
    let (before0, before1) = (d0.transitions("web").len(), d1.transitions("web").len());
    let ping = pinger(&lab, old_vip, "client-ping.log");
    std::thread::sleep(Duration::from_millis(300));

    // A rolling change, Backup first, as an operator would do it.
    let mut high2 = high.clone();
    high2.vips.push(new_vip.into());
    let mut low2 = low.clone();
    low2.vips.push(new_vip.into());
    d1.rewrite(&config(n1, vec![low2])).unwrap();
    let out = d1.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("updated in place: web"), "{out}");
    d0.rewrite(&config(n0, vec![high2])).unwrap();
    let out = d0.ctl_ok(&["reload"]).unwrap();
    assert!(
        out.contains("reloaded") && out.contains("updated in place: web"),
        "{out}"
    );
    wait_holds(n0, new_vip, true, TOLERANCE);
    assert_eq!(
        answerers(&lab, new_vip),
        vec![n0.mac("eth0").unwrap()],
        "the new VIP must answer ARP from the Master alone"
    );
    assert!(!holds(n1, new_vip));
    assert!(lab.client.ping_once(new_vip.into()));
    std::thread::sleep(Duration::from_millis(500));

    let report = ping.stop().unwrap();
    eprintln!("reload: {} pings sent, {} lost", report.sent, report.lost);
    assert_eq!(
        (report.lost, report.duplicates),
        (0, 0),
        "the old VIP must not flap: {:?}",
        report.windows
    );
    assert!(report.sent > 50, "{report:?}");
    assert_eq!(
        d0.transitions("web").len(),
        before0,
        "no transition on node0; log:\n{}",
        d0.log_text()
    );
    assert_eq!(
        d1.transitions("web").len(),
        before1,
        "no transition on node1"
    );
    let w = d0.status().unwrap();
    assert_eq!(
        w.instance("web").vips,
        vec![format!("{old_vip}/24"), format!("{new_vip}/24")]
    );

    // Now a broken file: a typo on a known line.
    let good = config(n0, vec![high.clone()]).to_yaml(d0.socket_path().unwrap());
    let broken = good.replace("    priority: 150", "    priorty: 150");
    let line = broken
        .lines()
        .position(|l| l.contains("priorty"))
        .expect("typo written")
        + 1;
    d0.rewrite_yaml(&broken).unwrap();
    let status_before = d0.status().unwrap();
    let addrs_before = n0.addrs("eth0").unwrap();
    let out = d0.ctl(&["reload"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "vipd reload must exit 1: {stderr}"
    );
    let at = format!("{}:{line}:", d0.config_path().display());
    assert!(
        stderr.contains(&at) && stderr.contains("priorty"),
        "the error must name {at} and the key:\n{stderr}"
    );
    let status_after = d0.status().unwrap();
    assert_eq!(
        status_after.steady(),
        status_before.steady(),
        "a refused reload changed the status"
    );
    assert_eq!(n0.addrs("eth0").unwrap(), addrs_before);
    assert!(holds(n0, old_vip) && holds(n0, new_vip));
    assert_eq!(d0.transitions("web").len(), before0);
    assert!(d0.log_text().contains("reload refused"));
}

#[test]
fn reload_removing_an_instance_resigns_it_and_adding_one_starts_it_as_backup() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (v_web, v_api, v_db) = (lab.vip4(0), lab.vip4(1), lab.vip4(2));
    let (n0, n1) = (lab.node(0), lab.node(1));
    let web = inst("web", 51, v_web, 150);
    let api = inst("api", 52, v_api, 150);
    let db = inst("db", 53, v_db, 50);
    let peer = [
        inst("web", 51, v_web, 100),
        inst("api", 52, v_api, 100),
        inst("db", 53, v_db, 100),
    ];
    let [mut d0, mut d1] = master_then_backup(
        &lab,
        &config(n0, vec![web.clone(), api.clone()]),
        &config(n1, peer.to_vec()),
    );
    d1.wait_state(
        "db",
        VrrpState::Master,
        peer[2].master_down_interval() + START_SLACK,
    )
    .unwrap();
    wait_holds(n0, v_api, true, TOLERANCE);
    let web_before = d0.transitions("web").len();

    // api removed from node0: it resigns, node1 takes over after Skew_Time.
    d0.rewrite(&config(n0, vec![web.clone()])).unwrap();
    // The takeover is timed while the reload runs: its answer comes after the stop.
    let t0 = Instant::now();
    let limit = peer[1].skew_time() + TOLERANCE;
    let (out, took) = std::thread::scope(|s| {
        let reload = s.spawn(|| d0.ctl_ok(&["reload"]));
        let took = wait_holds(n1, v_api, true, limit);
        (reload.join().unwrap().unwrap(), took)
    });
    eprintln!(
        "removed instance handed over in {took:?}; reload answered in {:?}",
        t0.elapsed()
    );
    assert!(out.contains("stopped: api"), "{out}");
    assert!(
        !d0.log_text().contains("took longer"),
        "a removed instance must stop within its budget; log:\n{}",
        d0.log_text()
    );
    let t = d1.wait_state("api", VrrpState::Master, TOLERANCE).unwrap();
    assert!(t.reason.contains("resigned (priority 0)"), "{t:?}");
    let t = d0.transitions("api").pop().unwrap();
    assert_eq!((t.from, t.to), (VrrpState::Master, VrrpState::Init));
    assert!(!holds(n0, v_api), "a removed instance must release its VIP");
    let names: Vec<String> = d0
        .status()
        .unwrap()
        .instances
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["web"]);
    assert_eq!(answerers(&lab, v_api), vec![n1.mac("eth0").unwrap()]);

    // api back (higher priority, preempts) and db new (lower priority, stays Backup).
    let api_before = d0.transitions("api").len();
    d0.rewrite(&config(n0, vec![web.clone(), api.clone(), db.clone()]))
        .unwrap();
    let out = d0.ctl_ok(&["reload"]).unwrap();
    assert!(out.contains("started: api, db"), "{out}");
    let t = d0
        .wait_state(
            "api",
            VrrpState::Master,
            api.master_down_interval() + TOLERANCE,
        )
        .unwrap();
    assert!(t.reason.contains("preempting"), "{t:?}");
    let api_after = d0.moves_since("api", api_before);
    assert_eq!(
        api_after,
        [
            (VrrpState::Init, VrrpState::Backup),
            (VrrpState::Backup, VrrpState::Master)
        ],
        "a new instance starts as Backup"
    );
    d1.wait_state("api", VrrpState::Backup, TOLERANCE).unwrap();
    wait_holds(n0, v_api, true, TOLERANCE);
    wait_holds(n1, v_api, false, TOLERANCE);
    d0.wait_state("db", VrrpState::Backup, START_SLACK).unwrap();
    std::thread::sleep(db.master_down_interval() * 4);
    let db_seen: Vec<_> = d0
        .transitions("db")
        .iter()
        .map(|t| (t.from, t.to))
        .collect();
    assert_eq!(
        db_seen,
        [(VrrpState::Init, VrrpState::Backup)],
        "db (priority 50 against 100) must stay Backup"
    );
    assert!(holds(n1, v_db) && !holds(n0, v_db));
    assert_eq!(d1.state("db"), Some(VrrpState::Master));
    assert_eq!(
        d0.transitions("web").len(),
        web_before,
        "the untouched instance must not move"
    );
    assert!(holds(n0, v_web));
}

#[test]
fn sighup_reloads_like_vipd_reload() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let (vip, added) = (lab.vip4(0), lab.vip4(1));
    let n0 = lab.node(0);
    let web = inst("web", 51, vip, 150);
    let mut d0 = start(&lab, 0, &config(n0, vec![web.clone()]));
    settle_all(&mut d0, &config(n0, vec![web.clone()]), VrrpState::Master);
    wait_holds(n0, vip, true, TOLERANCE);
    let before = d0.transitions("web").len();

    let mut web2 = web.clone();
    web2.vips.push(added.into());
    d0.rewrite(&config(n0, vec![web2])).unwrap();
    d0.signal(Signal::SIGHUP).unwrap();
    let line = d0.wait_log("reloaded:", TOLERANCE).unwrap();
    assert!(line.contains("updated in place: web"), "{line}");
    assert!(d0.log_text().contains("SIGHUP: reloading"));
    wait_holds(n0, added, true, TOLERANCE);
    assert!(holds(n0, vip));
    assert_eq!(answerers(&lab, added), vec![n0.mac("eth0").unwrap()]);
    assert_eq!(d0.transitions("web").len(), before, "no flap on SIGHUP");
    assert!(d0.try_status().is_none(), "vipd must survive SIGHUP");
}

#[test]
fn a_fifo_as_the_reloaded_config_is_refused_and_sigterm_still_stops_vipd() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let n0 = lab.node(0);
    let web = inst("web", 51, vip, 150);
    let mut d0 = start(&lab, 0, &config(n0, vec![web.clone()]));
    settle_all(&mut d0, &config(n0, vec![web]), VrrpState::Master);
    // A local user able to write the config's directory leaves a FIFO there: opening it
    // for reading would wait for a writer for ever.
    let path = d0.config_path().to_owned();
    std::fs::remove_file(&path).unwrap();
    nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    d0.signal(Signal::SIGHUP).unwrap();
    d0.wait_log("reload refused", TOLERANCE).unwrap();
    let log = d0.log_text();
    assert!(log.contains("is a FIFO, not a regular file"), "{log}");
    assert!(
        d0.try_status().is_none(),
        "vipd must survive the refused reload"
    );
    assert!(holds(n0, vip), "the running configuration stays");
    d0.signal(Signal::SIGTERM).unwrap();
    let t0 = Instant::now();
    let status = d0.wait_exit(Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "SIGTERM after a FIFO reload: {status:?} after {:?}; log:\n{}",
        t0.elapsed(),
        d0.log_text()
    );
    assert!(!holds(n0, vip), "a clean stop removes the VIP");
}
