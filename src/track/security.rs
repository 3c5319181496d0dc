//! Script security: when vipd runs as root (or holds capabilities), a script that another
//! user could modify or replace is a root shell (or those capabilities) for that user. Such
//! a script is refused, with the path and the command that fixes it; nothing is silently
//! disabled. keepalived's `script_security` is the model; vipd also checks the script an
//! interpreter runs (`/bin/sh /x.sh`), path arguments, and access ACLs.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::acl;
use super::command_paths::{self, Target};

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
        "script {script}: {path} {problem}; vipd runs a script with its privileges only if no other user can change it (fix: {fix})"
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

/// Whom vipd trusts with its scripts: root, and the user vipd itself runs as (a non-root
/// vipd with capabilities gains nothing from refusing its own files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trust {
    /// The effective user ID vipd runs as.
    pub uid: u32,
}

impl Trust {
    /// This process's trust: root and its effective user.
    pub fn of_this_process() -> Trust {
        Trust {
            uid: nix::unistd::geteuid().as_raw(),
        }
    }

    fn trusts(self, uid: u32) -> bool {
        uid == 0 || uid == self.uid
    }

    fn who(self) -> String {
        if self.uid == 0 {
            "root".into()
        } else {
            format!("root nor uid {} (vipd's user)", self.uid)
        }
    }
}

const S_ISVTX: u32 = 0o1000;
const GROUP_W: u32 = 0o020;
const OTHER_W: u32 = 0o002;

/// Judges one path element: `Some((problem, fix))` if a user other than those `trust`
/// names could change it, through its owner, its mode bits or its access ACL (`acl`).
///
/// A world-writable directory with the sticky bit (`/tmp`) is accepted: there only an
/// entry's owner can rename or remove it, and the next element is itself checked for a
/// trusted owner.
pub fn judge(
    path: &Path,
    p: Perms,
    acl: Option<&[acl::Entry]>,
    trust: Trust,
) -> Option<(String, String)> {
    let shown = path.display();
    if !trust.trusts(p.uid) {
        return Some((
            format!("is owned by uid {} (not {})", p.uid, trust.who()),
            format!("chown root {shown}"),
        ));
    }
    if p.dir && p.mode & S_ISVTX != 0 {
        return None;
    }
    if p.mode & OTHER_W != 0 {
        return Some(("is world-writable".into(), format!("chmod o-w {shown}")));
    }
    let group_writable = |gid: u32| {
        Some((
            format!("is writable by group gid {gid} (not root)"),
            format!("chmod g-w {shown}"),
        ))
    };
    let Some(entries) = acl else {
        // Without an ACL the group bits are the owning group's.
        return (p.mode & GROUP_W != 0 && p.gid != 0)
            .then(|| group_writable(p.gid))
            .flatten();
    };
    // With one, the group bits are the mask; the entries say who may write.
    acl::writers(entries).into_iter().find_map(|w| match w {
        acl::Writer::User(uid) if !trust.trusts(uid) => Some((
            format!("is writable by uid {uid} through its ACL"),
            format!("setfacl -x u:{uid} {shown}"),
        )),
        acl::Writer::Group(gid) if gid != 0 => Some((
            format!("is writable by group gid {gid} through its ACL"),
            format!("setfacl -x g:{gid} {shown}"),
        )),
        acl::Writer::OwningGroup if p.gid != 0 => group_writable(p.gid),
        _ => None,
    })
}

/// Whether scripts run with privileges worth guarding: vipd is root, or holds
/// capabilities (which a script inherits through the ambient set, or could use if vipd's
/// permitted set reaches it).
pub fn scripts_privileged() -> bool {
    nix::unistd::geteuid().is_root()
        || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| has_capabilities(&s))
}

