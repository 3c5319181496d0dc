//! HTTP(S) to etcd's gateway: endpoint failover, idle connections kept for reuse, TLS, and
//! the gateway's error answers sorted into [`StoreError`]s.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::StoreError;
use super::endpoint::{Endpoint, parse_endpoint};
use super::tls;
use super::wire::{ErrorBody, StreamItem};
use serde::de::IgnoredAny;

/// gRPC status codes the gateway reports (google.golang.org/grpc/codes).
const DEADLINE_EXCEEDED: i32 = 4;
const UNAVAILABLE: i32 = 14;

/// The largest answer read: vipd's keys and values are a few bytes; this only stops a broken
/// or hostile endpoint from filling memory.
pub(super) const MAX_ANSWER: usize = 1 << 20;

pub(super) struct Transport {
    endpoints: Vec<Endpoint>,
    tls: Option<TlsConnector>,
    timeout: Duration,
    /// The endpoint that answered last: where the next request starts.
    preferred: AtomicUsize,
    /// Idle connections, with the index of their endpoint.
    idle: Mutex<Vec<(usize, SendRequest<Full<Bytes>>)>>,
}

/// What one endpoint did with one request.
pub(super) enum Attempt<T> {
    Answer(T),
    /// A refusal every member would repeat (invalid argument, lease not found).
    Refused(StoreError),
    /// The endpoint answered with an error that another member might not have (it has no
    /// leader, it is stopping) or could not be reached at all: try the next one.
    Next(StoreError),
}

