//! The arbiter's store: an etcd v3 cluster reached through its JSON gateway (`/v3/...` over
//! HTTP or HTTPS), which needs no protobuf code generation.
//!
//! Every read is linearizable and every request carries etcd's "require leader" flag, so a
//! member cut off from its quorum answers with an error rather than with stale data. Each
//! request goes to the endpoint that answered last and, if that one fails or does not answer
//! within `request_timeout`, to the next: a call fails after at most about
//! `request_timeout × endpoints`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

mod endpoint;
mod tls;
mod transport;
mod watch;
mod wire;

pub use super::{LeaseId, StoreError};
use transport::Transport;
use wire::{
    Compare, KeyRequest, KeyValue, LeaseRequest, LeaseResponse, PutRequest, RangeResponse,
    RequestOp, StreamItem, TxnRequest, TxnResponse,
};

/// Where the store is and how to talk to it; built from the configuration.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// Client URLs: `http://10.0.0.1:2379` or `https://...`.
    pub endpoints: Vec<String>,
    /// PEM CA file that verifies the members' certificates (needed for `https`).
    pub ca: Option<PathBuf>,
    /// PEM client certificate (chain), for members that require client certificates.
    pub cert: Option<PathBuf>,
    /// PEM private key of `cert`.
    pub key: Option<PathBuf>,
    /// Bound on one request to one endpoint.
    pub request_timeout: Duration,
}

/// A client of one etcd cluster; cheap to clone (the clones share connections).
#[derive(Clone)]
pub struct EtcdClient {
    transport: Arc<Transport>,
}

impl StoreError {
    fn detail(&self) -> &str {
        match self {
            StoreError::Unreachable(d) | StoreError::NoQuorum(d) | StoreError::Rejected(d) => d,
        }
    }
}

/// The outcome of [`EtcdClient::acquire`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquire {
    /// The key was absent and now holds our value under our lease.
    Won {
        /// The store revision of the write.
        revision: i64,
    },
    /// Someone holds the key.
    Held {
        /// Its value.
        holder: String,
        /// The lease it is attached to.
        lease: LeaseId,
        /// The store revision at which it was seen (for [`EtcdClient::wait_deleted`]).
        revision: i64,
    },
}

impl EtcdClient {
    /// A client for the cluster `s` describes. Reads the TLS files now; a bad endpoint URL or
    /// an unreadable or invalid file is an error naming it. Connects lazily.
    pub fn new(s: &StoreSettings) -> Result<Self, String> {
        Ok(EtcdClient {
            transport: Arc::new(Transport::new(s)?),
        })
    }

    /// Grants a lease of `ttl` (rounded up to whole seconds, etcd's unit). Returns its ID and
    /// the TTL etcd granted, which may be longer: etcd raises a TTL below its minimum, about
    /// 1.5 × its election timeout.
    pub async fn grant(&self, ttl: Duration) -> Result<(LeaseId, Duration), StoreError> {
        let secs = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
        let req = LeaseRequest {
            ttl: i64::try_from(secs.max(1)).unwrap_or(i64::MAX),
            id: 0,
        };
        let r: LeaseResponse = self.call("/v3/lease/grant", &req).await?;
        if !r.error.is_empty() {
            return Err(StoreError::Rejected(r.error));
        }
        Ok((LeaseId(r.id), secs_of(r.ttl)))
    }

    /// Renews lease `id` once. `None` means the lease is gone (expired or revoked): etcd
    /// answers with TTL ≤ 0 then.
    pub async fn keep_alive(&self, id: LeaseId) -> Result<Option<Duration>, StoreError> {
        let req = LeaseRequest { ttl: 0, id: id.0 };
        // A streaming call in gRPC; over the gateway one request gets one streamed message.
        let bytes = self
            .transport
            .post("/v3/lease/keepalive", json(&req))
            .await?;
        let item: StreamItem<LeaseResponse> = decode(&bytes)?;
        if let Some(e) = item.error {
            return Err(watch::stream_error(e));
        }
        let r = item
            .result
            .ok_or_else(|| StoreError::Rejected("keep-alive answer without a result".into()))?;
        Ok((r.ttl > 0).then(|| secs_of(r.ttl)))
    }

    /// Revokes lease `id`, which deletes every key attached to it. A lease that is already
    /// gone is fine.
    pub async fn revoke(&self, id: LeaseId) -> Result<(), StoreError> {
        let req = LeaseRequest { ttl: 0, id: id.0 };
        match self
            .call::<_, LeaseResponse>("/v3/lease/revoke", &req)
            .await
        {
            Err(StoreError::Rejected(m)) if m.contains("lease not found") => Ok(()),
            r => r.map(|_| ()),
        }
    }

    /// One transaction: if `key` does not exist, put `key=value` attached to lease `id`;
    /// otherwise read who holds it. A key already attached to `id` counts as won: a request
    /// may be sent twice when its first answer is lost, and the first may have been applied.
    pub async fn acquire(
        &self,
        key: &str,
        value: &str,
        id: LeaseId,
    ) -> Result<Acquire, StoreError> {
        let r = self
            .txn(Compare::absent(key), put(key, value, id), read(key))
            .await?;
        let revision = r.header.revision;
        if r.succeeded {
            return Ok(Acquire::Won { revision });
        }
        let kv = read_back(key, r)?;
        // Our own lease holds it: an earlier attempt of this call was applied though its answer
        // was lost (a timeout, a broken connection) and the request was sent again.
        if kv.lease == id.0 {
            return Ok(Acquire::Won {
                revision: kv.mod_revision,
            });
        }
        Ok(Acquire::Held {
            holder: kv.value,
            lease: LeaseId(kv.lease),
            revision,
        })
    }

