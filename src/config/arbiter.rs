//! The `arbiter` section: the etcd cluster whose leases decide who may be Master, for the
//! instances that say `arbiter: true`.

use std::path::PathBuf;
use std::time::Duration;

use super::decode::{Cap, positive};
use super::errors::ErrorKind;
use super::instance::opt;
use super::reader::Reader;
use super::tree::Node;
use crate::arbiter::StoreLoss;

/// The consensus store and how its leases are used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArbiterStore {
    /// etcd client URLs, `http://` or `https://`, tried in turn.
    pub endpoints: Vec<String>,
    /// CA bundle that signed the members' certificates (required with `https://`).
    pub ca: Option<PathBuf>,
    /// Client certificate and key, for clusters that require client authentication.
    pub cert: Option<PathBuf>,
    /// The client certificate's private key.
    pub key: Option<PathBuf>,
    /// Prefix of every key vipd writes; an instance's key is `PREFIX/instance/NAME`, a
    /// sync group's `PREFIX/group/NAME`.
    pub prefix: String,
    /// The lease TTL, in whole seconds as etcd counts them.
    pub ttl: Duration,
    /// How much earlier than its lease could expire a Master leaves.
    pub margin: Duration,
    /// What a Master does while the store cannot be reached.
    pub on_store_loss: StoreLoss,
    /// How long one request may take on one endpoint.
    pub request_timeout: Duration,
}

/// The worst clock-rate difference between a node and the store that the validity of a
/// lease allows for, in parts per million (1 %: far beyond any NTP-disciplined clock).
pub const CLOCK_SKEW_PPM: u32 = 10_000;

const KEYS: &[&str] = &[
    "endpoints",
    "ca",
    "cert",
    "key",
    "prefix",
    "ttl",
    "margin",
    "on_store_loss",
    "request_timeout",
];

const MAX_TTL: Cap = Cap::new(
    Duration::from_secs(60),
    "a longer lease only slows the failover after a crash",
);

pub(crate) fn arbiter(r: &mut Reader, node: &Node, path: &str) -> Option<ArbiterStore> {
    let f = r.fields(node, path, KEYS)?;
    let endpoints = r.require(&f, "endpoints").and_then(|n| {
        let p = f.path_of("endpoints");
        let list = r.list(n, &p);
        if list.is_empty() {
            r.problem(
                n.pos,
                &p,
                ErrorKind::Invalid,
                "at least one etcd endpoint is needed",
            );
            return None;
        }
        let mut out = Vec::new();
        for (n, p) in list {
            let url = r.string(n, &p)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                let msg = format!("'{url}' is not an etcd client URL such as http://10.0.0.1:2379");
                r.problem(n.pos, &p, ErrorKind::Invalid, msg);
                return None;
            }
            out.push(url.trim_end_matches('/').to_owned());
        }
        Some(out)
    });
    let path_of = |r: &mut Reader, key: &str| {
        f.get(key)
            .and_then(|n| r.string(n, &f.path_of(key)))
            .map(PathBuf::from)
    };
    let (ca, cert, key) = (path_of(r, "ca"), path_of(r, "cert"), path_of(r, "key"));
    let prefix = opt(r, &f, "prefix", "/vipd".to_owned(), Reader::string)?;
    let ttl = opt(r, &f, "ttl", Duration::from_secs(2), |r, n, p| {
        let d = MAX_TTL.read_positive(r, n, p)?;
        if d.subsec_nanos() != 0 {
            let msg = "etcd leases last whole seconds: use 1s, 2s, ...";
            r.problem(n.pos, p, ErrorKind::Invalid, msg);
            return None;
        }
        Some(d)
    })?;
    let margin = opt(r, &f, "margin", Duration::from_millis(200), |r, n, p| {
        let d = r.duration(n, p)?;
        if d >= ttl / 2 {
            let msg = format!("must be less than half the ttl ({ttl:?})");
            r.problem(n.pos, p, ErrorKind::Invalid, msg);
            return None;
        }
        Some(d)
    })?;
    let on_store_loss = opt(
        r,
        &f,
        "on_store_loss",
        StoreLoss::Release,
        |r, n, p| match r.word(n, p, &["release", "keep"])? {
            "keep" => Some(StoreLoss::Keep),
            _ => Some(StoreLoss::Release),
        },
    )?;
    let default_timeout = (ttl / 4).min(Duration::from_millis(500));
    let request_timeout = opt(r, &f, "request_timeout", default_timeout, |r, n, p| {
        let d = positive(r, n, p)?;
        if d > ttl / 2 {
            let msg =
                format!("must be at most half the ttl ({ttl:?}), or a renewal outlives the lease");
            r.problem(n.pos, p, ErrorKind::Invalid, msg);
            return None;
        }
        Some(d)
    })?;
    let endpoints = endpoints?;
    let tls = endpoints.iter().any(|e| e.starts_with("https://"));
    if tls && ca.is_none() {
        let msg = "https endpoints need 'ca', the CA that signed the etcd members' certificates";
        r.problem(node.pos, path, ErrorKind::MissingKey, msg);
        return None;
    }
    if cert.is_some() != key.is_some() {
        let msg = "a client certificate needs both 'cert' and 'key'";
        r.problem(node.pos, path, ErrorKind::MissingKey, msg);
        return None;
    }
    Some(ArbiterStore {
        endpoints,
        ca,
        cert,
        key,
        prefix: prefix.trim_end_matches('/').to_owned(),
        ttl,
        margin,
        on_store_loss,
        request_timeout,
    })
}

impl super::Config {
    /// The store key of `instance` when it has `arbiter: true`: its own, or its sync
    /// group's, which the members share.
    pub fn arbiter_key(&self, instance: &str) -> Option<String> {
        let store = self.arbiter.as_ref()?;
        self.instances.get(instance).filter(|i| i.arbiter)?;
        Some(match self.group_of(instance) {
            Some((group, _)) => format!("{}/group/{group}", store.prefix),
            None => format!("{}/instance/{instance}", store.prefix),
        })
    }
}
