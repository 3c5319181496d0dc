//! The control socket is root's: its mode (0600) keeps other users out.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use netns_tests::require_root;
use netns_tests::vipd::{VrrpState, vipd_bin};

use crate::common::*;

#[test]
fn the_control_socket_refuses_a_non_root_user() {
    if !require_root() {
        return;
    }
    let lab = lab();
    let vip = lab.vip4(0);
    let n0 = lab.node(0);
    let cfg = config(n0, vec![inst("web", 51, vip, 150)]);
    let mut d0 = start(&lab, 0, &cfg);
    settle_all(&mut d0, &cfg, VrrpState::Master);
    let sock = d0.socket_path().unwrap().to_path_buf();
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "socket mode");

    let bin = vipd_bin().unwrap();
    let (bin, sock_s) = (bin.to_string_lossy(), sock.to_string_lossy());
    let nobody = |args: &[&str]| {
        let setpriv = [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &bin,
        ];
        n0.exec(&[&setpriv[..], args].concat()).unwrap()
    };
    // Preconditions, so that the refusal below can only come from the socket's mode: the
    // user can run vipd and reach the socket's directory.
    let version = nobody(&["--version"]);
    assert!(
        version.status.success(),
        "nobody cannot run {bin}: {}",
        String::from_utf8_lossy(&version.stderr)
    );
    let dir_mode = std::fs::metadata(sock.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        dir_mode & 0o001,
        0o001,
        "the socket's directory is not searchable"
    );

    let out = nobody(&["status", "--socket", &sock_s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot reach vipd") && stderr.contains("Permission denied"),
        "{stderr}"
    );
    let out = nobody(&["maintenance", "on", "--socket", &sock_s]);
    assert!(!out.status.success());
    assert_eq!(d0.status().unwrap().instance("web").state, "MASTER");
    assert!(!d0.status().unwrap().instance("web").maintenance);

    // Root gets through, and so would anyone once the mode allows it: the refusal above is
    // the mode's doing.
    assert!(d0.ctl_ok(&["status"]).unwrap().contains("web"));
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = nobody(&["status", "--socket", &sock_s]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("MASTER"));
}
