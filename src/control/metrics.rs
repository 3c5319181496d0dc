//! The Prometheus endpoint (`global.metrics_listen`): metrics are encoded at scrape time from
//! what the router tasks publish and count, so scraping never touches a router task.

use std::fmt;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::debug;

mod arbiter;
mod sockets;

use super::listener::{self, Ticket};
use super::server::{Instance, Instances};
use crate::daemon::socket_counters;
use crate::daemon::stats::{FENCE_COUNTER_PREFIX, LINK_EVENTS, link_event};
use crate::vrrp::State;
use crate::vrrp::router::Suppressed;

/// Counters of [`crate::daemon::stats::Stats`] that are not packet rejections (besides
/// [`HELD_BACK`]'s and a sealed channel's link events, [`link_event`]).
const NOT_REJECTIONS: [&str; 7] = [
    "isolation_local_errors",
    "adverts_sent",
    "adverts_received",
    "advert_send_errors",
    "transitions",
    "address_mismatch",
    "own_adverts",
];

/// The limits' counters exported as `vipd_held_back_total`.
const HELD_BACK: [Suppressed; 3] = [
    Suppressed::Answer,
    Suppressed::Resignation,
    Suppressed::Takeover,
];

/// Whether counter `name` counts packets dropped for a reason.
fn is_rejection(name: &str) -> bool {
    !NOT_REJECTIONS.contains(&name)
        && link_event(name).is_none()
        && !HELD_BACK.iter().any(|s| s.label() == name)
        && !name.starts_with(FENCE_COUNTER_PREFIX)
}

fn held_back_name(what: Suppressed) -> &'static str {
    match what {
        Suppressed::Answer => "answer",
        Suppressed::Resignation => "resignation",
        Suppressed::Takeover => "takeover",
    }
}

/// The collector over every instance.
#[derive(Debug)]
struct Vipd(Instances);

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("name", &self.name)
            .finish()
    }
}

type Labels = Vec<(&'static str, String)>;

fn family<M: EncodeMetric>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    samples: Vec<(Labels, M)>,
) -> fmt::Result {
    let Some(first) = samples.first() else {
        return Ok(());
    };
    let mut metric = enc.encode_descriptor(name, help, None, first.1.metric_type())?;
    for (labels, value) in &samples {
        value.encode(metric.encode_family(labels)?)?;
    }
    Ok(())
}

