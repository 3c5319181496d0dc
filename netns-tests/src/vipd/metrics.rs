//! Scraping vipd's Prometheus endpoint from inside a lab node, without curl, and reading
//! samples out of the text format.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::error::{HarnessError, Result};
use crate::netns::in_netns;
use crate::node::Node;

/// `GET /metrics` on `addr` from inside `node`'s namespace; returns the body. Fails unless
/// the answer is `200`.
pub fn scrape(node: &Node, addr: SocketAddr) -> Result<String> {
    let what = format!("scrape http://{addr}/metrics in {}", node.name());
    let answer = in_netns(node.ns(), || -> std::io::Result<String> {
        let timeout = Duration::from_secs(5);
        let mut s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(b"GET /metrics HTTP/1.0\r\nHost: vipd\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        Ok(text)
    })?
    .map_err(|e| HarnessError::io(what.clone(), e))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or_else(|| HarnessError::parse(&what, answer.clone()))?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Err(HarnessError::parse(&what, head.to_string()));
    }
    Ok(body.to_string())
}

/// The value of the sample `name{labels}` in a text exposition, if present. `labels` must
/// all match; the sample may carry more labels than those given.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_sample)
        .find(|(n, ls, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, _, v)| v)
}

type Sample = (String, Vec<(String, String)>, f64);

/// Parses `name{k="v",...} value` (label values without escaped quotes, which vipd's label
/// values never need).
fn parse_sample(line: &str) -> Option<Sample> {
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.to_string(), v.trim_matches('"').to_string()))
                })
                .collect::<Option<Vec<_>>>()?;
            (name, labels)
        }
    };
    Some((name.to_string(), labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# HELP vipd_instance_state Current state
# TYPE vipd_instance_state gauge
vipd_instance_state{instance=\"web\",state=\"MASTER\"} 1
vipd_instance_state{instance=\"web\",state=\"BACKUP\"} 0
vipd_transitions_total{instance=\"web\",from=\"BACKUP\",to=\"MASTER\",reason=\"master_down\"} 3
vipd_up 1
# EOF
";

    #[test]
    fn finds_samples_by_name_and_labels() {
        let state = |s| {
            sample(
                TEXT,
                "vipd_instance_state",
                &[("instance", "web"), ("state", s)],
            )
        };
        assert_eq!(state("MASTER"), Some(1.0));
        assert_eq!(state("BACKUP"), Some(0.0));
        assert_eq!(state("FAULT"), None);
        assert_eq!(
            sample(TEXT, "vipd_transitions_total", &[("to", "MASTER")]),
            Some(3.0)
        );
        assert_eq!(sample(TEXT, "vipd_up", &[]), Some(1.0));
        assert_eq!(sample(TEXT, "vipd_transitions", &[]), None);
    }
}
