//! Script security as `vipd check` and `vipd run` apply it: every command the config can
//! run, the scripts that interpreters read, access ACLs, and a non-root vipd that holds
//! capabilities.

#[path = "track_support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use support::Scratch;
use vipd::config::Config;
use vipd::track::{self, InsecureScript, acl};

fn config(checks: &str, notify: &str, group_notify: &str) -> Config {
    let text = format!(
        r#"
checks:
  svc: {{ script: "{checks}" }}
instances:
  web:
    interface: lo
    vrid: 51
    vips: [192.0.2.10/32]
    track: [{{ check: svc }}]
    notify: {{ any: "{notify}" }}
groups:
  lb:
    members: [web]
    notify: {{ any: "{group_notify}" }}
"#
    );
    Config::parse(&text, "t.yaml").unwrap()
}

fn refused_path(problems: &[InsecureScript]) -> Vec<&Path> {
    problems
        .iter()
        .filter_map(|p| match p {
            InsecureScript::Writable { path, .. } => Some(path.as_path()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_world_writable_group_notify_command_is_refused() {
    let dir = Scratch::new("gsec");
    let ok = dir.script("ok", "exit 0");
    let bad = dir.script("group-notify", "exit 0");
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o777)).unwrap();
    let ok = ok.to_str().unwrap();
    let cfg = config(ok, ok, bad.to_str().unwrap());
    let problems = track::script_security(&cfg);
    assert_eq!(refused_path(&problems), vec![bad.as_path()], "{problems:?}");
}

#[test]
fn the_script_an_interpreter_runs_is_checked_not_only_the_interpreter() {
    let dir = Scratch::new("isec");
    let ok = dir.script("ok", "exit 0");
    let ok = ok.to_str().unwrap();
    let writable = dir.script("x.sh", "exit 0");
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o666)).unwrap();
    let w = writable.to_str().unwrap();
    for line in [
        format!("/bin/sh {w}"),
        format!("bash -e {w}"),
        format!("/usr/bin/env sh {w}"),
        format!("sh -c '{w} --now'"),
        format!("/usr/bin/perl {w} arg"),
    ] {
        let cfg = config(&line, ok, ok);
        let problems = track::script_security(&cfg);
        assert_eq!(
            refused_path(&problems),
            vec![writable.as_path()],
            "{line}: {problems:?}"
        );
        assert!(
            problems[0].to_string().contains("chmod o-w"),
            "{problems:?}"
        );
    }
    // Arguments that are not files (or are devices) are not judged.
    let cfg = config(&format!("/bin/sh {ok} /dev/null http://x/y"), ok, ok);
    assert_eq!(track::script_security(&cfg), vec![]);
}

/// Gives `path` an access ACL granting rwx to `uid`, written as setfacl would (no
/// setfacl needed: the kernel takes the attribute as is).
fn grant_write(path: &Path, uid: u32) {
    let e = |tag, perm, id| acl::Entry { tag, perm, id };
    let entries = [
        e(acl::TAG_USER_OBJ, 7, u32::MAX),
        e(acl::TAG_USER, 7, uid),
        e(acl::TAG_GROUP_OBJ, 5, u32::MAX),
        e(acl::TAG_MASK, 7, u32::MAX),
        e(acl::TAG_OTHER, 5, u32::MAX),
    ];
    xattr::set(path, acl::ACCESS_ACL_XATTR, &acl::encode(&entries))
        .unwrap_or_else(|e| panic!("setting an ACL on {}: {e}", path.display()));
}