impl Transport {
    pub(super) fn new(s: &super::StoreSettings) -> Result<Transport, String> {
        if s.endpoints.is_empty() {
            return Err("no etcd endpoints given".into());
        }
        let endpoints = s
            .endpoints
            .iter()
            .map(|url| parse_endpoint(url))
            .collect::<Result<Vec<_>, _>>()?;
        let https = endpoints.iter().any(|e| e.tls_name.is_some());
        let tls = tls::connector(s, https)?;
        Ok(Transport {
            endpoints,
            tls,
            timeout: s.request_timeout,
            preferred: AtomicUsize::new(0),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The bound on one request to one endpoint.
    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs `body` to `path` and returns the whole answer of the first endpoint that gives
    /// one. A refusal (an error every member would give) is returned at once.
    pub(super) async fn post(&self, path: &str, body: Vec<u8>) -> Result<Bytes, StoreError> {
        self.each_endpoint(|i| self.post_to(i, path, body.clone()))
            .await
    }

    /// POSTs `body` to `path` and returns the answer as it streams in, once its status is 200.
    pub(super) async fn open_stream(
        &self,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Response<Incoming>, StoreError> {
        self.each_endpoint(|i| {
            let body = body.clone();
            async move {
                // A stream keeps its connection to itself: it is not put back for reuse.
                let (_sender, resp) = send(self.connect(i).await?, path, body).await?;
                let status = resp.status();
                if status == StatusCode::OK {
                    return Ok(Attempt::Answer(resp));
                }
                Ok(classify_error(status, &read_body(resp).await?))
            }
        })
        .await
    }

    /// Tries `attempt` on each endpoint in turn, starting with the last one that answered,
    /// each bounded by the request timeout.
    async fn each_endpoint<T, F, Fut>(&self, mut attempt: F) -> Result<T, StoreError>
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = Result<Attempt<T>, String>>,
    {
        let n = self.endpoints.len();
        let first = self.preferred.load(Ordering::Relaxed);
        let mut errors = Vec::new();
        let mut no_quorum = false;
        for k in 0..n {
            let i = (first + k) % n;
            let url = &self.endpoints[i].url;
            match tokio::time::timeout(self.timeout, attempt(i)).await {
                Ok(Ok(Attempt::Answer(v))) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(v);
                }
                Ok(Ok(Attempt::Refused(e))) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Err(e);
                }
                Ok(Ok(Attempt::Next(e))) => {
                    no_quorum |= matches!(e, StoreError::NoQuorum(_));
                    errors.push(format!("{url}: {}", e.detail()));
                }
                Ok(Err(e)) => errors.push(format!("{url}: {e}")),
                Err(_) => errors.push(format!("{url}: no answer within {:?}", self.timeout)),
            }
        }
        let all = errors.join("; ");
        Err(if no_quorum {
            StoreError::NoQuorum(all)
        } else {
            StoreError::Unreachable(all)
        })
    }

    /// One POST to endpoint `i` on an idle connection if there is one, else on a new one; a
    /// reused connection the server closed meanwhile is retried once on a new one.
    async fn post_to(&self, i: usize, path: &str, body: Vec<u8>) -> Result<Attempt<Bytes>, String> {
        let (sender, reused) = match self.take_idle(i) {
            Some(s) => (s, true),
            None => (self.connect(i).await?, false),
        };
        let (sender, resp) = match send(sender, path, body.clone()).await {
            Ok(answer) => answer,
            Err(_) if reused => send(self.connect(i).await?, path, body).await?,
            Err(e) => return Err(e),
        };
        let status = resp.status();
        let bytes = read_body(resp).await?;
        self.put_idle(i, sender);
        if status != StatusCode::OK {
            return Ok(classify_error(status, &bytes));
        }
        // A streamed call (keep-alive) reports its failure inside a 200 answer.
        if let Ok(StreamItem::<IgnoredAny> { error: Some(e), .. }) = serde_json::from_slice(&bytes)
        {
            return Ok(classify(e.grpc_code, false, e.message));
        }
        Ok(Attempt::Answer(bytes))
    }

    fn take_idle(&self, i: usize) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().expect("idle pool lock");
        while let Some(pos) = idle.iter().position(|(e, _)| *e == i) {
            let (_, s) = idle.swap_remove(pos);
            if s.is_ready() {
                return Some(s);
            }
        }
        None
    }

    fn put_idle(&self, i: usize, sender: SendRequest<Full<Bytes>>) {
        if !sender.is_closed() {
            self.idle.lock().expect("idle pool lock").push((i, sender));
        }
    }

    /// A new HTTP/1.1 connection to endpoint `i`, TLS for `https`.
    async fn connect(&self, i: usize) -> Result<SendRequest<Full<Bytes>>, String> {
        let ep = &self.endpoints[i];
        let tcp = TcpStream::connect((ep.host.as_str(), ep.port))
            .await
            .map_err(|e| format!("connect: {}", chain(&e)))?;
        // Requests are small and latency is what matters.
        let _ = tcp.set_nodelay(true);
        match (&ep.tls_name, &self.tls) {
            (Some(name), Some(tls)) => {
                let stream = tls
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| format!("TLS handshake: {}", chain(&e)))?;
                handshake(stream).await
            }
            _ => handshake(tcp).await,
        }
    }
}

async fn handshake<T>(io: T) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {}", chain(&e)))?;
    // The connection task ends when the sender is dropped and the last answer is read.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one POST on `sender`; returns the answer and the sender for reuse.
async fn send(
    mut sender: SendRequest<Full<Bytes>>,
    path: &str,
    body: Vec<u8>,
) -> Result<(SendRequest<Full<Bytes>>, Response<Incoming>), String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {}", chain(&e)))?;
    let req = Request::post(path)
        // The Host header is required by HTTP/1.1; any value does for etcd.
        .header(hyper::header::HOST, "etcd")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        // gRPC metadata `hasleader=true`: a member that has lost its leader refuses the
        // request ("etcdserver: no leader") instead of serving it, and ends a watch, rather
        // than answering from a minority (etcd's `WithRequireLeader`).
        .header("grpc-metadata-hasleader", "true")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("request: {}", chain(&e)))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {}", chain(&e)))?;
    Ok((sender, resp))
}

