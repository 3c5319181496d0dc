//! The subset of glob(3) that keepalived's `include` uses: `*`, `?`, `[...]` within a path
//! component, and csh brace expansion (`{a,b}`), matches sorted like glob's.
//!
//! The work is bounded, as a pattern is input: brace alternatives (`{a,b}` forty times is
//! 2^40 patterns), directory entries scanned, and matching (`*` is matched without
//! backtracking blow-up). Past a bound the expansion is refused, naming it.

use std::path::{Path, PathBuf};

/// The longest pattern expanded (PATH_MAX).
pub const MAX_PATTERN_BYTES: usize = 4096;
/// Patterns one brace expansion may produce.
pub const MAX_ALTERNATIVES: usize = 256;
/// Directory entries one expansion may look at.
pub const MAX_ENTRIES_SCANNED: usize = 10_000;
/// Files one expansion may match.
pub const MAX_MATCHES: usize = 256;

/// Why an expansion was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The pattern is longer than [`MAX_PATTERN_BYTES`].
    #[error("pattern longer than {MAX_PATTERN_BYTES} bytes")]
    PatternLength,
    /// Braces expand to more than [`MAX_ALTERNATIVES`] patterns.
    #[error("braces expand to more than {MAX_ALTERNATIVES} patterns")]
    Alternatives,
    /// More than [`MAX_ENTRIES_SCANNED`] directory entries.
    #[error("matching looks at more than {MAX_ENTRIES_SCANNED} directory entries")]
    EntriesScanned,
    /// More than [`MAX_MATCHES`] files.
    #[error("pattern matches more than {MAX_MATCHES} files")]
    Matches,
}

/// Whether `pattern` has anything to expand; a plain path that names no file is an error
/// for the caller, while a pattern may match nothing.
pub fn is_pattern(pattern: &str) -> bool {
    has_wildcard(pattern) || braces_bounded(pattern).is_ok_and(|b| b.len() > 1)
}

/// Every existing file matching `pattern`: brace alternatives in order, each one's matches
/// sorted.
pub fn expand(pattern: &str) -> Result<Vec<PathBuf>, GlobError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(GlobError::PatternLength);
    }
    let mut out = Vec::new();
    let mut scanned = 0;
    for p in braces_bounded(pattern)? {
        if !has_wildcard(&p) {
            // Anything but a directory: the reader refuses what is not a regular file
            // (a FIFO, a device) by name, rather than "not found".
            if std::fs::metadata(&p).is_ok_and(|m| !m.is_dir()) {
                out.push(PathBuf::from(p));
            }
        } else {
            let mut found = Vec::new();
            let (root, rest) = match p.strip_prefix('/') {
                Some(rest) => (PathBuf::from("/"), rest.to_owned()),
                None => (PathBuf::from("."), p.clone()),
            };
            let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
            walk(&root, &parts, p.starts_with('/'), &mut found, &mut scanned)?;
            found.sort();
            out.extend(found);
        }
        if out.len() > MAX_MATCHES {
            return Err(GlobError::Matches);
        }
    }
    Ok(out)
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn walk(
    dir: &Path,
    parts: &[&str],
    absolute: bool,
    out: &mut Vec<PathBuf>,
    scanned: &mut usize,
) -> Result<(), GlobError> {
    let Some((first, rest)) = parts.split_first() else {
        return Ok(());
    };
    let join = |name: &str| {
        if !absolute && dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            dir.join(name)
        }
    };
    if !has_wildcard(first) {
        let next = join(first);
        if rest.is_empty() {
            if next.is_file() {
                out.push(next);
            }
        } else if next.is_dir() {
            walk(&next, rest, absolute, out, scanned)?;
        }
        return Ok(());
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        *scanned += 1;
        if *scanned > MAX_ENTRIES_SCANNED {
            return Err(GlobError::EntriesScanned);
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        // As in the shell, a wildcard does not match a leading dot.
        if name.starts_with('.') && !first.starts_with('.') {
            continue;
        }
        if !matches(first.as_bytes(), name.as_bytes()) {
            continue;
        }
        let next = join(&name);
        if rest.is_empty() {
            if next.is_file() {
                out.push(next);
            }
        } else if next.is_dir() {
            walk(&next, rest, absolute, out, scanned)?;
        }
        if out.len() > MAX_MATCHES {
            return Err(GlobError::Matches);
        }
    }
    Ok(())
}

/// Whether `name` matches the one-component pattern `pat`. Iterative: on a mismatch only
/// the last `*` is retried one character further, so the work is at most
/// `pat.len() * name.len()` steps, never exponential in the number of `*`.
fn matches(pat: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    // After the last `*` seen: the pattern position after it and the name position it
    // has swallowed up to.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if pat.get(p) == Some(&b'*') {
            p += 1;
            star = Some((p, n));
            continue;
        }
        if let Some(next) = one(pat, p, name[n]) {
            p = next;
            n += 1;
            continue;
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p.min(pat.len())..].iter().all(|&c| c == b'*')
}

/// Matches one name byte `c` against the pattern element at `p` (not `*`): the position
/// after the element if it matches.
fn one(pat: &[u8], p: usize, c: u8) -> Option<usize> {
    match *pat.get(p)? {
        b'?' => Some(p + 1),
        b'[' => match class(&pat[p + 1..]) {
            Some((test, after)) => test(c).then(|| pat.len() - after.len()),
            // An unclosed `[` is a literal.
            None => (c == b'[').then_some(p + 1),
        },
        lit => (lit == c).then_some(p + 1),
    }
}