#[test]
fn a_script_or_directory_writable_through_an_acl_is_refused() {
    let dir = Scratch::new("aclsec");
    let s = dir.script("check", "exit 0");
    let s_str = s.to_str().unwrap();
    assert_eq!(track::check_script(s_str), Ok(()));
    grant_write(&s, 12345);
    match track::check_script(s_str) {
        Err(InsecureScript::Writable {
            path, problem, fix, ..
        }) => {
            assert_eq!(path, s);
            assert!(problem.contains("uid 12345 through its ACL"), "{problem}");
            assert_eq!(fix, format!("setfacl -x u:12345 {s_str}"));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    xattr::remove(&s, acl::ACCESS_ACL_XATTR).unwrap();
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(track::check_script(s_str), Ok(()));
    grant_write(&dir.0, 12345);
    match track::check_script(s_str) {
        Err(InsecureScript::Writable { path, .. }) => assert_eq!(path, dir.0),
        other => panic!("expected the directory refused, got {other:?}"),
    }
}

/// Runs `vipd check FILE` as uid/gid 65534, with CAP_NET_RAW in the ambient set (as a unit
/// with `AmbientCapabilities=` gives it) or without any capability.
fn check_as_nobody(file: &Path, caps: bool) -> std::process::Output {
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    if caps {
        cmd.args(["--inh-caps=+net_raw", "--ambient-caps=+net_raw"]);
    }
    cmd.arg(env!("CARGO_BIN_EXE_vipd"))
        .args(["check", file.to_str().unwrap()])
        .output()
        .expect("run setpriv (util-linux)")
}

#[test]
fn a_non_root_vipd_with_capabilities_refuses_scripts_other_users_can_change() {
    if !nix::unistd::geteuid().is_root() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "this test needs root (to run vipd as another user with capabilities)"
        );
        eprintln!("SKIPPED: needs root to run vipd as another user with capabilities");
        return;
    }
    let dir = Scratch::new("capsec");
    let s = dir.script("check", "exit 0");
    // Someone else's script: neither root nor the user vipd runs as.
    std::os::unix::fs::chown(&s, Some(1000), Some(1000)).unwrap();
    let file = dir.path("vipd.yaml");
    let cfg = format!(
        "instances:\n  web:\n    interface: lo\n    vrid: 51\n    vips: [192.0.2.10/32]\n    notify: {{ any: \"{}\" }}\n",
        s.display()
    );
    std::fs::write(&file, cfg).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = check_as_nobody(&file, true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is owned by uid 1000 (not root nor uid 65534 (vipd's user))"),
        "{stderr}"
    );
    // Without capabilities a script gains nothing from vipd: a warning only.
    let out = check_as_nobody(&file, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning (refused when vipd runs as root or with capabilities)"),
        "{stderr}"
    );
}

#[test]
fn the_interpreter_of_a_shebang_line_is_checked() {
    let dir = Scratch::new("shebang");
    let interp = dir.script("interp", "exec /bin/sh \"$@\"");
    std::fs::set_permissions(&interp, std::fs::Permissions::from_mode(0o777)).unwrap();
    let s = dir.path("check");
    std::fs::write(&s, format!("#!{}\nexit 0\n", interp.display())).unwrap();
    std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).unwrap();
    match track::check_script(s.to_str().unwrap()) {
        Err(InsecureScript::Writable { path, .. }) => assert_eq!(path, interp),
        other => panic!("expected the interpreter refused, got {other:?}"),
    }
    // A safe interpreter, and one that does not exist (exec's error, not a security one).
    std::fs::set_permissions(&interp, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(track::check_script(s.to_str().unwrap()), Ok(()));
    std::fs::write(&s, "#!/nonexistent/interp\n").unwrap();
    assert_eq!(track::check_script(s.to_str().unwrap()), Ok(()));
}

#[test]
fn executable_path_arguments_are_checked_but_data_files_are_not() {
    let dir = Scratch::new("argsec");
    let ok = dir.script("ok", "exit 0");
    let ok = ok.to_str().unwrap();
    let job = dir.script("job", "exit 0");
    std::fs::set_permissions(&job, std::fs::Permissions::from_mode(0o777)).unwrap();
    let data = dir.path("notify.log");
    std::fs::write(&data, "").unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o666)).unwrap();
    let cfg = config(&format!("/bin/true --run={}", job.display()), ok, ok);
    let problems = track::script_security(&cfg);
    assert_eq!(refused_path(&problems), vec![job.as_path()], "{problems:?}");
    // A log a notify command writes to is not code: nothing to refuse.
    let cfg = config(ok, &format!("{ok} --log {}", data.display()), ok);
    assert_eq!(track::script_security(&cfg), vec![]);
}
