//! Unit tests of the script security rules: owners, mode bits, ACLs, trust, capabilities.

use super::*;
use acl::{Entry, TAG_GROUP, TAG_GROUP_OBJ, TAG_MASK, TAG_OTHER, TAG_USER, TAG_USER_OBJ};

const ROOT: Trust = Trust { uid: 0 };

fn p(uid: u32, gid: u32, mode: u32, dir: bool) -> Perms {
    Perms {
        uid,
        gid,
        mode,
        dir,
    }
}

fn j(path: &str, perms: Perms) -> Option<(String, String)> {
    judge(Path::new(path), perms, None, ROOT)
}

fn acl_with(extra: &[(u16, u16, u32)], mask: u16) -> Vec<Entry> {
    let mut v = vec![
        Entry {
            tag: TAG_USER_OBJ,
            perm: 7,
            id: u32::MAX,
        },
        Entry {
            tag: TAG_GROUP_OBJ,
            perm: 5,
            id: u32::MAX,
        },
        Entry {
            tag: TAG_MASK,
            perm: mask,
            id: u32::MAX,
        },
        Entry {
            tag: TAG_OTHER,
            perm: 5,
            id: u32::MAX,
        },
    ];
    v.extend(extra.iter().map(|&(tag, perm, id)| Entry { tag, perm, id }));
    v
}

#[test]
fn root_owned_and_not_writable_by_others_passes() {
    assert_eq!(j("/s", p(0, 0, 0o755, false)), None);
    assert_eq!(j("/s", p(0, 0, 0o775, false)), None);
    assert_eq!(j("/d", p(0, 50, 0o755, true)), None);
}

#[test]
fn world_writable_is_refused_with_the_fix() {
    let (problem, fix) = j("/etc/s", p(0, 0, 0o777, false)).unwrap();
    assert!(problem.contains("world-writable"));
    assert_eq!(fix, "chmod o-w /etc/s");
}

#[test]
fn group_writable_by_a_non_root_group_is_refused() {
    let (_, fix) = j("/d", p(0, 100, 0o775, true)).unwrap();
    assert_eq!(fix, "chmod g-w /d");
}

#[test]
fn owned_by_a_non_root_user_is_refused() {
    let (problem, fix) = j("/s", p(1000, 0, 0o700, false)).unwrap();
    assert!(problem.contains("1000"));
    assert_eq!(fix, "chown root /s");
}

#[test]
fn sticky_world_writable_directories_pass_but_sticky_files_do_not() {
    assert_eq!(j("/tmp", p(0, 0, 0o1777, true)), None);
    assert!(j("/f", p(0, 0, 0o1777, false)).is_some());
}

#[test]
fn an_acl_granting_write_to_another_user_or_group_is_refused() {
    let s = Path::new("/s");
    let perms = p(0, 0, 0o775, false);
    let user = acl_with(&[(TAG_USER, 7, 1000)], 7);
    let (problem, fix) = judge(s, perms, Some(&user), ROOT).unwrap();
    assert!(problem.contains("uid 1000 through its ACL"), "{problem}");
    assert_eq!(fix, "setfacl -x u:1000 /s");
    let group = acl_with(&[(TAG_GROUP, 6, 50)], 7);
    let (_, fix) = judge(s, perms, Some(&group), ROOT).unwrap();
    assert_eq!(fix, "setfacl -x g:50 /s");
    // Directories too.
    let d = p(0, 0, 0o775, true);
    assert!(judge(Path::new("/d"), d, Some(&user), ROOT).is_some());
}

#[test]
fn an_acl_write_the_mask_removes_or_for_root_passes() {
    let s = Path::new("/s");
    let perms = p(0, 0, 0o755, false);
    assert_eq!(
        judge(s, perms, Some(&acl_with(&[(TAG_USER, 7, 1000)], 5)), ROOT),
        None
    );
    assert_eq!(
        judge(s, perms, Some(&acl_with(&[(TAG_USER, 7, 0)], 7)), ROOT),
        None
    );
    assert_eq!(
        judge(s, perms, Some(&acl_with(&[(TAG_GROUP, 7, 0)], 7)), ROOT),
        None
    );
    // The mode's group bits show the mask, not the owning group's write.
    let owned_by_50 = p(0, 50, 0o775, false);
    assert_eq!(judge(s, owned_by_50, Some(&acl_with(&[], 7)), ROOT), None);
}

#[test]
fn a_non_root_vipd_trusts_itself_and_root_but_no_one_else() {
    let me = Trust { uid: 990 };
    let s = Path::new("/s");
    assert_eq!(judge(s, p(990, 990, 0o755, false), None, me), None);
    assert_eq!(judge(s, p(0, 0, 0o755, false), None, me), None);
    let (problem, _) = judge(s, p(1000, 0, 0o755, false), None, me).unwrap();
    assert!(problem.contains("not root nor uid 990"), "{problem}");
    assert!(judge(s, p(990, 990, 0o775, false), None, me).is_some());
    assert!(judge(s, p(990, 0, 0o757, false), None, me).is_some());
    let acl = acl_with(&[(TAG_USER, 7, 990)], 7);
    assert_eq!(judge(s, p(0, 0, 0o775, false), Some(&acl), me), None);
    assert!(judge(s, p(0, 0, 0o775, false), Some(&acl), ROOT).is_some());
}

#[test]
fn capabilities_are_read_from_proc_status() {
    let none = "Name:\tvipd\nCapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapAmb:\t0000000000000000\n";
    assert!(!has_capabilities(none));
    let net_admin = none.replace("CapAmb:\t0000000000000000", "CapAmb:\t0000000000001000");
    assert!(has_capabilities(&net_admin));
    let eff = none.replace("CapEff:\t0000000000000000", "CapEff:\t0000000000003000");
    assert!(has_capabilities(&eff));
    // Inheritable alone gives a script nothing.
    let inh = none.replace("CapInh:\t0000000000000000", "CapInh:\t0000000000003000");
    assert!(!has_capabilities(&inh));
}
