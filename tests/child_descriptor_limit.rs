//! Commands start with the open-file limit vipd was started with, not the one it raised for
//! itself. In a process of its own: the limit is process-wide.

use std::time::Duration;

use vipd::track::process::{self, Exit, Spec};

#[tokio::test]
async fn commands_get_the_limit_vipd_started_with() {
    let (soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    // Below our own limit, so a child that inherited ours would print something else.
    assert!(soft > 1, "a soft limit of {soft} leaves nothing to lower");
    let child_soft = (soft - 1).min(77);
    process::children_get_descriptor_limit(child_soft);
    let spec = Spec {
        argv: vec!["/bin/sh".into(), "-c".into(), "ulimit -n".into()],
        env: Vec::new(),
        timeout: Duration::from_secs(10),
        run_as: None,
    };
    let out = process::run(&spec).await;
    assert_eq!(out.exit, Exit::Code(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout.bytes).trim(),
        child_soft.to_string()
    );
}
