//! Reading vipd's text log: state transitions and their timestamps.
//!
//! A transition line looks like
//! `2026-11-22T07:25:07.975565Z  INFO web: BACKUP -> MASTER: master down timer expired: ... instance=web ...`.

use std::fmt;
use std::str::FromStr;

/// A VRRP state as vipd prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpState {
    /// Not running (before start, after stop).
    Init,
    /// Listening for the Master.
    Backup,
    /// Holding the VIPs.
    Master,
    /// Not eligible (interface down, failed tracker).
    Fault,
}

impl FromStr for VrrpState {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "INIT" => Ok(VrrpState::Init),
            "BACKUP" => Ok(VrrpState::Backup),
            "MASTER" => Ok(VrrpState::Master),
            "FAULT" => Ok(VrrpState::Fault),
            _ => Err(()),
        }
    }
}

impl fmt::Display for VrrpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VrrpState::Init => "INIT",
            VrrpState::Backup => "BACKUP",
            VrrpState::Master => "MASTER",
            VrrpState::Fault => "FAULT",
        })
    }
}

/// One state change reported in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// When vipd logged it, in seconds since the Unix epoch (microsecond resolution).
    pub at: f64,
    /// The instance.
    pub instance: String,
    /// The state left.
    pub from: VrrpState,
    /// The state entered.
    pub to: VrrpState,
    /// Why, as vipd words it.
    pub reason: String,
}

/// Every transition of `instance` in `log`, in order.
pub fn transitions(log: &str, instance: &str) -> Vec<Transition> {
    log.lines()
        .filter_map(parse_transition)
        .filter(|t| t.instance == instance && t.from != t.to)
        .collect()
}

/// The MASTER -> MASTER events of `instance`: mastership re-asserted over a lower Master
/// (a healed split brain). Logged like transitions, but no state changed.
pub fn reasserts(log: &str, instance: &str) -> Vec<Transition> {
    log.lines()
        .filter_map(parse_transition)
        .filter(|t| t.instance == instance && t.from == t.to)
        .collect()
}

/// Parses one transition line; `None` for any other line.
pub fn parse_transition(line: &str) -> Option<Transition> {
    let (stamp, rest) = line.split_once(char::is_whitespace)?;
    let at = parse_timestamp(stamp)?;
    let rest = rest.trim_start().strip_prefix("INFO")?.trim_start();
    let (instance, rest) = rest.split_once(": ")?;
    let (from, rest) = rest.split_once(" -> ")?;
    let (to, rest) = rest.split_once(": ")?;
    // The structured fields follow the message; `instance=` is the first of them.
    let reason = rest
        .split_once(&format!(" instance={instance}"))
        .map_or(rest, |(r, _)| r);
    Some(Transition {
        at,
        instance: instance.to_string(),
        from: from.parse().ok()?,
        to: to.parse().ok()?,
        reason: reason.to_string(),
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, as tracing prints it) to Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.splitn(3, ':');
    let h: f64 = t.next()?.parse().ok()?;
    let min: f64 = t.next()?.parse().ok()?;
    let sec: f64 = t.next()?.parse().ok()?;
    let days = days_from_civil(y, m, day) as f64;
    Some(days * 86_400.0 + h * 3600.0 + min * 60.0 + sec)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
### ip netns exec vth1-0-n0 vipd run -c x.yaml
2026-11-22T07:25:07.612430Z  INFO vipd running instances=1
2026-11-22T07:25:07.612518Z  INFO web: INIT -> BACKUP: started instance=web vrid=51 from=INIT to=BACKUP priority=100 master=-
2026-11-22T07:25:07.975565Z  INFO web: BACKUP -> MASTER: master down timer expired: no advert heard for 0.36s instance=web vrid=51 from=BACKUP to=MASTER priority=100 master=10.9.9.1
2026-11-22T07:25:07.976130Z  INFO VIP added instance=\"web\" vip=10.9.9.100/24 interface=\"eth0\"
2026-11-22T07:25:08.000000Z  INFO api: INIT -> BACKUP: started instance=api vrid=52 from=INIT to=BACKUP priority=100 master=-
";

    #[test]
    fn finds_the_transitions_of_one_instance() {
        let t = transitions(LOG, "web");
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].from, t[0].to), (VrrpState::Init, VrrpState::Backup));
        assert_eq!(t[0].reason, "started");
        assert_eq!((t[1].from, t[1].to), (VrrpState::Backup, VrrpState::Master));
        assert_eq!(
            t[1].reason,
            "master down timer expired: no advert heard for 0.36s"
        );
        assert!((t[1].at - t[0].at - 0.363047).abs() < 1e-6);
        assert_eq!(transitions(LOG, "api").len(), 1);
    }

    #[test]
    fn timestamps_are_unix_seconds() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00.000000Z"), Some(0.0));
        assert_eq!(parse_timestamp("2000-03-01T00:00:01Z"), Some(951_868_801.0));
        assert_eq!(parse_timestamp("not a time"), None);
    }
}
