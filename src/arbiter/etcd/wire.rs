//! The JSON of etcd's gRPC gateway (`/v3/...`): the protobuf messages of etcd's v3 API in
//! proto3's JSON mapping. Keys and values are base64, int64 fields are JSON strings, and fields
//! holding their default (0, false, empty, enum value 0 such as PUT) are left out, so every
//! field of an answer has a default here.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `LeaseGrantRequest`, `LeaseKeepAliveRequest`, `LeaseRevokeRequest` in one: each sets what
/// it needs.
#[derive(Debug, Default, Serialize)]
pub struct LeaseRequest {
    #[serde(rename = "TTL", with = "int64", skip_serializing_if = "is_zero")]
    pub ttl: i64,
    #[serde(rename = "ID", with = "int64", skip_serializing_if = "is_zero")]
    pub id: i64,
}

/// `LeaseGrantResponse` and `LeaseKeepAliveResponse`: a keep-alive of a lease that is gone
/// answers with no TTL, which is 0.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LeaseResponse {
    pub header: Header,
    #[serde(rename = "ID", with = "int64")]
    pub id: i64,
    #[serde(rename = "TTL", with = "int64")]
    pub ttl: i64,
    /// Set by a grant the server refused without a gRPC error.
    pub error: String,
}

/// `ResponseHeader`: only the store revision the answer reflects is used.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Header {
    #[serde(with = "int64")]
    pub revision: i64,
}

/// `RangeRequest` for one key (linearizable: `serializable` left false).
#[derive(Debug, Serialize)]
pub struct KeyRequest {
    #[serde(with = "b64")]
    pub key: String,
}

/// `PutRequest`.
#[derive(Debug, Serialize)]
pub struct PutRequest {
    #[serde(with = "b64")]
    pub key: String,
    #[serde(with = "b64")]
    pub value: String,
    #[serde(with = "int64")]
    pub lease: i64,
}

/// `RequestOp`: a oneof, which the JSON mapping writes as an object with one member.
#[derive(Debug, Serialize)]
pub enum RequestOp {
    #[serde(rename = "request_range")]
    Range(KeyRequest),
    #[serde(rename = "request_put")]
    Put(PutRequest),
    #[serde(rename = "request_delete_range")]
    DeleteRange(KeyRequest),
}

/// `Compare`: `target` names which of the optional fields holds the value compared.
#[derive(Debug, Serialize)]
pub struct Compare {
    #[serde(with = "b64")]
    pub key: String,
    pub target: &'static str,
    pub result: &'static str,
    #[serde(with = "int64_opt", skip_serializing_if = "Option::is_none")]
    pub create_revision: Option<i64>,
    #[serde(with = "int64_opt", skip_serializing_if = "Option::is_none")]
    pub lease: Option<i64>,
}

impl Compare {
    /// `create_revision(key) == 0`: the key does not exist.
    pub fn absent(key: &str) -> Compare {
        Compare {
            key: key.to_string(),
            target: "CREATE",
            result: "EQUAL",
            create_revision: Some(0),
            lease: None,
        }
    }

    /// `lease(key) == lease`.
    pub fn lease_is(key: &str, lease: i64) -> Compare {
        Compare {
            key: key.to_string(),
            target: "LEASE",
            result: "EQUAL",
            create_revision: None,
            lease: Some(lease),
        }
    }
}

/// `TxnRequest`.
#[derive(Debug, Serialize)]
pub struct TxnRequest {
    pub compare: Vec<Compare>,
    pub success: Vec<RequestOp>,
    pub failure: Vec<RequestOp>,
}

/// `TxnResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TxnResponse {
    pub header: Header,
    pub succeeded: bool,
    pub responses: Vec<ResponseOp>,
}

/// `ResponseOp`: only the range answer is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResponseOp {
    pub response_range: Option<RangeResponse>,
}

/// `RangeResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RangeResponse {
    pub header: Header,
    pub kvs: Vec<KeyValue>,
}

/// `mvccpb.KeyValue`.
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct KeyValue {
    #[serde(with = "b64")]
    pub key: String,
    #[serde(with = "int64")]
    pub create_revision: i64,
    #[serde(with = "int64")]
    pub mod_revision: i64,
    #[serde(with = "b64")]
    pub value: String,
    #[serde(with = "int64")]
    pub lease: i64,
}

/// `WatchRequest` with a `create_request`.
#[derive(Debug, Serialize)]
pub struct WatchRequest {
    pub create_request: WatchCreate,
}

/// `WatchCreateRequest` for one key.
#[derive(Debug, Serialize)]
pub struct WatchCreate {
    #[serde(with = "b64")]
    pub key: String,
    #[serde(with = "int64")]
    pub start_revision: i64,
}

/// One message of a streamed answer (watch, keep-alive): `{"result": ...}` or, when the
/// stream fails, `{"error": {...}}`.
#[derive(Debug, Deserialize)]
pub struct StreamItem<T> {
    pub result: Option<T>,
    pub error: Option<StreamError>,
}

/// The error of a streamed answer.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StreamError {
    pub grpc_code: i32,
    pub message: String,
}

/// `WatchResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WatchResponse {
    pub header: Header,
    pub created: bool,
    pub canceled: bool,
    #[serde(with = "int64")]
    pub compact_revision: i64,
    pub cancel_reason: String,
    pub events: Vec<Event>,
}

/// `mvccpb.Event`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    pub kv: KeyValue,
}

/// `mvccpb.Event.EventType`; PUT is value 0, so it is the one left out.
#[derive(Debug, Default, Deserialize, PartialEq, Eq, Clone, Copy)]
pub enum EventType {
    #[default]
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "DELETE")]
    Delete,
}

/// The body of a gateway answer with a non-200 status: the gRPC status, its code and message.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub error: String,
    pub code: i32,
    pub message: String,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// int64 as a JSON string, as the JSON mapping writes it; a number is accepted too.
mod int64 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Int64 {
            Text(String),
            Number(i64),
        }
        match Int64::deserialize(d)? {
            Int64::Number(n) => Ok(n),
            Int64::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// An optional int64, written only when set.
mod int64_opt {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }
}

/// Bytes as base64 text. Keys and values vipd writes are UTF-8; anything else another
/// writer left is shown lossily rather than refused.
mod b64 {
    use super::*;

    pub fn serialize<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = STANDARD.decode(text).map_err(serde::de::Error::custom)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
