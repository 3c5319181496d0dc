//! `vrrp_track_process NAME { ... }` to a `checks.NAME.process` entry, with keepalived's
//! keywords one for one (keepalived.conf(5), "VRRP track processes").

use super::model::OutCheck;
use super::values::{int, secs};
use super::{Ctx, Script};
use crate::convert::emit::quote;
use crate::convert::tree::Node;

/// keepalived's `delay`, `fork_delay` and `terminate_delay` are capped as vipd's are.
const MAX_DELAY_US: u64 = crate::config::MAX_CHECK_INTERVAL.as_micros() as u64;

pub(super) fn read(cx: &mut Ctx<'_>, block: &Node) {
    let Some(name) = block.arg() else {
        return cx.bad_value(block, "a process tracker name");
    };
    let mut check = OutCheck::default();
    let mut fields: Vec<(&'static str, String)> = Vec::new();
    let mut process: Option<(String, Vec<String>)> = None;
    let mut param_match = None;
    let mut weight = 0;
    let (mut delay, mut fork, mut terminate) = (None, None, None);
    for n in block.children() {
        match n.name.as_str() {
            "process" => match n.args.split_first() {
                Some((p, args)) => process = Some((p.clone(), args.to_vec())),
                None => cx.bad_value(n, "a process name"),
            },
            "param_match" => match n.arg() {
                Some(m @ ("initial" | "partial")) => param_match = Some(m.to_owned()),
                // keepalived's bare param_match: the command has exactly these parameters.
                None => param_match = Some("exact".to_owned()),
                Some(_) => cx.bad_value(n, "initial or partial"),
            },
            "full_command" => fields.push(("full_command", "true".into())),
            "quorum" | "quorum_max" => match int(n.arg(), 0, 65535) {
                Some(v) => fields.push((
                    if n.name == "quorum" {
                        "quorum"
                    } else {
                        "quorum_max"
                    },
                    v.to_string(),
                )),
                None => cx.bad_value(n, "a count 0..=65535"),
            },
            "delay" | "fork_delay" | "terminate_delay" => match n.arg().and_then(secs) {
                Some(us) => {
                    let us = us.min(MAX_DELAY_US);
                    match n.name.as_str() {
                        "delay" => delay = Some(us),
                        "fork_delay" => fork = Some(us),
                        _ => terminate = Some(us),
                    }
                }
                None => cx.bad_value(n, "seconds"),
            },
            "weight" => match (int(n.arg(), -254, 254), n.args.get(1)) {
                (Some(w), None) => weight = w as i32,
                (Some(_), Some(_)) => cx.skip_node(n, "'reverse' weights are not supported"),
                (None, _) => cx.bad_value(n, "-254..=254"),
            },
            _ => cx.skip_node(n, "no vipd equivalent in a process check"),
        }
    }
    let Some((program, args)) = process else {
        return cx.skip_node(
            block,
            "vrrp_track_process without a 'process' line; keepalived rejects it",
        );
    };
    let mut out = vec![("name", quote(&program))];
    if !args.is_empty() {
        let list: Vec<String> = args.iter().map(|a| quote(a)).collect();
        out.push(("args", format!("[{}]", list.join(", "))));
    }
    if let Some(m) = param_match.or_else(|| (!args.is_empty()).then(|| "exact".into())) {
        out.push(("match", m));
    }
    out.extend(fields);
    let dur = super::values::duration;
    if let Some(d) = delay {
        out.push(("delay", quote(&dur(d))));
    }
    if let Some(d) = fork {
        out.push(("fork_delay", quote(&dur(d))));
    }
    if let Some(d) = terminate {
        out.push(("terminate_delay", quote(&dur(d))));
    }
    check.process = out;
    let out_name = cx.names.claim("checks", name);
    if out_name != name {
        check.notes.push(("", format!("keepalived name: {name}")));
    }
    cx.out.checks.push((out_name.clone(), check));
    cx.processes
        .insert(name.to_owned(), Script { out_name, weight });
}