impl Collector for Vipd {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let (mut state, mut prio, mut base, mut held, mut maint, mut faults) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let (mut tracker_failed, mut file_value, mut notify_failed, mut notify_dropped) =
            (vec![], vec![], vec![], vec![]);
        let (mut trans, mut sent, mut recv, mut rejected, mut checksum) =
            (vec![], vec![], vec![], vec![], vec![]);
        let (mut held_back, mut fence) = (vec![], vec![]);
        let (mut ch_in, mut ch_out, mut ch_rejected, mut ch_lost) =
            (vec![], vec![], vec![], vec![]);
        let (mut ch_connected, mut ch_link_events) = (vec![], vec![]);
        for i in &self.0 {
            let view = i.view.borrow().status();
            let inst = || vec![("instance", i.name.to_string())];
            for s in [
                State::Initialize,
                State::Backup,
                State::Master,
                State::Fault,
            ] {
                let mut l = inst();
                l.push(("state", s.to_string()));
                state.push((l, ConstGauge::new(i64::from(view.state == s.to_string()))));
            }
            prio.push((inst(), ConstGauge::new(i64::from(view.effective_priority))));
            base.push((inst(), ConstGauge::new(i64::from(view.base_priority))));
            held.push((inst(), ConstGauge::new(i64::from(view.vips_held))));
            maint.push((inst(), ConstGauge::new(i64::from(view.maintenance))));
            faults.push((inst(), ConstGauge::new(view.faults.len() as i64)));
            for t in i.tracker_status() {
                let mut l = inst();
                l.push(("tracker", t.name.clone()));
                match t.state.strip_prefix("value ") {
                    Some(v) => file_value.push((l, ConstGauge::new(v.parse::<i64>().unwrap_or(0)))),
                    None if t.state != "init" => {
                        tracker_failed.push((l, ConstGauge::new(i64::from(t.state == "failed"))))
                    }
                    None => {}
                }
            }
            let (failed, dropped) = (
                i.notify.failed.load(Relaxed),
                i.notify.dropped.load(Relaxed),
            );
            notify_failed.push((inst(), ConstCounter::new(failed)));
            notify_dropped.push((inst(), ConstCounter::new(dropped)));
            for ((from, to, reason), n) in i.stats.transitions() {
                let mut l = inst();
                l.extend([
                    ("from", from.to_owned()),
                    ("to", to.to_owned()),
                    ("reason", reason.to_owned()),
                ]);
                trans.push((l, ConstCounter::new(n)));
            }
            for (channel, stats) in &i.channels {
                let l = || {
                    vec![
                        ("instance", i.name.to_string()),
                        ("channel", channel.clone()),
                    ]
                };
                let counts = stats.snapshot();
                let get = |k: &str| counts.get(k).copied().unwrap_or(0);
                ch_in.push((l(), ConstCounter::new(get("adverts_received"))));
                ch_out.push((l(), ConstCounter::new(get("adverts_sent"))));
                let lost = view.channels.iter().any(|c| c.name == *channel && c.lost);
                ch_lost.push((l(), ConstGauge::new(i64::from(lost))));
                for (name, n) in counts.iter().filter(|(k, _)| is_rejection(k)) {
                    let mut l = l();
                    l.push(("reason", (*name).to_owned()));
                    ch_rejected.push((l, ConstCounter::new(*n)));
                }
                let links = stats.links();
                for (peer, up) in &links {
                    let mut l = l();
                    l.push(("peer", peer.to_string()));
                    ch_connected.push((l, ConstGauge::new(i64::from(*up))));
                }
                // Every event of the channel's transport, zero until it happens; the
                // transport is the channel label's first word (`tcp eth2:5406`).
                let prefix = channel.split_once(' ').map(|(kind, _)| kind);
                if let (false, Some(prefix)) = (links.is_empty(), prefix) {
                    for (counter, event) in LINK_EVENTS {
                        let mut l = l();
                        l.push(("event", event.to_owned()));
                        let n = get(&format!("{prefix}_{counter}"));
                        ch_link_events.push((l, ConstCounter::new(n)));
                    }
                }
            }
            let counts = i.stats.snapshot();
            sent.push((
                inst(),
                ConstCounter::new(counts.get("adverts_sent").copied().unwrap_or(0)),
            ));
            recv.push((
                inst(),
                ConstCounter::new(counts.get("adverts_received").copied().unwrap_or(0)),
            ));
            for (name, n) in counts {
                let mut l = inst();
                if name.starts_with("v2") || name.starts_with("v3_") {
                    l.push(("checksum", name.to_owned()));
                    checksum.push((l, ConstCounter::new(n)));
                } else if let Some(what) = HELD_BACK.iter().find(|s| s.label() == name) {
                    l.push(("what", held_back_name(*what).to_owned()));
                    held_back.push((l, ConstCounter::new(n)));
                } else if let Some(outcome) = name.strip_prefix(FENCE_COUNTER_PREFIX) {
                    l.push(("outcome", outcome.to_owned()));
                    fence.push((l, ConstCounter::new(n)));
                } else if is_rejection(name) {
                    l.push(("reason", name.to_owned()));
                    rejected.push((l, ConstCounter::new(n)));
                }
            }
        }
        family(
            &mut enc,
            "vipd_instance_state",
            "1 for the state the instance is in, 0 for the others",
            state,
        )?;
        family(
            &mut enc,
            "vipd_effective_priority",
            "Priority carried in adverts now",
            prio,
        )?;
        family(&mut enc, "vipd_base_priority", "Configured priority", base)?;
        family(
            &mut enc,
            "vipd_vips_held",
            "1 while this node holds the instance's VIPs",
            held,
        )?;
        family(
            &mut enc,
            "vipd_maintenance",
            "1 while maintenance drain is on",
            maint,
        )?;
        family(
            &mut enc,
            "vipd_active_faults",
            "Active fault sources",
            faults,
        )?;
        family(
            &mut enc,
            "vipd_transitions",
            "State changes by from, to and reason",
            trans,
        )?;
        family(&mut enc, "vipd_adverts_sent", "Adverts sent", sent)?;
        family(
            &mut enc,
            "vipd_held_back",
            "What the limits held back: immediate answers (one per advert interval is sent) and resignations doubted, against forged adverts; takeovers deferred one interval after this node ran late",
            held_back,
        )?;
        family(
            &mut enc,
            "vipd_fence_runs",
            "Answers of the fence gate, by outcome: fenced, failed, no_peer (nothing run)",
            fence,
        )?;
        family(
            &mut enc,
            "vipd_adverts_received",
            "Valid adverts received",
            recv,
        )?;
        family(
            &mut enc,
            "vipd_adverts_received_by_checksum",
            "Valid adverts by checksum convention",
            checksum,
        )?;
        family(
            &mut enc,
            "vipd_packets_rejected",
            "Packets dropped, by reason",
            rejected,
        )?;
        family(
            &mut enc,
            "vipd_channel_adverts_received",
            "Valid adverts received, by heartbeat channel",
            ch_in,
        )?;
        family(
            &mut enc,
            "vipd_channel_adverts_sent",
            "Adverts sent, by heartbeat channel",
            ch_out,
        )?;
        family(
            &mut enc,
            "vipd_channel_packets_rejected",
            "Packets dropped, by heartbeat channel and reason",
            ch_rejected,
        )?;
        family(
            &mut enc,
            "vipd_channel_lost",
            "1 while a Backup hears the Master on other channels but not on this one",
            ch_lost,
        )?;
        family(
            &mut enc,
            "vipd_channel_peer_connected",
            "1 while a TCP channel's connection to the peer is up, 0 while it reconnects",
            ch_connected,
        )?;
        family(
            &mut enc,
            "vipd_channel_link_events",
            "A TCP channel's connection events: reconnect, connect_failure, queue_dropped (an advert dropped because the peer reads too slowly), write_timeout",
            ch_link_events,
        )?;
        family(
            &mut enc,
            "vipd_tracker_failed",
            "1 while a tracker fails, 0 while it is healthy",
            tracker_failed,
        )?;
        family(
            &mut enc,
            "vipd_tracker_file_value",
            "The value a file tracker read",
            file_value,
        )?;
        family(
            &mut enc,
            "vipd_notify_failures",
            "Notify commands that failed or timed out",
            notify_failed,
        )?;
        family(
            &mut enc,
            "vipd_notify_dropped",
            "Notifications dropped because the queue was full",
            notify_dropped,
        )
    }
}