    /// One transaction: if `key` is attached to lease `old`, put `key=value` attached to lease
    /// `id` (taking over the key of a node that is fenced). Returns whether the key is now
    /// attached to `id` (also when an earlier attempt of this call was applied).
    pub async fn take_over(
        &self,
        key: &str,
        value: &str,
        id: LeaseId,
        old: LeaseId,
    ) -> Result<bool, StoreError> {
        let r = self
            .txn(
                Compare::lease_is(key, old.0),
                put(key, value, id),
                read(key),
            )
            .await?;
        if r.succeeded {
            return Ok(true);
        }
        // Already ours: an earlier attempt of this call was applied, its answer lost.
        let ours = r
            .responses
            .into_iter()
            .find_map(|op| op.response_range)
            .and_then(|range| range.kvs.into_iter().next())
            .is_some_and(|kv| kv.lease == id.0);
        Ok(ours)
    }

    /// One transaction: if `key` is attached to lease `id`, delete it. A key held by another
    /// lease, or absent, is left alone.
    pub async fn release(&self, key: &str, id: LeaseId) -> Result<(), StoreError> {
        let delete = vec![RequestOp::DeleteRange(KeyRequest { key: key.into() })];
        self.txn(Compare::lease_is(key, id.0), delete, vec![])
            .await
            .map(|_| ())
    }

    /// Who holds `key`: its value and lease, or `None` if absent (a linearizable read).
    pub async fn holder(&self, key: &str) -> Result<Option<(String, LeaseId)>, StoreError> {
        let (kv, _) = self.get(key).await?;
        Ok(kv.map(|kv| (kv.value, LeaseId(kv.lease))))
    }

    /// Resolves once `key` has been deleted after store revision `revision` (at once if it
    /// already was, or is absent). Fails when the watch breaks or the store cannot be
    /// reached; the caller retries.
    pub async fn wait_deleted(&self, key: &str, revision: i64) -> Result<(), StoreError> {
        watch::wait_deleted(self, key, revision).await
    }

    /// `key`'s current entry and the store revision of the read.
    async fn get(&self, key: &str) -> Result<(Option<KeyValue>, i64), StoreError> {
        let req = KeyRequest { key: key.into() };
        let r: RangeResponse = self.call("/v3/kv/range", &req).await?;
        Ok((r.kvs.into_iter().next(), r.header.revision))
    }

    async fn txn(
        &self,
        compare: Compare,
        success: Vec<RequestOp>,
        failure: Vec<RequestOp>,
    ) -> Result<TxnResponse, StoreError> {
        let req = TxnRequest {
            compare: vec![compare],
            success,
            failure,
        };
        self.call("/v3/kv/txn", &req).await
    }

    async fn call<Q: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        req: &Q,
    ) -> Result<R, StoreError> {
        decode(&self.transport.post(path, json(req)).await?)
    }
}

fn read(key: &str) -> Vec<RequestOp> {
    vec![RequestOp::Range(KeyRequest { key: key.into() })]
}

/// The entry the failure branch of an acquire read.
fn read_back(key: &str, r: TxnResponse) -> Result<KeyValue, StoreError> {
    r.responses
        .into_iter()
        .find_map(|op| op.response_range)
        .and_then(|range| range.kvs.into_iter().next())
        // The comparison said the key exists, in the same transaction as this read.
        .ok_or_else(|| StoreError::Rejected(format!("{key} exists but reads empty")))
}

fn put(key: &str, value: &str, id: LeaseId) -> Vec<RequestOp> {
    vec![RequestOp::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        lease: id.0,
    })]
}

fn secs_of(ttl: i64) -> Duration {
    Duration::from_secs(u64::try_from(ttl).unwrap_or(0))
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("request structs always serialize")
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        StoreError::Rejected(format!("unexpected answer ({e}): {text}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(endpoint: &str) -> StoreSettings {
        StoreSettings {
            endpoints: vec![endpoint.to_string()],
            ca: None,
            cert: None,
            key: None,
            request_timeout: Duration::from_secs(1),
        }
    }

    fn refused(s: StoreSettings) -> String {
        EtcdClient::new(&s).err().expect("settings must be refused")
    }

    #[test]
    fn bad_settings_are_refused_with_what_is_wrong() {
        assert!(refused(settings("https://10.0.0.1:2379")).contains("no CA file"));
        let mut s = settings("https://10.0.0.1:2379");
        s.ca = Some("/nonexistent/ca.pem".into());
        assert!(refused(s).contains("/nonexistent/ca.pem"));
        let mut s = settings("http://10.0.0.1:2379");
        s.cert = Some("/nonexistent/c.pem".into());
        assert!(refused(s).contains("no endpoint uses https"));
        let mut s = settings("https://10.0.0.1:2379");
        let not_pem = std::env::current_exe().unwrap();
        s.ca = Some(not_pem.clone());
        let err = refused(s);
        assert!(err.contains(&not_pem.display().to_string()), "{err}");
        let mut s = settings("http://10.0.0.1:2379");
        s.endpoints.clear();
        assert!(refused(s).contains("no etcd endpoints"));
        assert!(refused(settings("10.0.0.1:2379")).contains("10.0.0.1:2379"));
        assert!(EtcdClient::new(&settings("http://10.0.0.1:2379")).is_ok());
    }

    #[test]
    fn lease_ids_show_as_etcdctl_shows_them() {
        assert_eq!(LeaseId(0x694d7a5f9b6b1a0b).to_string(), "694d7a5f9b6b1a0b");
    }
}