async fn read_body(resp: Response<Incoming>) -> Result<Bytes, String> {
    Limited::new(resp.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .map_err(|e| format!("reading the answer: {}", chain(&*e)))
}

/// An error with its causes: hyper's own message ("connection error") hides the reason,
/// such as the TLS alert of a member that wants a client certificate.
pub(super) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// Sorts an error answer. A unary call's body is `{"error", "code", "message"}`; a
/// streamed call's (keep-alive, watch) is `{"error": {"grpc_code", "message", ...}}`; etcd
/// 3.4's gateway answers "no leader" with 503 both ways. Anything else (a proxy's page) is
/// kept as status and text.
fn classify_error<T>(status: StatusCode, body: &[u8]) -> Attempt<T> {
    let (code, message) = if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        (e.code, e.message)
    } else if let Ok(StreamItem::<IgnoredAny> { error: Some(e), .. }) = serde_json::from_slice(body)
    {
        (e.grpc_code, e.message)
    } else {
        (0, String::new())
    };
    let message = if message.is_empty() {
        format!("HTTP {status}: {}", String::from_utf8_lossy(body).trim())
    } else {
        message
    };
    classify(code, status.is_server_error(), message)
}

/// Sorts an error by its gRPC code and message (shared with streamed errors).
pub(super) fn classify<T>(code: i32, server_error: bool, message: String) -> Attempt<T> {
    if is_no_quorum(&message) {
        Attempt::Next(StoreError::NoQuorum(message))
    } else if code == UNAVAILABLE || code == DEADLINE_EXCEEDED || (code == 0 && server_error) {
        Attempt::Next(StoreError::Unreachable(message))
    } else {
        Attempt::Refused(StoreError::Rejected(message))
    }
}

/// etcd's errors that mean the cluster cannot commit or confirm anything now: no leader
/// (`ErrNoLeader`), a proposal or read index that timed out (`ErrTimeout`,
/// `ErrTimeoutDueToLeaderFail`, `ErrTimeoutDueToConnectionLost`), a leader change in flight.
fn is_no_quorum(message: &str) -> bool {
    [
        "no leader",
        "timed out",
        "leader changed",
        "connection lost",
    ]
    .iter()
    .any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `classify_error` makes of an answer: "next: NoQuorum", "refused: Rejected".
    fn sorted(status: u16, body: &str) -> String {
        let status = StatusCode::from_u16(status).unwrap();
        match classify_error::<()>(status, body.as_bytes()) {
            Attempt::Answer(()) => "answer".into(),
            Attempt::Next(e) => format!("next: {e:?}"),
            Attempt::Refused(e) => format!("refused: {e:?}"),
        }
    }

    #[test]
    fn gateway_errors_are_sorted() {
        let no_leader =
            r#"{"error":"etcdserver: no leader","message":"etcdserver: no leader","code":14}"#;
        assert!(sorted(503, no_leader).starts_with("next: NoQuorum"));
        // A streamed call's error (keep-alive, watch), as a leaderless member sends it.
        let streamed = r#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader","http_status":"Service Unavailable"}}"#;
        assert_eq!(
            sorted(503, streamed),
            r#"next: NoQuorum("etcdserver: no leader")"#
        );
        let timeout = r#"{"error":"etcdserver: request timed out","code":14,"message":"etcdserver: request timed out"}"#;
        assert!(sorted(503, timeout).starts_with("next: NoQuorum"));
        let stopped = r#"{"error":"etcdserver: server stopped","code":14,"message":"etcdserver: server stopped"}"#;
        assert!(sorted(503, stopped).starts_with("next: Unreachable"));
        let lease = r#"{"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5}"#;
        assert_eq!(
            sorted(404, lease),
            r#"refused: Rejected("etcdserver: requested lease not found")"#
        );
        // Not the gateway's JSON at all (a proxy in between): the status and text are kept.
        assert_eq!(
            sorted(502, "bad gateway"),
            r#"next: Unreachable("HTTP 502 Bad Gateway: bad gateway")"#
        );
        assert!(sorted(400, "nope").starts_with("refused: Rejected(\"HTTP 400"));
    }
}
