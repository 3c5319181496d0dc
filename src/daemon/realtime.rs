//! Realtime scheduling for the thread that runs the routers (`global.realtime_priority`).
//!
//! At 10 ms adverts a Backup declares its Master down after about 36 ms of silence. On a
//! host whose cores are kept busy by other processes, a thread at normal priority can wait
//! longer than that for its turn, on either node, and a Backup takes over from a healthy
//! Master. At SCHED_RR it runs as soon as its timer or packet is due. keepalived offers the
//! same (`vrrp_rt_priority`) but leaves it off by default.
//!
//! Only the calling thread changes, and with SCHED_RESET_ON_FORK: the threads and processes
//! it starts later (the scripts' runtime, the listeners, tokio's blocking pool, notify and
//! check scripts) run at normal priority. The kernel's realtime throttling
//! (`kernel.sched_rt_runtime_us`, 95 % of each second by default) bounds what a runaway
//! thread could take from the rest of the host.

use std::io;

use tracing::{info, warn};

/// The calling thread's scheduling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduling {
    /// SCHED_RR or SCHED_FIFO at this priority.
    Realtime(u8),
    /// Normal scheduling.
    Normal,
}

/// Puts the calling thread at SCHED_RR `priority` (normal scheduling for 0), with
/// SCHED_RESET_ON_FORK, and says so in the log. A refusal (no CAP_SYS_NICE, a container
/// without a realtime budget, a unit with RestrictRealtime=) is a warning, and the thread
/// stays as it was.
pub fn apply(priority: u8) -> Scheduling {
    match set(priority) {
        Ok(Scheduling::Realtime(p)) => {
            info!(
                priority = p,
                "the router thread runs at realtime priority (SCHED_RR)"
            );
            Scheduling::Realtime(p)
        }
        Ok(Scheduling::Normal) => Scheduling::Normal,
        Err(error) => {
            let (now, _) = current();
            let stays = match now {
                Scheduling::Realtime(p) => format!("realtime priority {p}"),
                // A saturated host can then delay adverts into a false takeover.
                Scheduling::Normal => "normal priority".to_owned(),
            };
            warn!(%error, priority,
                "cannot set the router thread's realtime priority (needs CAP_SYS_NICE and a \
                 realtime budget; systemd's RestrictRealtime= forbids it); it stays at {stays}");
            now
        }
    }
}

fn set(priority: u8) -> io::Result<Scheduling> {
    let (policy, wanted) = match priority {
        0 => (libc::SCHED_OTHER, Scheduling::Normal),
        p => (libc::SCHED_RR, Scheduling::Realtime(p)),
    };
    // A service manager may have set this already (systemd's CPUSchedulingPolicy= with
    // CPUSchedulingResetOnFork=), and may forbid setting it again (RestrictRealtime=). Set
    // without the reset flag (`chrt` without -R), it is set again: the threads and scripts
    // started from here must not inherit it.
    if current() == (wanted, true) {
        return Ok(wanted);
    }
    let param = libc::sched_param {
        sched_priority: i32::from(priority),
    };
    // SAFETY: `param` is a valid sched_param for the call's duration; pid 0 is the calling
    // thread.
    let rc = unsafe { libc::sched_setscheduler(0, policy | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wanted)
}

/// The calling thread's scheduling as the kernel reports it, and whether the threads and
/// processes it starts go back to normal scheduling (SCHED_RESET_ON_FORK).
fn current() -> (Scheduling, bool) {
    // SAFETY: pid 0 is the calling thread; `param` is written by the kernel on success.
    let raw = unsafe { libc::sched_getscheduler(0) };
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as above.
    let rc = unsafe { libc::sched_getparam(0, &mut param) };
    let resets = raw >= 0 && raw & libc::SCHED_RESET_ON_FORK != 0;
    let scheduling = match (raw & !libc::SCHED_RESET_ON_FORK, rc) {
        (libc::SCHED_RR | libc::SCHED_FIFO, 0) => {
            Scheduling::Realtime(u8::try_from(param.sched_priority).unwrap_or(u8::MAX))
        }
        _ => Scheduling::Normal,
    };
    (scheduling, resets)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs no privilege: normal scheduling can always be asked for. A thread that never
    /// asked is normal but passes its scheduling on; after `apply(0)` it resets what it
    /// starts, and what it starts is normal without the flag (the kernel clears it).
    #[test]
    fn apply_sets_the_reset_flag_even_when_the_policy_is_already_right() {
        std::thread::spawn(|| {
            assert_eq!(current(), (Scheduling::Normal, false));
            assert_eq!(apply(0), Scheduling::Normal);
            assert_eq!(current(), (Scheduling::Normal, true));
            let child = std::thread::spawn(current).join().expect("the child ran");
            assert_eq!(child, (Scheduling::Normal, false));
        })
        .join()
        .expect("the thread ran");
    }
}
