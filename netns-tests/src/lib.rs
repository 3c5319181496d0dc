//! A harness for end-to-end tests in network namespaces.
//!
//! A [`Lab`] is an isolated LAN: a switch namespace holding a bridge, N node namespaces and a
//! client namespace, each with a veth `eth0` into the bridge. Nothing is created in the host
//! namespace, every name is unique per process and lab (tests run in parallel), and dropping
//! the lab removes it all and kills every process in it, pass or panic.
//!
//! [`etcd::EtcdCluster`] adds a real 3-member etcd cluster on a segment of its own, which lab
//! nodes join with [`etcd::EtcdCluster::attach`].
//!
//! After a passing test the lab's directory (`$TMPDIR/vipd-lab-vth<pid>-<n>`) is removed. After
//! a failing one (a panic), or always with `VIPD_KEEP_LOGS=1`, it is kept and its path printed:
//! it holds what the test wrote there, the agents' configs and logs, their control sockets and
//! packet captures (`*.pcap`, with tcpdump's messages in `*.pcap.log`), each file cut to 8 MiB
//! (a log keeps its end, a capture its start) so that failures cannot fill the disk. An etcd
//! cluster keeps its members' logs, command lines and certificates the same way, but never its
//! data directories (see [`etcd`]).
//!
//! ```no_run
//! use netns_tests::{Lab, LabSpec, require_root};
//! use std::time::Duration;
//! if !require_root() { return; }
//! let lab = Lab::new(LabSpec { nodes: 2, ..Default::default() }).unwrap();
//! let node1 = lab.node(1);
//! let answers = lab.client.arp_probe(node1.ip4(), Duration::from_secs(1)).unwrap();
//! assert_eq!(answers, vec![node1.mac("eth0").unwrap()]);
//! ```

pub mod announce;
pub mod arbiter;
pub mod bench;
mod capture;
mod cmd;
pub mod decode;
mod error;
pub mod etcd;
pub mod forge;
pub mod holders;
mod keep;
mod lab;
mod mac;
mod netns;
mod node;
pub mod null_modem;
pub mod pcap;
pub mod peers;
pub mod ping;
pub mod probe;
mod proc;
mod root;
pub mod vipd;
mod wait;

pub use capture::Capture;
pub use error::{HarnessError, Result};
pub use lab::{Cut, CutGuard, Lab, LabSpec, PendingHeal};
pub use mac::Mac;
pub use netns::{block_on_in, in_netns};
pub use node::Node;
pub use pcap::Frame;
pub use ping::{PingReport, Pinger, pinger_bin};
pub use proc::Proc;
pub use root::require_root;
pub use wait::wait_until;
