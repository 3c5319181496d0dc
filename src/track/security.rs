//! Script security: when vipd runs as root, a script that a non-root user could modify or
//! replace is a root shell for that user. Such a script is refused, with the path and the
//! command that fixes it; nothing is silently disabled.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a script is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InsecureScript {
    /// The program was not found (in `PATH` when it has no slash).
    #[error("script {0}: not found")]
    NotFound(String),
    /// A path element could not be examined.
    #[error("script {script}: cannot examine {path}: {error}")]
    Unreadable {
        /// The script as configured.
        script: String,
        /// The element.
        path: PathBuf,
        /// The error.
        error: String,
    },
    /// A path element is modifiable by someone other than root.
    #[error(
        "script {script}: {path} {problem}; vipd runs scripts as root only if no other user can change them (fix: {fix})"
    )]
    Writable {
        /// The script as configured.
        script: String,
        /// The offending file or directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
        /// The command that fixes it.
        fix: String,
    },
}

/// The ownership and mode bits of one path element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Perms {
    /// Owner user ID.
    pub uid: u32,
    /// Owner group ID.
    pub gid: u32,
    /// Mode bits (`st_mode`).
    pub mode: u32,
    /// A directory.
    pub dir: bool,
}

const S_ISVTX: u32 = 0o1000;
const GROUP_W: u32 = 0o020;
const OTHER_W: u32 = 0o002;

/// Judges one path element: `Some((problem, fix))` if a non-root user could change it.
///
/// A world-writable directory with the sticky bit (`/tmp`) is accepted: there only an
/// entry's owner can rename or remove it, and the next element is itself checked for a
/// root owner.
pub fn judge(path: &Path, p: Perms) -> Option<(String, String)> {
    let shown = path.display();
    if p.uid != 0 {
        return Some((
            format!("is owned by uid {} (not root)", p.uid),
            format!("chown root {shown}"),
        ));
    }
    if p.mode & OTHER_W != 0 && !(p.dir && p.mode & S_ISVTX != 0) {
        return Some(("is world-writable".into(), format!("chmod o-w {shown}")));
    }
    if p.mode & GROUP_W != 0 && p.gid != 0 && !(p.dir && p.mode & S_ISVTX != 0) {
        return Some((
            format!("is writable by group gid {} (not root)", p.gid),
            format!("chmod g-w {shown}"),
        ));
    }
    None
}

/// Finds `program` the way exec would: as given if it has a slash, else in `PATH`.
pub fn resolve_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Checks the program of a script command line (`argv[0]`) and every directory above it,
/// both as written and after following symbolic links. Call it only when vipd runs as
/// root (scripts run by an unprivileged vipd cannot gain anything).
pub fn check_script(argv0: &str) -> Result<(), InsecureScript> {
    let found = resolve_program(argv0).ok_or_else(|| InsecureScript::NotFound(argv0.into()))?;
    let absolute = std::path::absolute(&found).unwrap_or(found);
    let real = std::fs::canonicalize(&absolute).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InsecureScript::NotFound(argv0.into()),
        _ => InsecureScript::Unreadable {
            script: argv0.into(),
            path: absolute.clone(),
            error: e.to_string(),
        },
    })?;
    for chain in [&absolute, &real] {
        // Outermost first, so the message names the directory to fix first.
        let mut elements: Vec<&Path> = chain.ancestors().collect();
        elements.reverse();
        for el in elements {
            // symlink_metadata: a link's own mode is meaningless, but who owns it matters
            // little too, as only its directory's writability lets it be replaced; the target
            // is covered by the canonical chain.
            let meta = std::fs::symlink_metadata(el).map_err(|e| InsecureScript::Unreadable {
                script: argv0.into(),
                path: el.to_owned(),
                error: e.to_string(),
            })?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let perms = Perms {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode(),
                dir: meta.is_dir(),
            };
            if let Some((problem, fix)) = judge(el, perms) {
                return Err(InsecureScript::Writable {
                    script: argv0.into(),
                    path: el.to_owned(),
                    problem,
                    fix,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(uid: u32, gid: u32, mode: u32, dir: bool) -> Perms {
        Perms {
            uid,
            gid,
            mode,
            dir,
        }
    }

    #[test]
    fn root_owned_and_not_writable_by_others_passes() {
        assert_eq!(judge(Path::new("/s"), p(0, 0, 0o755, false)), None);
        assert_eq!(judge(Path::new("/s"), p(0, 0, 0o775, false)), None);
        assert_eq!(judge(Path::new("/d"), p(0, 50, 0o755, true)), None);
    }

    #[test]
    fn world_writable_is_refused_with_the_fix() {
        let (problem, fix) = judge(Path::new("/etc/s"), p(0, 0, 0o777, false)).unwrap();
        assert!(problem.contains("world-writable"));
        assert_eq!(fix, "chmod o-w /etc/s");
    }

    #[test]
    fn group_writable_by_a_non_root_group_is_refused() {
        let (_, fix) = judge(Path::new("/d"), p(0, 100, 0o775, true)).unwrap();
        assert_eq!(fix, "chmod g-w /d");
    }

    #[test]
    fn owned_by_a_non_root_user_is_refused() {
        let (problem, fix) = judge(Path::new("/s"), p(1000, 0, 0o700, false)).unwrap();
        assert!(problem.contains("1000"));
        assert_eq!(fix, "chown root /s");
    }

    #[test]
    fn sticky_world_writable_directories_pass_but_sticky_files_do_not() {
        assert_eq!(judge(Path::new("/tmp"), p(0, 0, 0o1777, true)), None);
        assert!(judge(Path::new("/f"), p(0, 0, 0o1777, false)).is_some());
    }
}