/// Renders the metrics of `instances` in the OpenMetrics text format.
pub fn render(instances: &[Arc<Instance>]) -> String {
    render_with(instances, &[])
}

/// [`render`], plus the connection counters of vipd's own listeners.
pub fn render_with(instances: &[Arc<Instance>], listeners: &[Listener]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Vipd(instances.to_vec())));
    if instances.iter().any(|i| i.arbiter.is_some()) {
        registry.register_collector(Box::new(arbiter::Arbiters(instances.to_vec())));
    }
    if !listeners.is_empty() {
        registry.register_collector(Box::new(Listeners(listeners.to_vec())));
    }
    registry.register_collector(Box::new(sockets::Sockets(socket_counters::all())));
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

/// A listener's name and its connection counters.
pub type Listener = (&'static str, Arc<listener::Counters>);

#[derive(Debug)]
struct Listeners(Vec<Listener>);

impl Collector for Listeners {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> fmt::Result {
        let mut samples = Vec::new();
        for (name, counters) in &self.0 {
            for (outcome, n) in counters.snapshot() {
                let l = vec![
                    ("listener", (*name).to_owned()),
                    ("outcome", outcome.to_owned()),
                ];
                samples.push((l, ConstCounter::new(n)));
            }
        }
        family(
            &mut enc,
            "vipd_listener_connections",
            "Connections to vipd's control socket and metrics listener, by outcome",
            samples,
        )
    }
}

/// Serves `GET /metrics` on `listener` (bound, non-blocking) for ever, with HTTP/1 from
/// hyper: at most [`listener::CAP`] connections at once, the request head within
/// [`listener::REQUEST_TIMEOUT`], the whole exchange within `WHOLE`, one request per
/// connection (a scraper needs no more, and a kept-alive connection would hold a slot).
pub async fn serve(
    listener: std::net::TcpListener,
    instances: watch::Receiver<Instances>,
    counters: Arc<listener::Counters>,
    listeners: Vec<Listener>,
) -> io::Result<()> {
    let listener = TcpListener::from_std(listener)?;
    let board = listener::Board::new("metrics", listener::CAP, counters);
    let listeners = Arc::new(listeners);
    listener::run(listener, board, move |stream, ticket| {
        let (instances, listeners) = (instances.clone(), listeners.clone());
        exchange(stream, ticket, instances, listeners)
    })
    .await;
    Ok(())
}

/// The longest a metrics connection may last, request and answer together.
const WHOLE: Duration = Duration::from_secs(10);

async fn exchange(
    stream: TcpStream,
    mut ticket: Ticket,
    instances: watch::Receiver<Instances>,
    listeners: Arc<Vec<Listener>>,
) {
    let eviction = ticket.eviction();
    let ticket = &ticket;
    let service = service_fn(|req: Request<Incoming>| {
        ticket.answered();
        // A copy: rendering under the watch's read lock would hold up a reload publishing.
        let list = instances.borrow().clone();
        let response = respond(&req, &list, &listeners);
        async move { Ok::<_, Infallible>(response) }
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(listener::REQUEST_TIMEOUT)
        .keep_alive(false)
        .title_case_headers(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        r = tokio::time::timeout(WHOLE, connection) => match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                if e.is_timeout() {
                    ticket.timed_out();
                }
                debug!(error = %e, "metrics client");
            }
            Err(_) => ticket.timed_out(),
        },
        () = eviction.wait() => {}
    }
}

fn respond(
    req: &Request<Incoming>,
    instances: &[Arc<Instance>],
    listeners: &[Listener],
) -> Response<Full<Bytes>> {
    let (status, ctype, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            render_with(instances, listeners),
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "only GET /metrics is served here\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    response
}

#[cfg(test)]
mod tests;
