//! A vipd pair whose instances need an etcd lease for every takeover (`arbiter: true`),
//! with a real 3-member cluster beside the lab, and the fault scenarios the arbiter exists
//! for. The tests (`tests/arbiter.rs`) assert on what the scenarios return; the benchmark
//! (`arbiter_bench`) measures the same runs.

pub mod pair;
pub mod scenario;

pub use pair::{ArbiterPair, PairSpec};
