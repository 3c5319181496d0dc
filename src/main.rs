//! The `vipd` command line.

fn main() {}
