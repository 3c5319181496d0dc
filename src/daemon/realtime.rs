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

/// Where the calling thread stands after [`apply`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheduling {
    /// SCHED_RR at this priority.
    Realtime(u8),
    /// Normal scheduling.
    Normal,
}

/// Puts the calling thread at SCHED_RR `priority` (normal scheduling for 0), and says so in
/// the log. A refusal (no CAP_SYS_NICE, a container without a realtime budget, a unit with
/// RestrictRealtime=) is a warning: the daemon runs on at normal priority.
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
            let now = current();
            let stays = match now {
                Scheduling::Realtime(p) => format!("SCHED_RR {p}"),
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
    // A service manager may have set this already (systemd's CPUSchedulingPolicy=), and
    // may forbid setting it again (RestrictRealtime=).
    if current() == wanted {
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

/// The calling thread's scheduling, as the kernel reports it.
pub fn current() -> Scheduling {
    // SAFETY: pid 0 is the calling thread; `param` is written by the kernel on success.
    let policy = unsafe { libc::sched_getscheduler(0) } & !libc::SCHED_RESET_ON_FORK;
    let mut param = libc::sched_param { sched_priority: 0 };
    // SAFETY: as above.
    let rc = unsafe { libc::sched_getparam(0, &mut param) };
    match (policy, rc) {
        (libc::SCHED_RR | libc::SCHED_FIFO, 0) => {
            Scheduling::Realtime(u8::try_from(param.sched_priority).unwrap_or(u8::MAX))
        }
        _ => Scheduling::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs no privilege: normal scheduling can always be asked for, and a thread that
    /// asked for it starts its own threads at normal scheduling too.
    #[test]
    fn priority_zero_is_normal_scheduling() {
        std::thread::spawn(|| {
            assert_eq!(apply(0), Scheduling::Normal);
            assert_eq!(current(), Scheduling::Normal);
        })
        .join()
        .expect("the thread ran");
    }
}
