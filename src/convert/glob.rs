//! The subset of glob(3) that keepalived's `include` uses: `*`, `?`, `[...]` within a path
//! component, and csh brace expansion (`{a,b}`), matches sorted like glob's.

use std::path::{Path, PathBuf};

/// Whether `pattern` has anything to expand; a plain path that names no file is an error
/// for the caller, while a pattern may match nothing.
pub fn is_pattern(pattern: &str) -> bool {
    has_wildcard(pattern) || braces(pattern).len() > 1
}

/// Every existing file matching `pattern`: brace alternatives in order, each one's matches
/// sorted.
pub fn expand(pattern: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in braces(pattern) {
        if !has_wildcard(&p) {
            if Path::new(&p).is_file() {
                out.push(PathBuf::from(p));
            }
            continue;
        }
        let mut found = Vec::new();
        let (root, rest) = match p.strip_prefix('/') {
            Some(rest) => (PathBuf::from("/"), rest.to_owned()),
            None => (PathBuf::from("."), p.clone()),
        };
        let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        walk(&root, &parts, p.starts_with('/'), &mut found);
        found.sort();
        out.extend(found);
    }
    out
}

fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

fn walk(dir: &Path, parts: &[&str], absolute: bool, out: &mut Vec<PathBuf>) {
    let Some((first, rest)) = parts.split_first() else {
        return;
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
            walk(&next, rest, absolute, out);
        }
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
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
            walk(&next, rest, absolute, out);
        }
    }
}

/// Whether `name` matches the one-component pattern `pat`.
fn matches(pat: &[u8], name: &[u8]) -> bool {
    match pat.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|k| matches(rest, &name[k..])),
        Some((b'?', rest)) => !name.is_empty() && matches(rest, &name[1..]),
        Some((b'[', rest)) => match (class(rest), name.split_first()) {
            (Some((set_ok, after)), Some((c, tail))) => set_ok(*c) && matches(after, tail),
            // An unclosed `[` is a literal.
            (None, Some((b'[', tail))) => matches(rest, tail),
            _ => false,
        },
        Some((c, rest)) => name.first() == Some(c) && matches(rest, &name[1..]),
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

/// csh brace expansion: `a{b,c{d,e}}f` is `abf acdf acef`. Unbalanced braces stay literal.
fn braces(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let Some(open) = s.find('{') else {
        return vec![s.to_owned()];
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
        return vec![s.to_owned()];
    };
    let (head, tail) = (&s[..open], &s[close + 1..]);
    let mut bounds = vec![open];
    bounds.extend(&commas);
    bounds.push(close);
    let mut out = Vec::new();
    for w in bounds.windows(2) {
        let alt = &s[w[0] + 1..w[1]];
        for rest in braces(&format!("{alt}{tail}")) {
            out.extend(braces(&format!("{head}{rest}")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brace_expansion_nests() {
        assert_eq!(braces("a{b,c{d,e}}f"), vec!["abf", "acdf", "acef"]);
        assert_eq!(braces("x{,y}"), vec!["x", "xy"]);
        assert_eq!(braces("open{a,b"), vec!["open{a,b"]);
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
        let got = expand(&format!("{base}/*.conf"));
        assert_eq!(got, vec![dir.join("a.conf"), dir.join("b.conf")]);
        let got = expand(&format!("{base}/{{d/*,c}}.{{conf,txt}}"));
        assert_eq!(got, vec![dir.join("d/e.conf"), dir.join("c.txt")]);
        assert_eq!(expand(&format!("{base}/none*")), Vec::<PathBuf>::new());
        assert!(is_pattern("a{b,c}") && is_pattern("a*") && !is_pattern("/etc/x.conf"));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
