//! Trackers: reading track_interface / track_script / track_file / track_process blocks and resolving
//! them into vipd `track` entries with keepalived's weight rules applied.

use super::model::{OutInstance, OutTrack};
use super::values::int;
use super::{Ctx, RawTrack, TrackKind};
use crate::convert::tree::Node;

/// Reads a track_interface / track_script / track_file block.
pub(super) fn read(cx: &mut Ctx<'_>, block: &Node) -> Vec<RawTrack> {
    let kind = match block.name.as_str() {
        "track_interface" => TrackKind::Interface,
        "track_script" => TrackKind::Script,
        "track_process" => TrackKind::Process,
        _ => TrackKind::File,
    };
    let mut out = Vec::new();
    for n in block.children() {
        let weight = match n.args.as_slice() {
            [] => None,
            [w, v] if w == "weight" => match int(Some(v), -254, 254) {
                Some(v) => Some(v as i32),
                None => {
                    cx.bad_value(n, "weight -254..=254");
                    continue;
                }
            },
            [w, _, r] if w == "weight" && (r == "noreverse" || r == "no_reverse") => {
                int(n.args.get(1).map(String::as_str), -254, 254).map(|v| v as i32)
            }
            _ => {
                cx.skip_node(
                    n,
                    "only 'weight N' is supported on a tracker ('reverse' is not)",
                );
                continue;
            }
        };
        out.push(RawTrack {
            kind,
            name: n.name.clone(),
            weight,
            loc: n.loc.clone(),
        });
    }
    out
}

/// Resolves trackers: default weights, sync-group and owner rules. Weights carry over as
/// they are: vipd adds a positive weight while healthy and a negative one while failed, as
/// keepalived does.
pub(super) fn resolve(
    cx: &mut Ctx<'_>,
    tracks: &[RawTrack],
    o: &mut OutInstance,
    group: Option<usize>,
) -> Vec<OutTrack> {
    let keep_weights = group.is_none_or(|g| cx.groups[g].keep_weights);
    let group_tracks: Vec<RawTrack> = group
        .map(|g| cx.groups[g].tracks.clone())
        .unwrap_or_default();
    let mut out: Vec<OutTrack> = Vec::new();
    let mut dropped_for_group = Vec::new();
    let mut zeroed_for_group = Vec::new();
    for (t, from_group) in tracks
        .iter()
        .map(|t| (t, false))
        .chain(group_tracks.iter().map(|t| (t, true)))
    {
        let (kind, target, default) = match t.kind {
            TrackKind::Interface => ("interface", t.name.clone(), 0),
            TrackKind::Script => match cx.scripts.get(&t.name) {
                Some(s) => ("check", s.out_name.clone(), s.weight),
                None => {
                    cx.skip(
                        &t.loc,
                        format!("track_script {}", t.name),
                        "no vrrp_script of that name (keepalived ignores it too)",
                    );
                    continue;
                }
            },
            TrackKind::Process => match cx.processes.get(&t.name) {
                Some(s) => ("check", s.out_name.clone(), s.weight),
                None => {
                    cx.skip(
                        &t.loc,
                        format!("track_process {}", t.name),
                        "no vrrp_track_process of that name",
                    );
                    continue;
                }
            },
            TrackKind::File => match cx.files.get(&t.name).map(|f| (f.path.clone(), f.weight)) {
                // vipd's file tracker has keepalived's semantics: value x weight, and with
                // weight 0 any non-zero value is a FAULT.
                Some((path, weight)) => ("file", path, weight),
                None => {
                    cx.skip(
                        &t.loc,
                        format!("track_file {}", t.name),
                        "no track_file block of that name",
                    );
                    continue;
                }
            },
        };
        let mut weight = t.weight.unwrap_or(default);
        // keepalived (without sync_group_tracking_weight) removes a member's weighted
        // track_script entries, and zeroes the weights of its other trackers, which then
        // put the instance in FAULT when they fail.
        if weight != 0 && !from_group && !keep_weights {
            if kind == "check" {
                dropped_for_group.push(format!("check {target} (weight {weight})"));
                continue;
            }
            zeroed_for_group.push(format!("{kind} {target} (weight {weight})"));
            weight = 0;
        }
        out.push(OutTrack {
            kind,
            target,
            weight,
            note: None,
        });
    }
    if !dropped_for_group.is_empty() {
        o.notes.push(("track", format!("keepalived ignores weighted track_script entries of sync-group members (no sync_group_tracking_weight), so these are left out: {}", dropped_for_group.join(", "))));
    }
    if !zeroed_for_group.is_empty() {
        o.notes.push(("track", format!("keepalived sets the weights of a sync-group member's other trackers to 0 (FAULT while failed): {}", zeroed_for_group.join(", "))));
    }
    if o.priority == 255 {
        let before = out.len();
        out.retain(|t| t.weight == 0);
        if out.len() != before {
            o.notes.push(("track", "keepalived never adjusts the address owner's priority, so its weighted trackers are left out".to_owned()));
        }
        return out;
    }
    out
}
