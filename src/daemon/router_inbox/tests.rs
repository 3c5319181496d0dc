use std::time::Duration;

use tokio::time::timeout;

use tokio::sync::Notify;

use super::*;

fn drain(on: bool) -> Input {
    Input::Drain(on)
}

/// A reader that waits for the inbox's knock, as a router's cell is told.
struct Bell(Notify);

impl Knock for Bell {
    fn knock(self: Arc<Self>) {
        // A knock with nobody waiting is kept for the next wait: none is lost.
        self.0.notify_one();
    }
}

struct Reader {
    rx: InboxReceiver,
    bell: Arc<Bell>,
}

impl Reader {
    async fn recv(&mut self) -> Option<Box<Input>> {
        loop {
            if let Some(ready) = self.rx.try_recv() {
                return ready;
            }
            self.bell.0.notified().await;
        }
    }
}

fn channel(capacity: usize) -> (RouterInbox, Reader) {
    let bell = Arc::new(Bell(Notify::new()));
    let (tx, rx) = RouterInbox::channel(capacity, Arc::downgrade(&bell) as Weak<dyn Knock>);
    (tx, Reader { rx, bell })
}

#[tokio::test]
async fn inputs_arrive_in_order_and_the_end_comes_after_the_last() {
    let (tx, mut rx) = channel(4);
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
    let (tx, mut rx) = channel(1);
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
async fn a_waiting_reader_is_knocked_for_a_send_from_another_task() {
    let (tx, mut rx) = channel(2);
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
    let (tx, rx) = channel(1);
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
async fn the_last_sender_dropped_knocks_for_a_waiting_reader() {
    let (tx, mut rx) = channel(2);
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

#[tokio::test]
async fn a_wait_for_the_close_ends_when_the_reader_goes() {
    let (tx, rx) = channel(1);
    let closing = tokio::spawn({
        let tx = tx.clone();
        async move { tx.closed().await }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        !closing.is_finished(),
        "the reader is there: the wait goes on"
    );
    drop(rx);
    timeout(Duration::from_secs(5), closing)
        .await
        .expect("the reader went and the wait went on")
        .unwrap();
    // Once closed, at once.
    timeout(Duration::from_secs(5), tx.closed()).await.unwrap();
}
