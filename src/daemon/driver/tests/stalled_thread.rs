//! Backups whose Master_Down deadlines came while the thread serving them stood still.

use super::*;
use crate::daemon::wakeup::SharedTimer;

#[tokio::test]
async fn a_backup_whose_deadline_came_while_its_thread_stood_still_listens_one_more_interval() {
    let timer = SharedTimer::start().unwrap();
    // v3, 100 ms adverts, priority 100: Master_Down_Interval 360.9 ms; a quarter interval
    // is 25 ms. The second Backup starts 20 ms after the first.
    let (first, second) = (RouterCell::new(), RouterCell::new());
    let t0 = TokioInstant::now();
    let first_control = recorded(&first, router(100), Wakeup::precise(Some(&timer)));
    first_control.send(Input::Start).await.unwrap();
    tokio::time::sleep_until(t0 + Duration::from_millis(20)).await;
    let second_control = recorded(&second, router(100), Wakeup::precise(Some(&timer)));
    let second_start = TokioInstant::now();
    second_control.send(Input::Start).await.unwrap();
    // The thread stands still from before the first deadline until about 10 ms past the
    // second's: 30 ms or more, over the quarter interval, with the second only about 10 ms
    // late by its own deadline.
    tokio::time::sleep_until(second_start + Duration::from_millis(250)).await;
    let down = second_start + Duration::from_micros(360_937);
    let resume = down + Duration::from_millis(10);
    std::thread::sleep(resume.saturating_duration_since(TokioInstant::now()));
    tokio::time::sleep(Duration::from_millis(400)).await;
    for control in [&first_control, &second_control] {
        control.send(Input::Stop).await.unwrap();
    }
    let rec = stopped(&second).await;
    let took_over = took_over(&rec).expect("no takeover after the Master stayed silent");
    let down = down - rec.t0.unwrap();
    // Listened one more advert interval from when it ran: well past the 10 ms it ran late.
    assert!(
        took_over >= down + Duration::from_millis(100),
        "took over {:?} after its deadline, inside the thread's stall",
        took_over.saturating_sub(down)
    );
    stopped(&first).await;
}
