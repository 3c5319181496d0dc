use std::time::Duration;

use tokio::time::timeout;

use super::*;

fn drain(on: bool) -> Input {
    Input::Drain(on)
}

#[tokio::test]
async fn inputs_arrive_in_order_and_the_end_comes_after_the_last() {
    let (tx, mut rx) = RouterInbox::channel(4);
    let other = tx.clone();
    tx.send(drain(true)).await.unwrap();
    other.try_send(drain(false)).unwrap();
    drop(tx);
    drop(other);
    assert_eq!(*rx.recv().await.unwrap(), drain(true));
    assert_eq!(*rx.recv().await.unwrap(), drain(false));
    assert!(
        rx.recv().await.is_none(),
        "every sender gone, queue drained"
    );
}

#[tokio::test]
async fn a_full_inbox_refuses_try_send_and_holds_send_until_there_is_room() {
    let (tx, mut rx) = RouterInbox::channel(1);
    tx.try_send(drain(true)).unwrap();
    assert!(matches!(
        tx.try_send(drain(false)),
        Err(TrySendError::Full(_))
    ));
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(drain(false)).await.is_ok() }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!waiting.is_finished(), "no room: send waits");
    assert_eq!(*rx.recv().await.unwrap(), drain(true));
    assert!(waiting.await.unwrap(), "room again: send goes through");
    assert_eq!(*rx.recv().await.unwrap(), drain(false));
}

#[tokio::test]
async fn a_waiting_reader_is_woken_by_a_send_from_another_task() {
    let (tx, mut rx) = RouterInbox::channel(2);
    let reader = tokio::spawn(async move { rx.recv().await.map(|i| *i) });
    tokio::time::sleep(Duration::from_millis(20)).await;
    tx.send(drain(true)).await.unwrap();
    let got = timeout(Duration::from_secs(5), reader)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, Some(drain(true)));
}

#[tokio::test]
async fn sending_fails_once_the_reader_is_gone_even_while_waiting_for_room() {
    let (tx, rx) = RouterInbox::channel(1);
    tx.try_send(drain(true)).unwrap();
    let waiting = tokio::spawn({
        let tx = tx.clone();
        async move { tx.send(drain(false)).await.is_err() }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(rx);
    let failed = timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(
        failed,
        "a sender waiting for room fails when the reader goes"
    );
    assert!(tx.send(drain(true)).await.is_err());
    assert!(matches!(
        tx.try_send(drain(true)),
        Err(TrySendError::Closed(_))
    ));
}

#[tokio::test]
async fn the_last_sender_dropped_wakes_a_waiting_reader() {
    let (tx, mut rx) = RouterInbox::channel(2);
    let reader = tokio::spawn(async move { rx.recv().await.is_none() });
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(tx);
    assert!(
        timeout(Duration::from_secs(5), reader)
            .await
            .unwrap()
            .unwrap()
    );
}