type ClassTest<'a> = Box<dyn Fn(u8) -> bool + 'a>;

/// Parses a `[...]` class body (after the `[`): a membership test and the pattern after `]`.
fn class(body: &[u8]) -> Option<(ClassTest<'_>, &[u8])> {
    let (negate, body) = match body.first() {
        Some(b'!' | b'^') => (true, &body[1..]),
        _ => (false, body),
    };
    // A `]` right after the opening bracket is a member, not the end.
    let end = body.iter().skip(1).position(|&c| c == b']')? + 1;
    let set = &body[..end];
    let test = move |c: u8| {
        let mut i = 0;
        let mut hit = false;
        while i < set.len() {
            if i + 2 < set.len() && set[i + 1] == b'-' {
                hit |= set[i] <= c && c <= set[i + 2];
                i += 3;
            } else {
                hit |= set[i] == c;
                i += 1;
            }
        }
        hit != negate
    };
    Some((Box::new(test), &body[end + 1..]))
}

/// csh brace expansion within [`MAX_ALTERNATIVES`].
fn braces_bounded(s: &str) -> Result<Vec<String>, GlobError> {
    let mut out = Vec::new();
    braces(s, &mut out)?;
    Ok(out)
}

/// csh brace expansion: `a{b,c{d,e}}f` is `abf acdf acef`, appended to `out`. Unbalanced
/// braces stay literal. Stops as soon as `out` would pass [`MAX_ALTERNATIVES`]; each call
/// removes one brace pair, so the recursion is no deeper than the pattern has braces.
fn braces(s: &str, out: &mut Vec<String>) -> Result<(), GlobError> {
    let bytes = s.as_bytes();
    let Some(open) = s.find('{') else {
        if out.len() >= MAX_ALTERNATIVES {
            return Err(GlobError::Alternatives);
        }
        out.push(s.to_owned());
        return Ok(());
    };
    let mut depth = 0;
    let mut commas = Vec::new();
    let mut close = None;
    for (i, &c) in bytes.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        if out.len() >= MAX_ALTERNATIVES {
            return Err(GlobError::Alternatives);
        }
        out.push(s.to_owned());
        return Ok(());
    };
    let (head, tail) = (&s[..open], &s[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    for w in bounds.windows(2) {
        let alt = &s[w[0] + 1..w[1]];
        // The alternative with the rest of the pattern, its own braces expanded first.
        let mut rests = Vec::new();
        braces(&format!("{alt}{tail}"), &mut rests)?;
        for rest in rests {
            braces(&format!("{head}{rest}"), out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_expansion_nests() {
        let b = |s| braces_bounded(s).unwrap();
        assert_eq!(b("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(b("x{,y}"), vec!["x", "xy"]);
        assert_eq!(b("open{a,b"), vec!["open{a,b"]);
    }

    #[test]
    fn brace_bombs_are_refused_quickly() {
        let start = std::time::Instant::now();
        let bomb = "{a,b}".repeat(40);
        assert_eq!(braces_bounded(&bomb), Err(GlobError::Alternatives));
        let nested = format!("{}x{}", "{a,".repeat(100), "}".repeat(100));
        assert!(braces_bounded(&nested).is_ok());
        assert_eq!(expand(&"{a,b}".repeat(1000)), Err(GlobError::PatternLength));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn many_stars_match_in_polynomial_time() {
        let start = std::time::Instant::now();
        let pat = "*a".repeat(30) + "b";
        assert!(!matches(pat.as_bytes(), "a".repeat(200).as_bytes()));
        assert!(matches(b"*a*b*", b"xxaxxbxx"));
        assert!(matches(b"a*", b"a"));
        assert!(matches(b"*", b""));
        assert!(!matches(b"a*c", b"abcd"));
        assert!(matches(b"[a-c]*[!x]", b"b12y"));
        assert!(matches(b"[x", b"[x"));
        assert!(start.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn component_matching() {
        assert!(matches(b"*.conf", b"a.conf"));
        assert!(!matches(b"*.conf", b"a.conf.bak"));
        assert!(matches(b"vi_?.conf", b"vi_1.conf"));
        assert!(matches(b"[a-c]x", b"bx"));
        assert!(!matches(b"[!a-c]x", b"bx"));
        assert!(matches(b"[]]", b"]"));
    }

    #[test]
    fn expands_against_the_file_system() {
        let dir = std::env::temp_dir().join(format!("vipd-glob-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("d")).expect("mkdir");
        for f in ["b.conf", "a.conf", ".hidden.conf", "c.txt", "d/e.conf"] {
            std::fs::write(dir.join(f), "").expect("write");
        }
        let base = dir.display();
        let got = expand(&format!("{base}/*.conf")).unwrap();
        assert_eq!(got, vec![dir.join("a.conf"), dir.join("b.conf")]);
        let got = expand(&format!("{base}/{{d/*,c}}.{{conf,txt}}")).unwrap();
        assert_eq!(got, vec![dir.join("d/e.conf"), dir.join("c.txt")]);
        assert_eq!(expand(&format!("{base}/none*")), Ok(Vec::<PathBuf>::new()));
        assert!(is_pattern("a{b,c}") && is_pattern("a*") && !is_pattern("/etc/x.conf"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
