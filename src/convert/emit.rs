//! Writing the converted configuration as YAML text, with the rewrite comments placed above
//! the keys they explain. Every string is double-quoted, so no value can change type or
//! meaning in YAML (`on`, `1e3`, `#`, `: `).

use std::fmt::Write;

use super::map::Out;
use super::map::model::OutCheck;
use super::map::model::{Notes, OutGarp, OutInstance};

/// A YAML double-quoted scalar.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Writer {
    buf: String,
}

impl Writer {
    fn comment(&mut self, indent: usize, text: &str) {
        for line in text.lines() {
            let _ = writeln!(self.buf, "{:indent$}# {line}", "");
        }
    }

    fn line(&mut self, indent: usize, text: &str) {
        let _ = writeln!(self.buf, "{:indent$}{text}", "");
    }

    /// Comments for `key` from `notes`.
    fn notes(&mut self, indent: usize, notes: &Notes, key: &str) {
        for (k, text) in notes {
            if *k == key {
                self.comment(indent, text);
            }
        }
    }

    /// `key: value` preceded by its notes.
    fn field(&mut self, indent: usize, notes: &Notes, key: &'static str, value: &str) {
        self.notes(indent, notes, key);
        self.line(indent, &format!("{key}: {value}"));
    }
}

/// The whole file. `source` names the keepalived file in the header.
pub fn yaml(out: &Out, source: &str) -> String {
    let mut w = Writer { buf: String::new() };
    w.comment(
        0,
        &format!("vipd configuration converted from {source} by vipd convert."),
    );
    w.comment(
        0,
        "Comments explain where keepalived's behaviour is rewritten. Check with: vipd check FILE",
    );
    for h in &out.header {
        w.comment(0, h);
    }
    w.line(0, "");
    if out.router_id.is_some()
        || out.script_user.is_some()
        || out.realtime_priority.is_some()
        || out.notify_fifo.is_some()
        || !out.global_notes.is_empty()
    {
        w.line(0, "global:");
        w.notes(2, &out.global_notes, "");
        if let Some(id) = &out.router_id {
            w.line(2, &format!("router_id: {}", quote(id)));
        }
        if let Some(u) = &out.script_user {
            w.line(2, &format!("script_user: {}", quote(u)));
        }
        if let Some(p) = out.realtime_priority {
            w.line(2, &format!("realtime_priority: {p}"));
        }
        if let Some(p) = &out.notify_fifo {
            w.line(2, &format!("event_log: {}", quote(p)));
            w.line(2, "event_log_format: keepalived");
        }
        w.line(0, "");
    }
    if !out.checks.is_empty() {
        w.line(0, "checks:");
        for (name, c) in &out.checks {
            check(&mut w, name, c);
        }
        w.line(0, "");
    }
    w.line(0, "instances:");
    for (name, i) in &out.instances {
        instance(&mut w, name, i);
    }
    if !out.groups.is_empty() {
        w.line(0, "");
        w.line(0, "groups:");
        for (name, members, notes, notify) in &out.groups {
            for n in notes {
                w.comment(2, n);
            }
            let list: Vec<String> = members.iter().map(|m| quote(m)).collect();
            if notify.is_empty() {
                w.line(2, &format!("{name}: [{}]", list.join(", ")));
                continue;
            }
            w.line(2, &format!("{name}:"));
            w.line(4, &format!("members: [{}]", list.join(", ")));
            w.line(4, "notify:");
            for (event, cmd) in notify {
                w.line(6, &format!("{event}: {}", quote(cmd)));
            }
        }
    }
    w.buf
}

fn dur(us: u64) -> String {
    quote(&super::map::values_duration(us))
}

fn check(w: &mut Writer, name: &str, c: &OutCheck) {
    w.notes(2, &c.notes, "");
    w.line(2, &format!("{name}:"));
    if !c.process.is_empty() {
        w.line(4, "process:");
        for (key, value) in &c.process {
            w.field(6, &c.notes, key, value);
        }
        return;
    }
    w.field(4, &c.notes, c.kind.0, &quote(&c.kind.1));
    w.field(4, &c.notes, "interval", &dur(c.interval));
    if let Some(t) = c.timeout {
        w.field(4, &c.notes, "timeout", &dur(t));
    }
    if let Some(r) = c.rise {
        w.field(4, &c.notes, "rise", &r.to_string());
    }
    if let Some(f) = c.fall {
        w.field(4, &c.notes, "fall", &f.to_string());
    }
    if let Some(u) = &c.user {
        w.field(4, &c.notes, "user", &quote(u));
    }
}

