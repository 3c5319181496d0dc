//! Netlink: addresses, link events, macvlan with the virtual MAC and its sysctls.

use vipd::net::macvlan::vmac;
use vipd::net::{IpNet, LinkEvents, NetError, Netlink, sysctl};
use vipd::vrrp::Family;

use crate::WAIT;
use crate::lab::{Lab, join, json, privileged, run_in_netns, sh};

/// The `addr_info` entry of `ip` on `ifname` in `ns`.
fn addr_info(ns: &str, ifname: &str, ip: &str) -> Option<serde_json::Value> {
    let v = json(&["ip", "-n", ns, "-j", "addr", "show", "dev", ifname]);
    v[0]["addr_info"]
        .as_array()?
        .iter()
        .find(|a| a["local"] == ip)
        .cloned()
}

#[test]
fn addresses_v4_with_label_and_v6_without_dad() {
    if !privileged() {
        return;
    }
    // DAD on, so that an address without IFA_F_NODAD would show as tentative.
    let lab = Lab::new(true);
    let (ns, ifname) = (lab.ns_a.clone(), lab.if_a.clone());
    join(run_in_netns(&lab.ns_a, move || async move {
        let nl = Netlink::new().unwrap();
        let idx = nl.link_by_name(&ifname).await.unwrap().index;
        let v4: IpNet = "10.77.0.100/24".parse().unwrap();
        let v6: IpNet = "2001:db8::100/64".parse().unwrap();
        let label = format!("{ifname}:vip");

        let bad = nl.add_addr(idx, v4, Some("vip")).await.unwrap_err();
        assert!(matches!(bad, NetError::Invalid { .. }), "{bad}");
        assert!(!nl.has_addr(idx, v4.addr()).await.unwrap());

        nl.add_addr(idx, v4, Some(&label)).await.unwrap();
        nl.add_addr(idx, v6, None).await.unwrap();
        // A control added the ordinary way: DAD really runs on this interface.
        sh(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            "2001:db8::200/64",
            "dev",
            &ifname,
        ]);

        assert!(nl.has_addr(idx, v4.addr()).await.unwrap());
        assert!(nl.has_addr(idx, v6.addr()).await.unwrap());
        let ours = addr_info(&ns, &ifname, "10.77.0.100").expect("v4 VIP listed");
        assert_eq!(ours["label"], label.as_str());
        assert_eq!(ours["prefixlen"], 24);
        let ours6 = addr_info(&ns, &ifname, "2001:db8::100").expect("v6 VIP listed");
        assert!(
            ours6.get("tentative").is_none() && ours6.get("dadfailed").is_none(),
            "{ours6}"
        );
        assert_eq!(ours6["nodad"], true);
        let control = addr_info(&ns, &ifname, "2001:db8::200").expect("control listed");
        assert_eq!(
            control["tentative"], true,
            "the control should still be in DAD"
        );
        let listed = nl.addrs(idx).await.unwrap();
        let a6 = listed
            .iter()
            .find(|a| a.net == v6)
            .expect("addrs lists the v6 VIP");
        assert!(!a6.tentative() && !a6.dad_failed());
        let a4 = listed
            .iter()
            .find(|a| a.net == v4)
            .expect("addrs lists the v4 VIP");
        assert_eq!(a4.label.as_deref(), Some(label.as_str()));

        let dup = nl.add_addr(idx, v4, Some(&label)).await.unwrap_err();
        assert_eq!(
            dup.to_string(),
            format!("adding 10.77.0.100/24 to {ifname}: File exists")
        );
        assert_eq!(dup.errno(), Some(nix::errno::Errno::EEXIST));

        nl.del_addr(idx, v4).await.unwrap();
        nl.del_addr(idx, v6).await.unwrap();
        assert!(!nl.has_addr(idx, v4.addr()).await.unwrap());
        assert!(!nl.has_addr(idx, v6.addr()).await.unwrap());
        assert!(addr_info(&ns, &ifname, "10.77.0.100").is_none());
        let gone = nl.del_addr(idx, v4).await.unwrap_err();
        assert!(
            gone.to_string()
                .starts_with(&format!("removing 10.77.0.100/24 from {ifname}: ")),
            "{gone}"
        );
    }));
}