/// Whether a `/proc/PID/status` text shows any effective, permitted or ambient capability.
pub fn has_capabilities(status: &str) -> bool {
    status.lines().any(|l| {
        ["CapEff:", "CapPrm:", "CapAmb:"].iter().any(|k| {
            l.strip_prefix(k)
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
                .is_some_and(|bits| bits != 0)
        })
    })
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

/// Checks the program of a script command line (`argv[0]`) and every directory above it
/// against this process's [`Trust`]. Call it only when [`scripts_privileged`].
pub fn check_script(argv0: &str) -> Result<(), InsecureScript> {
    check_program(argv0, argv0, Trust::of_this_process())
}

/// Checks everything a command line runs ([`command_paths::targets`]): the program, the
/// script an interpreter reads, the program a wrapper like `env` runs, and path arguments
/// that name existing executable files. `script` names the command in errors.
pub fn check_command(script: &str, argv: &[String], trust: Trust) -> Result<(), InsecureScript> {
    for target in command_paths::targets(argv) {
        match target {
            Target::Program(p) => check_program(script, &p, trust)?,
            Target::Path(p) => {
                // An executable file only: a log or a data directory is not code.
                let Ok(meta) = std::fs::metadata(&p) else {
                    continue;
                };
                if meta.is_file() && meta.mode() & 0o111 != 0 {
                    check_path(script, &PathBuf::from(&p), trust)?;
                }
            }
            Target::Script(p) => {
                if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) {
                    check_path(script, &PathBuf::from(&p), trust)?;
                }
            }
        }
    }
    Ok(())
}

/// The most `#!` lines followed from one program (Linux itself follows 4 levels).
const MAX_SHEBANG_DEPTH: u8 = 4;

fn check_program(script: &str, program: &str, trust: Trust) -> Result<(), InsecureScript> {
    check_program_at(script, program, trust, 0)
}

/// Checks a program and, if it is a `#!` script, the interpreter its first line names: a
/// root-owned script whose interpreter another user can replace is no safer than the
/// interpreter.
fn check_program_at(
    script: &str,
    program: &str,
    trust: Trust,
    depth: u8,
) -> Result<(), InsecureScript> {
    let found = resolve_program(program).ok_or_else(|| InsecureScript::NotFound(script.into()))?;
    check_path(script, &found, trust)?;
    if depth >= MAX_SHEBANG_DEPTH {
        return Ok(());
    }
    // A bounded, non-blocking read of the first line; what cannot be read has no `#!`
    // to follow (exec would read it the same way).
    let Ok(head) = crate::regular_file::open_regular(&found, true).and_then(|f| {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(f, 256), &mut buf)
            .map_err(crate::regular_file::ReadError::Io)?;
        Ok(buf)
    }) else {
        return Ok(());
    };
    let Some(argv) = command_paths::shebang(&head) else {
        return Ok(());
    };
    for target in command_paths::targets(&argv) {
        match target {
            // A `#!` line naming nothing runnable fails at exec; that is the script's
            // own error to report when it runs, not a security problem.
            Target::Program(p) => match check_program_at(script, &p, trust, depth + 1) {
                Err(InsecureScript::NotFound(_)) => {}
                r => r?,
            },
            Target::Path(p) | Target::Script(p)
                if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) =>
            {
                check_path(script, Path::new(&p), trust)?
            }
            Target::Path(_) | Target::Script(_) => {}
        }
    }
    Ok(())
}

/// Checks `found` and every directory above it, both as written and after following
/// symbolic links.
fn check_path(script: &str, found: &Path, trust: Trust) -> Result<(), InsecureScript> {
    let absolute = std::path::absolute(found).unwrap_or_else(|_| found.to_owned());
    let real = std::fs::canonicalize(&absolute).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => InsecureScript::NotFound(script.into()),
        _ => InsecureScript::Unreadable {
            script: script.into(),
            path: absolute.clone(),
            error: e.to_string(),
        },
    })?;
    let unreadable = |el: &Path, e: std::io::Error| InsecureScript::Unreadable {
        script: script.into(),
        path: el.to_owned(),
        error: e.to_string(),
    };
    for chain in [&absolute, &real] {
        // Outermost first, so the message names the directory to fix first.
        let mut elements: Vec<&Path> = chain.ancestors().collect();
        elements.reverse();
        for el in elements {
            // symlink_metadata: a link's own mode is meaningless, and only its directory's
            // writability lets it be replaced; the target is covered by the canonical chain.
            let meta = std::fs::symlink_metadata(el).map_err(|e| unreadable(el, e))?;
            if meta.file_type().is_symlink() {
                continue;
            }
            let perms = Perms {
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode(),
                dir: meta.is_dir(),
            };
            let entries = acl::read(el).map_err(|e| unreadable(el, e))?;
            if let Some((problem, fix)) = judge(el, perms, entries.as_deref(), trust) {
                return Err(InsecureScript::Writable {
                    script: script.into(),
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
#[path = "security_tests.rs"]
mod tests;
