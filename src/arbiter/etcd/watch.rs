//! Waiting for a key's deletion: a watch over the gateway's streaming `/v3/watch`, whose
//! answer is one JSON message per line for as long as the watch lasts.
//!
//! A watch alone could wait forever on a member that is silently cut off (no packet, no
//! error), so the key is also read, linearizably and with failover, every
//! [`check_every`]: that read fails when the store is out of reach, and catches a deletion
//! the watch has not reported.

use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes};

use super::transport::{Attempt, MAX_ANSWER, chain, classify};
use super::wire::{EventType, StreamError, StreamItem, WatchCreate, WatchRequest, WatchResponse};
use super::{EtcdClient, StoreError, json};

/// How often the key is read while the watch is quiet.
fn check_every(request_timeout: Duration) -> Duration {
    (request_timeout * 2).max(Duration::from_secs(1))
}

pub(super) async fn wait_deleted(
    client: &EtcdClient,
    key: &str,
    revision: i64,
) -> Result<(), StoreError> {
    // Every revision up to `seen` is known to hold no deletion of the key.
    let mut seen = revision;
    loop {
        if deleted_since(client, key, &mut seen).await? {
            return Ok(());
        }
        let req = WatchRequest {
            create_request: WatchCreate {
                key: key.into(),
                start_revision: seen + 1,
            },
        };
        let resp = client
            .transport
            .open_stream("/v3/watch", json(&req))
            .await?;
        let mut lines = Lines::new(resp.into_body());
        let mut tick = tokio::time::interval(check_every(client.transport.timeout()));
        tick.tick().await;
        loop {
            tokio::select! {
                msg = lines.next() => {
                    let w = msg?;
                    if w.events.iter().any(|e| e.kind == EventType::Delete) {
                        return Ok(());
                    }
                    if w.compact_revision > 0 {
                        // History before `compact_revision` is gone: read the key and
                        // watch again from what that read saw.
                        break;
                    }
                    if w.canceled {
                        let why = w.cancel_reason;
                        return Err(StoreError::Unreachable(format!("watch canceled: {why}")));
                    }
                }
                _ = tick.tick() => {
                    if deleted_since(client, key, &mut seen).await? {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Reads `key`: true if it is absent, or was deleted and created again after `seen`.
/// Otherwise the entry read is the one present at `seen`, so no deletion happened up to the
/// read's revision, which becomes the new `seen`.
async fn deleted_since(client: &EtcdClient, key: &str, seen: &mut i64) -> Result<bool, StoreError> {
    let (kv, revision) = client.get(key).await?;
    match kv {
        None => Ok(true),
        Some(kv) if kv.create_revision > *seen => Ok(true),
        Some(_) => {
            *seen = revision.max(*seen);
            Ok(false)
        }
    }
}

/// The error carried inside a streamed answer, sorted like a plain one.
pub(super) fn stream_error(e: StreamError) -> StoreError {
    match classify::<()>(e.grpc_code, false, e.message) {
        Attempt::Answer(()) => unreachable!("classify never answers"),
        Attempt::Next(e) | Attempt::Refused(e) => e,
    }
}

/// The messages of a watch answer, one JSON value per line.
struct Lines<B> {
    body: B,
    buf: Vec<u8>,
}

impl<B> Lines<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: std::error::Error,
{
    fn new(body: B) -> Lines<B> {
        Lines {
            body,
            buf: Vec::new(),
        }
    }

    /// The next message. Cancel-safe: bytes read are kept in `buf` until a line is whole.
    async fn next(&mut self) -> Result<WatchResponse, StoreError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let item: StreamItem<WatchResponse> = super::decode(&line)?;
                if let Some(e) = item.error {
                    return Err(stream_error(e));
                }
                if let Some(w) = item.result {
                    return Ok(w);
                }
                continue;
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                    if self.buf.len() > MAX_ANSWER {
                        return Err(StoreError::Rejected("watch message too long".into()));
                    }
                }
                Some(Err(e)) => {
                    return Err(StoreError::Unreachable(format!("watch: {}", chain(&e))));
                }
                None => return Err(StoreError::Unreachable("watch stream ended".into())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::StreamBody;
    use hyper::body::Frame;

    use super::*;

    type Chunks =
        StreamBody<futures::stream::Iter<std::vec::IntoIter<Result<Frame<Bytes>, Infallible>>>>;

    /// A body that delivers `chunks` as separate frames, then ends.
    fn body(chunks: &[&str]) -> Chunks {
        let frames: Vec<Result<Frame<Bytes>, Infallible>> = chunks
            .iter()
            .map(|c| Ok(Frame::data(Bytes::from(c.to_string()))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn messages_split_across_frames_and_joined_in_one() {
        let created = r#"{"result":{"header":{"revision":"2"},"created":true}}"#;
        let delete = r#"{"result":{"header":{"revision":"4"},"events":[{"type":"DELETE","kv":{"key":"aw==","mod_revision":"4"}}]}}"#;
        let (a, b) = delete.split_at(30);
        let joined = format!("{created}\n{a}");
        let mut lines = Lines::new(body(&[&joined, b, "\n", "\n"]));
        assert!(lines.next().await.unwrap().created);
        let w = lines.next().await.unwrap();
        assert_eq!(w.events[0].kind, EventType::Delete);
        assert_eq!(
            lines.next().await.unwrap_err(),
            StoreError::Unreachable("watch stream ended".into())
        );
    }

    #[tokio::test]
    async fn an_error_in_the_stream_is_sorted() {
        let err = r#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#;
        let mut lines = Lines::new(body(&[err, "\n"]));
        assert_eq!(
            lines.next().await.unwrap_err(),
            StoreError::NoQuorum("etcdserver: no leader".into())
        );
    }

    #[tokio::test]
    async fn a_line_without_end_is_cut_off() {
        let huge = "x".repeat(MAX_ANSWER + 1);
        let mut lines = Lines::new(body(&[&huge]));
        assert!(matches!(lines.next().await, Err(StoreError::Rejected(_))));
    }
}