#[test]
fn link_events_report_down_then_up() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let (ns, ifname) = (lab.ns_a.clone(), lab.if_a.clone());
    join(run_in_netns(&lab.ns_a, move || async move {
        let idx = Netlink::new()
            .unwrap()
            .link_by_name(&ifname)
            .await
            .unwrap()
            .index;
        let mut events = LinkEvents::subscribe().await.unwrap();
        let mut seen = Vec::new();
        for state in ["down", "up"] {
            sh(&["ip", "-n", &ns, "link", "set", &ifname, state]);
            let ev = tokio::time::timeout(WAIT, async {
                loop {
                    let ev = events.next().await.expect("event stream ended");
                    if ev.index == idx {
                        break ev;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no event after setting {ifname} {state}"));
            assert_eq!(ev.name, ifname);
            seen.push(ev.up);
        }
        assert_eq!(seen, vec![false, true]);
    }));
}

#[test]
fn macvlan_with_vmac_bridge_mode_up_with_sysctls_then_deleted() {
    if !privileged() {
        return;
    }
    let lab = Lab::new(false);
    let name = format!("vtm{}", &lab.if_a[3..]);
    let (ns, parent, mv) = (lab.ns_a.clone(), lab.if_a.clone(), name.clone());
    let (index, saved) = join(run_in_netns(&lab.ns_a, move || async move {
        let nl = Netlink::new().unwrap();
        let parent_idx = nl.link_by_name(&parent).await.unwrap().index;
        let index = nl
            .create_macvlan(parent_idx, &mv, vmac(Family::V4, 51))
            .await
            .unwrap();
        sysctl::prepare_vmac(&mv).unwrap();
        let saved = sysctl::prepare_vmac_parent(&parent).unwrap();
        let link = nl.link_by_index(index).await.unwrap();
        assert!(link.up, "{link:?}");
        assert_eq!(link.mac, Some(vmac(Family::V4, 51)));
        let dup = nl
            .create_macvlan(parent_idx, &mv, vmac(Family::V4, 51))
            .await
            .unwrap_err();
        assert!(dup.to_string().contains("File exists"), "{dup}");
        (index, saved)
    }));
    let v = json(&["ip", "-n", &ns, "-d", "-j", "link", "show", "dev", &name]);
    assert_eq!(v[0]["address"], "00:00:5e:00:01:33");
    assert_eq!(v[0]["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(v[0]["linkinfo"]["info_data"]["mode"], "bridge");
    assert!(
        v[0]["flags"].as_array().unwrap().iter().any(|f| f == "UP"),
        "{v}"
    );
    let read = |ifname: &str, key: &str| {
        sh(&[
            "ip",
            "netns",
            "exec",
            &ns,
            "cat",
            &format!("/proc/sys/net/ipv4/conf/{ifname}/{key}"),
        ])
        .trim()
        .to_owned()
    };
    assert_eq!(read(&name, "arp_ignore"), "1");
    assert_eq!(read(&name, "accept_local"), "1");
    assert_eq!(read(&name, "rp_filter"), "0");
    assert_eq!(read(&name, "promote_secondaries"), "1");
    assert_eq!(
        (read(&lab.if_a, "arp_ignore"), read(&lab.if_a, "arp_filter")),
        ("1".into(), "1".into())
    );

    join(run_in_netns(&lab.ns_a, move || async move {
        saved.restore().unwrap();
        let nl = Netlink::new().unwrap();
        nl.delete_link(index).await.unwrap();
        let err = nl.link_by_index(index).await.unwrap_err();
        assert!(matches!(err, NetError::IfIndexNotFound(_)), "{err:?}");
    }));
    assert_eq!(
        (read(&lab.if_a, "arp_ignore"), read(&lab.if_a, "arp_filter")),
        ("0".into(), "0".into())
    );
    let listed = sh(&["ip", "-n", &ns, "-o", "link", "show"]);
    assert!(!listed.contains(&name), "macvlan still there: {listed}");
}
