//! Requests as the gateway expects them and answers as etcd 3.4.23's gateway sent them
//! (captured with curl against a real member).

use serde_json::{Value, json};

use super::*;

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn lease_requests_write_int64_as_strings_and_only_what_is_set() {
    let grant = LeaseRequest { ttl: 2, id: 0 };
    assert_eq!(to_value(&grant), json!({"TTL": "2"}));
    let keep = LeaseRequest {
        ttl: 0,
        id: 7668682639819660810,
    };
    assert_eq!(to_value(&keep), json!({"ID": "7668682639819660810"}));
}

#[test]
fn acquire_txn_encodes_keys_values_and_the_oneof() {
    let txn = TxnRequest {
        compare: vec![Compare::absent("/vipd/k")],
        success: vec![RequestOp::Put(PutRequest {
            key: "/vipd/k".into(),
            value: "node1".into(),
            lease: 42,
        })],
        failure: vec![RequestOp::Range(KeyRequest {
            key: "/vipd/k".into(),
        })],
    };
    assert_eq!(
        to_value(&txn),
        json!({
            "compare": [{"key": "L3ZpcGQvaw==", "target": "CREATE", "result": "EQUAL",
                         "create_revision": "0"}],
            "success": [{"request_put": {"key": "L3ZpcGQvaw==", "value": "bm9kZTE=",
                                         "lease": "42"}}],
            "failure": [{"request_range": {"key": "L3ZpcGQvaw=="}}],
        })
    );
}

#[test]
fn lease_compare_and_delete() {
    let txn = TxnRequest {
        compare: vec![Compare::lease_is("k", -5)],
        success: vec![RequestOp::DeleteRange(KeyRequest { key: "k".into() })],
        failure: vec![],
    };
    assert_eq!(
        to_value(&txn),
        json!({
            "compare": [{"key": "aw==", "target": "LEASE", "result": "EQUAL", "lease": "-5"}],
            "success": [{"request_delete_range": {"key": "aw=="}}],
            "failure": [],
        })
    );
}

#[test]
fn watch_request() {
    let w = WatchRequest {
        create_request: WatchCreate {
            key: "/vipd/k".into(),
            start_revision: 3,
        },
    };
    assert_eq!(
        to_value(&w),
        json!({"create_request": {"key": "L3ZpcGQvaw==", "start_revision": "3"}})
    );
}

#[test]
fn decodes_a_grant_and_a_keep_alive_of_a_lost_lease() {
    let grant: LeaseResponse = serde_json::from_str(
        r#"{"header":{"cluster_id":"2037210783374497686","member_id":"13195394291058371180",
            "revision":"1","raft_term":"2"},"ID":"7668682639819660805","TTL":"1"}"#,
    )
    .unwrap();
    assert_eq!(
        (grant.id, grant.ttl, grant.header.revision),
        (7668682639819660805, 1, 1)
    );
    // A keep-alive of an unknown lease: a result without TTL.
    let lost: StreamItem<LeaseResponse> = serde_json::from_str(
        r#"{"result":{"header":{"cluster_id":"1","member_id":"2","revision":"1",
            "raft_term":"2"},"ID":"123"}}"#,
    )
    .unwrap();
    let lost = lost.result.unwrap();
    assert_eq!((lost.id, lost.ttl), (123, 0));
}

#[test]
fn decodes_txn_answers_won_and_held() {
    let won: TxnResponse = serde_json::from_str(
        r#"{"header":{"revision":"2","raft_term":"2"},"succeeded":true,
            "responses":[{"response_put":{"header":{"revision":"2"}}}]}"#,
    )
    .unwrap();
    assert!(won.succeeded);
    assert_eq!(won.header.revision, 2);
    // `succeeded: false` is the default, so etcd leaves it out.
    let held: TxnResponse = serde_json::from_str(
        r#"{"header":{"revision":"2","raft_term":"2"},"responses":[{"response_range":{
            "header":{"revision":"2"},"kvs":[{"key":"L3ZpcGQvaw==","create_revision":"2",
            "mod_revision":"2","version":"1","value":"bm9kZTE=",
            "lease":"7668682639819660810"}],"count":"1"}}]}"#,
    )
    .unwrap();
    assert!(!held.succeeded);
    let range = held.responses[0].response_range.as_ref().unwrap();
    assert_eq!(
        range.kvs,
        vec![KeyValue {
            key: "/vipd/k".into(),
            create_revision: 2,
            mod_revision: 2,
            value: "node1".into(),
            lease: 7668682639819660810,
        }]
    );
}

#[test]
fn decodes_watch_messages() {
    let created: StreamItem<WatchResponse> =
        serde_json::from_str(r#"{"result":{"header":{"revision":"2"},"created":true}}"#).unwrap();
    let created = created.result.unwrap();
    assert!(created.created && created.events.is_empty());
    // A PUT event has no `type` (enum value 0); a DELETE carries only key and mod_revision.
    let put: StreamItem<WatchResponse> = serde_json::from_str(
        r#"{"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"L3ZpcGQvaw==",
            "create_revision":"2","mod_revision":"3","version":"2","value":"eA=="}}]}}"#,
    )
    .unwrap();
    assert_eq!(put.result.unwrap().events[0].kind, EventType::Put);
    let del: StreamItem<WatchResponse> = serde_json::from_str(
        r#"{"result":{"header":{"revision":"4"},"events":[{"type":"DELETE",
            "kv":{"key":"L3ZpcGQvaw==","mod_revision":"4"}}]}}"#,
    )
    .unwrap();
    let del = del.result.unwrap();
    assert_eq!(del.events[0].kind, EventType::Delete);
    assert_eq!(del.events[0].kv.mod_revision, 4);
    let compacted: StreamItem<WatchResponse> = serde_json::from_str(
        r#"{"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"5"}}"#,
    )
    .unwrap();
    assert_eq!(compacted.result.unwrap().compact_revision, 5);
}

#[test]
fn decodes_errors_of_plain_and_streamed_answers() {
    let e: ErrorBody = serde_json::from_str(
        r#"{"error":"etcdserver: requested lease not found",
            "message":"etcdserver: requested lease not found","code":5}"#,
    )
    .unwrap();
    assert_eq!(
        (e.code, e.message.as_str()),
        (5, "etcdserver: requested lease not found")
    );
    let s: StreamItem<WatchResponse> = serde_json::from_str(
        r#"{"error":{"grpc_code":14,"http_code":503,"message":"etcdserver: no leader",
            "http_status":"Service Unavailable"}}"#,
    )
    .unwrap();
    let err = s.error.unwrap();
    assert_eq!(
        (err.grpc_code, err.message.as_str()),
        (14, "etcdserver: no leader")
    );
}

#[test]
fn int64_accepts_numbers_and_refuses_garbage() {
    let h: Header = serde_json::from_str(r#"{"revision": 12}"#).unwrap();
    assert_eq!(h.revision, 12);
    assert!(serde_json::from_str::<Header>(r#"{"revision": "x"}"#).is_err());
    assert!(serde_json::from_str::<KeyValue>(r#"{"key": "not base64!"}"#).is_err());
}
