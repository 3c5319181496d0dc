//! Which files a command line runs. `/bin/sh /etc/vipd/check.sh` runs the shell and the
//! script; checking only the shell would let whoever can write the script run anything
//! with vipd's privileges. keepalived's `script_security` has the same gap for
//! interpreters; vipd closes it by checking, besides the program:
//!
//! - the first operand of a known interpreter (`sh x.sh`, `python3 /w/c.py`), a regular
//!   file it reads as code;
//! - every other argument that looks like a path (has a `/`), when it names an existing
//!   executable file (`flock /run/l /w/job`); data files and directories that a program
//!   merely writes to (`--log /var/log/x`) are not code, and are left alone;
//! - the program that `env`, `nice`, `nohup`, `timeout` and similar wrappers run (others,
//!   like `flock FILE CMD`, are covered by the executable-path rule above), and the
//!   command string of `sh -c` (split like a config command, one level deep).
//!
//! The decisions here are pure: they name candidates; the caller looks at the filesystem.

/// Something a command line runs or reads as code.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A program, found as exec would (in `PATH` when it has no slash).
    Program(String),
    /// A path argument: checked if it names an existing executable regular file.
    Path(String),
    /// A script an interpreter reads: checked if it names an existing regular file.
    Script(String),
}

/// Programs whose first operand is a script they read and run.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "fish", "csh", "tcsh", "busybox", "python",
    "python2", "python3", "perl", "ruby", "php", "lua", "node", "nodejs", "tclsh", "awk", "gawk",
    "mawk", "sed", "expect", "Rscript",
];

/// Programs that run another program given as their first operand.
const WRAPPERS: &[&str] = &[
    "env", "nice", "nohup", "timeout", "setsid", "stdbuf", "ionice", "chrt", "taskset", "exec",
    "command", "sudo", "doas", "runuser", "flock", "xargs", "chroot",
];

/// Options of wrappers that take a separate value (`timeout -s KILL`, `nice -n 5`).
const VALUED_OPTIONS: &[&str] = &["-n", "-s", "-k", "-u", "-g", "-c", "-p", "-i", "-o", "-e"];

fn base_name(program: &str) -> &str {
    program.rsplit('/').next().unwrap_or(program)
}

/// Whether `name` (a program's base name) is a known interpreter, versioned or not
/// (`python3.11`, `perl5.36`).
fn is_interpreter(name: &str) -> bool {
    let unversioned = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS.contains(&name) || INTERPRETERS.contains(&unversioned)
}

/// The interpreter line of a script (`#!/bin/sh -e`, `#!/usr/bin/env python3`), as exec
/// reads it: the interpreter and at most one argument (the rest of the line). `None`
/// without `#!` at the start.
pub fn shebang(head: &[u8]) -> Option<Vec<String>> {
    let rest = head.strip_prefix(b"#!")?;
    let line = rest.split(|&b| b == b'\n').next()?;
    let line = String::from_utf8_lossy(line);
    let line = line.trim();
    let (interp, arg) = match line.split_once([' ', '\t']) {
        Some((i, a)) => (i, Some(a.trim())),
        None => (line, None),
    };
    if interp.is_empty() {
        return None;
    }
    let mut argv = vec![interp.to_owned()];
    argv.extend(arg.filter(|a| !a.is_empty()).map(str::to_owned));
    Some(argv)
}

