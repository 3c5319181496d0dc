//! The store over TLS: members that require client certificates; a client trusting the
//! wrong CA, or presenting no certificate, is refused with an error that says why.

use std::time::Duration;

use netns_tests::block_on_in;
use netns_tests::etcd::EtcdSpec;
use vipd::arbiter::etcd::{EtcdClient, StoreError};

use super::{REQUEST_TIMEOUT, round_trips_of, started, wins};

#[test]
fn tls_with_client_certificates() {
    let Some((_turn, c, etcd)) = started(EtcdSpec { tls: true }) else {
        return;
    };
    let tls = c.tls().expect("tls files").clone();
    let mut wrong_ca = c.store_settings(REQUEST_TIMEOUT);
    wrong_ca.ca = Some(tls.unrelated_ca().unwrap());
    let wrong_ca = EtcdClient::new(&wrong_ca).unwrap();
    let mut anonymous = c.store_settings(REQUEST_TIMEOUT);
    (anonymous.cert, anonymous.key) = (None, None);
    let anonymous = EtcdClient::new(&anonymous).unwrap();
    let mut plain = c.store_settings(REQUEST_TIMEOUT);
    plain.endpoints = plain
        .endpoints
        .iter()
        .map(|e| e.replace("https", "http"))
        .collect();
    (plain.ca, plain.cert, plain.key) = (None, None, None);
    let plain = EtcdClient::new(&plain).unwrap();
    block_on_in(c.client_ns(), async {
        let (id, _) = etcd
            .grant(Duration::from_secs(5))
            .await
            .expect("grant over TLS");
        wins(&etcd, "/vipd/test/tls", "a", id).await;
        let (acquire, keep_alive) = round_trips_of(&etcd).await;
        println!("median round trip over 50, TLS: acquire {acquire:?}, keep_alive {keep_alive:?}");

        let r = wrong_ca.grant(Duration::from_secs(5)).await;
        println!("wrong CA: {r:?}");
        match r {
            Err(StoreError::Unreachable(m)) => {
                assert!(
                    m.contains("TLS handshake") && m.contains("certificate"),
                    "{m}"
                );
            }
            other => panic!("a member signed by another CA must be refused: {other:?}"),
        }
        let r = anonymous.grant(Duration::from_secs(5)).await;
        println!("no client certificate: {r:?}");
        // The member's TLS alert is in the message (etcd sends "bad certificate").
        match r {
            Err(StoreError::Unreachable(m)) => assert!(m.contains("alert"), "{m}"),
            other => panic!("a client without a certificate must be refused: {other:?}"),
        }
        let r = plain.grant(Duration::from_secs(5)).await;
        println!("plain HTTP to a TLS member: {r:?}");
        assert!(r.is_err(), "{r:?}");
    })
    .unwrap();
}