fn instance(w: &mut Writer, name: &str, i: &OutInstance) {
    let n = &i.notes;
    w.notes(2, n, "");
    w.line(2, &format!("{name}:"));
    w.field(4, n, "interface", &quote(&i.interface));
    w.field(4, n, "vrid", &i.vrid.to_string());
    w.field(4, n, "version", &i.version.to_string());
    w.field(4, n, "priority", &i.priority.to_string());
    w.field(4, n, "advert_interval", &dur(i.advert));
    w.field(4, n, "preempt", if i.preempt { "true" } else { "false" });
    if let Some(d) = i.preempt_delay {
        w.field(4, n, "preempt_delay", &dur(d));
    }
    if let Some(d) = i.startup_delay {
        w.field(4, n, "startup_delay", &dur(d));
    }
    if let Some(d) = i.down_timer_adverts {
        w.field(4, n, "down_timer_adverts", &d.to_string());
    }
    w.notes(4, n, "vips");
    // An election-only instance says so explicitly: a missing `vips` key is an error.
    w.line(
        4,
        if i.vips.is_empty() {
            "vips: []"
        } else {
            "vips:"
        },
    );
    for (addr, label, advertised) in &i.vips {
        let mut fields = Vec::new();
        if let Some(l) = label {
            fields.push(format!("label: {}", quote(l)));
        }
        if !advertised {
            fields.push("advertise: false".to_owned());
        }
        if fields.is_empty() {
            w.line(6, &format!("- {}", quote(addr)));
        } else {
            w.line(
                6,
                &format!("- {{address: {}, {}}}", quote(addr), fields.join(", ")),
            );
        }
    }
    if let Some((source, peers)) = &i.unicast {
        w.line(4, "unicast:");
        if let Some(s) = source {
            w.line(6, &format!("source: {}", quote(&s.to_string())));
        }
        let list: Vec<String> = peers.iter().map(|p| quote(&p.to_string())).collect();
        w.line(6, &format!("peers: [{}]", list.join(", ")));
    }
    w.notes(4, n, "track");
    if !i.track.is_empty() {
        w.line(4, "track:");
        for t in &i.track {
            if let Some(note) = &t.note {
                w.comment(6, note);
            }
            w.line(
                6,
                &format!(
                    "- {{{}: {}, weight: {}}}",
                    t.kind,
                    quote(&t.target),
                    t.weight
                ),
            );
        }
    }
    if !i.notify.is_empty() {
        w.notes(4, n, "notify");
        w.line(4, "notify:");
        for (event, cmd) in &i.notify {
            w.line(6, &format!("{event}: {}", quote(cmd)));
        }
    }
    if let Some(p) = &i.auth {
        w.notes(4, n, "auth");
        w.line(4, &format!("auth: {{type: pass, password: {}}}", quote(p)));
    } else {
        w.notes(4, n, "auth");
    }
    if i.use_vmac {
        w.line(4, "use_vmac: true");
    }
    if !i.garp.is_empty() {
        w.line(4, &format!("garp: {{{}}}", garp_fields(&i.garp).join(", ")));
    }
    if let Some(y) = i.yield_advert {
        w.line(4, &format!("yield_advert: {y}"));
    }
    if !i.unicast_ttl_check {
        w.line(4, "unicast_ttl_check: false");
    }
    // Notes about preempt settings that were dropped belong with preempt, written above;
    // anything else keyed to a field that was not written still has to be shown.
    for (k, text) in n {
        let written = [
            "",
            "interface",
            "vrid",
            "version",
            "priority",
            "advert_interval",
            "preempt",
            "vips",
            "track",
            "notify",
            "auth",
        ];
        if !written.contains(k) {
            w.comment(4, text);
        }
    }
}

/// The keys of a `garp:` flow map, in the order the README lists them.
fn garp_fields(g: &OutGarp) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((initial, repeat, after)) = g.bursts {
        out.push(format!("initial: {initial}"));
        out.push(format!("repeat: {repeat}"));
        out.push(format!("repeat_after: {}", dur(after)));
    }
    if let Some((every, count)) = g.refresh {
        out.push(format!("refresh: {}", dur(every)));
        out.push(format!("refresh_count: {count}"));
    }
    if let Some(us) = g.arp_interval {
        out.push(format!("arp_interval: {}", dur(us)));
    }
    if let Some(us) = g.na_interval {
        out.push(format!("na_interval: {}", dur(us)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_escapes_what_yaml_needs() {
        assert_eq!(quote("on"), "\"on\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("x\ny\u{1}"), "\"x\\ny\\u0001\"");
    }
}