/// Everything `argv` runs or reads as code, the program first.
pub fn targets(argv: &[String]) -> Vec<Target> {
    let mut out = Vec::new();
    collect(argv, &mut out, 0);
    let scripts: std::collections::HashSet<String> = out
        .iter()
        .filter_map(|t| match t {
            Target::Script(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    out.retain(|t| !matches!(t, Target::Path(p) if scripts.contains(p)) && seen.insert(t.clone()));
    out
}

fn collect(argv: &[String], out: &mut Vec<Target>, depth: u8) {
    let Some((program, args)) = argv.split_first() else {
        return;
    };
    out.push(Target::Program(program.clone()));
    // Every path-like argument, whatever the program: `run-parts /etc/x.d`, `--conf=/x`.
    for a in args {
        let value = a.split_once('=').map_or(a.as_str(), |(_, v)| v);
        if value.contains('/') {
            out.push(Target::Path(value.to_owned()));
        }
    }
    let name = base_name(program);
    let operand = first_operand(args, WRAPPERS.contains(&name));
    if is_interpreter(name) {
        if let Some(i) = args.iter().position(|a| a == "-c")
            && let Some(cmd) = args.get(i + 1)
            && depth < 2
            && let Some(inner) = shlex::split(cmd)
        {
            collect(&inner, out, depth + 1);
        } else if let Some(i) = operand {
            out.push(Target::Script(args[i].clone()));
        }
    } else if WRAPPERS.contains(&name)
        && depth < 2
        && let Some(i) = operand
    {
        collect(&args[i..], out, depth + 1);
    }
}

/// The index of the first argument that is not an option (nor `NAME=VALUE`, for `env`).
fn first_operand(args: &[String], wrapper: bool) -> Option<usize> {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--" {
            return (i + 1 < args.len()).then_some(i + 1);
        }
        if a.starts_with('-') && a.len() > 1 {
            i += if wrapper && VALUED_OPTIONS.contains(&a) {
                2
            } else {
                1
            };
            continue;
        }
        if wrapper && a.contains('=') {
            i += 1;
            continue;
        }
        // `timeout 5 prog`: a bare duration before the program.
        if wrapper && a.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
            continue;
        }
        return Some(i);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Vec<Target> {
        targets(&shlex::split(line).unwrap())
    }

    fn prog(s: &str) -> Target {
        Target::Program(s.into())
    }

    fn path(s: &str) -> Target {
        Target::Path(s.into())
    }

    fn script(s: &str) -> Target {
        Target::Script(s.into())
    }

    #[test]
    fn a_plain_program_is_the_only_target() {
        assert_eq!(t("/usr/bin/check web"), vec![prog("/usr/bin/check")]);
    }

    #[test]
    fn interpreters_scripts_are_targets_with_or_without_a_slash() {
        assert_eq!(
            t("/bin/sh /w/x.sh arg"),
            vec![prog("/bin/sh"), script("/w/x.sh")]
        );
        assert_eq!(t("bash -e x.sh"), vec![prog("bash"), script("x.sh")]);
        assert_eq!(
            t("python3.11 -u /w/c.py"),
            vec![prog("python3.11"), script("/w/c.py")]
        );
        assert_eq!(t("perl x.pl"), vec![prog("perl"), script("x.pl")]);
    }

    #[test]
    fn wrappers_are_followed_to_the_program_they_run() {
        assert_eq!(
            t("env X=1 -u Y check --flag"),
            vec![prog("env"), prog("check")]
        );
        assert_eq!(
            t("timeout -s KILL 5 /bin/sh /w/x.sh"),
            vec![
                prog("timeout"),
                path("/bin/sh"),
                prog("/bin/sh"),
                script("/w/x.sh")
            ]
        );
        assert_eq!(
            t("/usr/bin/env python3 s.py"),
            vec![prog("/usr/bin/env"), prog("python3"), script("s.py")]
        );
    }

    #[test]
    fn a_shell_command_string_is_split_and_checked() {
        assert_eq!(
            t("sh -c '/w/a.sh && /w/b.sh'"),
            // The string itself is tried as a path too, harmlessly: no such file exists.
            vec![
                prog("sh"),
                path("/w/a.sh && /w/b.sh"),
                prog("/w/a.sh"),
                path("/w/b.sh")
            ]
        );
    }

    #[test]
    fn path_like_arguments_and_option_values_are_targets() {
        assert_eq!(
            t("/usr/bin/run-parts --conf=/etc/x /etc/x.d"),
            vec![prog("/usr/bin/run-parts"), path("/etc/x"), path("/etc/x.d")]
        );
    }

    #[test]
    fn shebang_lines_name_the_interpreter_and_one_argument() {
        assert_eq!(
            shebang(b"#!/bin/sh\nexit 0"),
            Some(vec!["/bin/sh".to_owned()])
        );
        assert_eq!(
            shebang(b"#! /usr/bin/env python3 -u\n"),
            Some(vec!["/usr/bin/env".to_owned(), "python3 -u".to_owned()])
        );
        assert_eq!(shebang(b"exit 0"), None);
        assert_eq!(shebang(b"#!\n"), None);
        assert_eq!(shebang(b"\x7fELF"), None);
    }

    #[test]
    fn nesting_is_bounded() {
        let line = "env ".repeat(1000) + "x";
        assert!(t(&line).len() <= 4);
    }
}
