//! The members' processes: how each is started, stopped, frozen and restarted.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use nix::sys::signal::Signal;

use crate::error::{HarnessError, Result};
use crate::proc::Proc;

use super::{CLIENT_PORT, EtcdCluster, PEER_PORT};

pub(super) struct Member {
    pub(super) name: String,
    pub(super) ns: String,
    pub(super) ip: Ipv4Addr,
    pub(super) args: Vec<String>,
    pub(super) proc: Option<Proc>,
}

impl EtcdCluster {
    /// Kills member `i` (SIGKILL, like a crash); its data directory stays for a restart.
    pub fn stop(&mut self, i: usize) {
        if let Some(mut p) = self.members[i].proc.take() {
            p.kill();
        }
    }

    /// Starts member `i` again on its data directory (no-op if it runs).
    pub fn start_member(&mut self, i: usize) -> Result<()> {
        let m = &mut self.members[i];
        if m.proc.as_mut().is_some_and(|p| p.try_status().is_none()) {
            return Ok(());
        }
        let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
        let log = self.dir.join(format!("{}.log", m.name));
        m.proc = Some(Proc::spawn(&m.ns, &args, log)?);
        Ok(())
    }

    /// Freezes member `i` (SIGSTOP): its sockets stay open but it answers nothing, which is
    /// what a hung or overloaded member looks like.
    pub fn pause(&mut self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGSTOP)
    }

    /// Thaws member `i` (SIGCONT).
    pub fn resume(&mut self, i: usize) -> Result<()> {
        self.signal(i, Signal::SIGCONT)
    }

    fn signal(&mut self, i: usize, sig: Signal) -> Result<()> {
        match self.members[i].proc.as_mut() {
            Some(p) => p.signal(sig),
            None => Err(HarnessError::parse(
                "etcd member",
                format!("e{i} is stopped"),
            )),
        }
    }

    /// Member `i`'s data directory (its WAL and snapshots).
    pub(super) fn data_dir(&self, i: usize) -> PathBuf {
        self.dir.join(format!("e{i}.data"))
    }

    pub(super) fn member_args(&self, i: usize, ip: Ipv4Addr, initial: &str) -> Result<Vec<String>> {
        let client = format!(
            "{}://{ip}:{CLIENT_PORT}",
            if self.tls.is_some() { "https" } else { "http" }
        );
        let peer = format!("http://{ip}:{PEER_PORT}");
        let data = self.data_dir(i);
        let mut args: Vec<String> = [
            "etcd",
            "--name",
            &format!("e{i}"),
            "--data-dir",
            &data.display().to_string(),
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
            "--initial-cluster",
            initial,
            "--initial-cluster-token",
            &self.base,
            "--initial-cluster-state",
            "new",
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
            "--logger",
            "zap",
        ]
        .map(String::from)
        .to_vec();
        if let Some(tls) = &self.tls {
            let server = tls.server(&format!("e{i}"), ip)?;
            for (flag, path) in [
                ("--cert-file", &server.cert),
                ("--key-file", &server.key),
                ("--trusted-ca-file", &tls.ca),
            ] {
                args.push(flag.into());
                args.push(path.display().to_string());
            }
            args.push("--client-cert-auth".into());
        }
        Ok(args)
    }
}
