//! Reading keepalived.conf line by line: includes, conditional lines and `$PARAM`
//! substitution (keepalived.conf(5), "ADVANCED CONFIGURATION"). The result is one flat list
//! of tokenised lines, each with its own file and line number, because keepalived splices
//! includes in at the line level (a block may open in one file and close in another).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{self, Token};
use super::{ConvertError, Loc, Options, Unsupported, glob};
use decode::decode;

/// One non-empty line, ready for the tree builder.
#[derive(Clone, Debug)]
pub struct Line {
    /// Where it came from.
    pub loc: Loc,
    /// Its tokens (never empty).
    pub tokens: Vec<Token>,
}

// Bounds on what one conversion may read and build. A real configuration is a few files
// of a few kilobytes, nested two or three levels; each bound is far above that and far below
// what would exhaust memory or time, so a crafted input (a parameter whose value doubles at
// every reference, an include that fans out to itself) is refused with the bound it hit.

/// Includes nested deeper than this are refused.
pub const MAX_INCLUDE_DEPTH: usize = 8;
/// Files read in one conversion, the main one included.
pub const MAX_FILES: usize = 256;
/// Bytes of one file.
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Bytes of all files together.
pub const MAX_TOTAL_BYTES: u64 = 8 << 20;
/// Substitution passes before a self-referencing parameter is declared runaway.
pub const MAX_SUBSTITUTIONS: usize = 32;
/// Bytes of one line after parameter substitution.
pub const MAX_LINE_BYTES: usize = 64 << 10;
/// Bytes of all lines after substitution.
pub const MAX_EXPANDED_BYTES: usize = 16 << 20;

const INCLUDE_KEYWORDS: &[&str] = &[
    "include", "includer", "includem", "includew", "includeb", "includea",
];

struct Reader<'a> {
    options: &'a Options,
    unsupported: &'a mut Vec<Unsupported>,
    params: HashMap<String, String>,
    /// Canonical paths of the files being read, outermost first.
    stack: Vec<PathBuf>,
    out: Vec<Line>,
    /// Files and bytes read so far, and bytes of substituted lines kept.
    files: usize,
    bytes: u64,
    expanded: usize,
    /// Conditional (`@ID`) lines met.
    conditionals: usize,
}

/// Reads `path` and everything it includes.
#[cfg(test)]
pub fn read(
    path: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<Vec<Line>, ConvertError> {
    read_counting(path, options, unsupported).map(|(lines, _)| lines)
}

/// [`read`], with the number of conditional (`@ID`) lines met.
pub fn read_counting(
    path: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<(Vec<Line>, usize), ConvertError> {
    let mut r = Reader::new(options, unsupported);
    let text = r.read_file(path, None)?;
    // keepalived resolves relative includes and `${_PWD}` against the directory of the file
    // being read, wherever it was started; a file named without a directory is in the
    // current one (not in `/`).
    let canon = canonical(path);
    let dir = match canon.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    r.stack.push(canon);
    r.text(&text, &path.display().to_string(), &dir)?;
    Ok((r.out, r.conditionals))
}

/// Reads `text` as if it were a file named `name` in `dir`.
#[cfg(test)]
pub fn read_text(
    text: &str,
    name: &str,
    dir: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<Vec<Line>, ConvertError> {
    read_text_counting(text, name, dir, options, unsupported).map(|(lines, _)| lines)
}

/// [`read_text`], with the number of conditional (`@ID`) lines met.
pub fn read_text_counting(
    text: &str,
    name: &str,
    dir: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<(Vec<Line>, usize), ConvertError> {
    let mut r = Reader::new(options, unsupported);
    r.stack.push(dir.join(name));
    r.text(text, name, dir)?;
    Ok((r.out, r.conditionals))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

impl<'a> Reader<'a> {
    fn new(options: &'a Options, unsupported: &'a mut Vec<Unsupported>) -> Self {
        Reader {
            options,
            unsupported,
            params: HashMap::new(),
            stack: Vec::new(),
            out: Vec::new(),
            files: 0,
            bytes: 0,
            expanded: 0,
            conditionals: 0,
        }
    }

    /// Reads one file within the bounds: a regular file (a FIFO would hang, a device never
    /// end), at most [`MAX_FILE_BYTES`], within the [`MAX_FILES`] and [`MAX_TOTAL_BYTES`]
    /// of the whole conversion. `at` is the include line, if any.
    fn read_file(&mut self, path: &Path, at: Option<&Loc>) -> Result<String, ConvertError> {
        use crate::regular_file::{ReadError, read_regular};
        let refused = |reason: String| ConvertError::Refused {
            path: path.to_owned(),
            at: at.cloned(),
            reason,
        };
        if self.files >= MAX_FILES {
            return Err(refused(format!(
                "more than {MAX_FILES} files in one conversion"
            )));
        }
        let bytes = read_regular(path, MAX_FILE_BYTES, true).map_err(|e| match e {
            ReadError::NotFound => ConvertError::Io {
                path: path.to_owned(),
                source: std::io::Error::from_raw_os_error(libc::ENOENT),
            },
            ReadError::Io(source) => ConvertError::Io {
                path: path.to_owned(),
                source,
            },
            e => refused(e.to_string()),
        })?;
        self.files += 1;
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_TOTAL_BYTES {
            return Err(refused(format!(
                "more than {MAX_TOTAL_BYTES} bytes in all files together"
            )));
        }
        // The error says where, never what: an include may name any file vipd can read.
        decode(bytes).map_err(|at| {
            refused(format!(
                "not UTF-8 text outside a comment (at byte {at}); not a keepalived configuration"
            ))
        })
    }

    fn skip(&mut self, loc: &Loc, keyword: &str, reason: &str) {
        self.unsupported.push(Unsupported {
            loc: loc.clone(),
            keyword: keyword.to_owned(),
            reason: reason.to_owned(),
            on_wire: false,
        });
    }

    fn text(&mut self, text: &str, name: &str, dir: &Path) -> Result<(), ConvertError> {
        let file: Arc<str> = Arc::from(name);
        let mut continuation = false;
        for (n, raw) in text.lines().enumerate() {
            let loc = Loc {
                file: file.clone(),
                line: n as u32 + 1,
            };
            // Lines of a multi-line `$NAME=` definition (reported at its first line).
            if continuation {
                continuation = raw.trim_end().ends_with('\\');
                continue;
            }
            let mut line = lexer::strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            if let Some(cond) = line.strip_prefix('@') {
                self.conditionals += 1;
                let (word, rest) = cond.split_once(char::is_whitespace).unwrap_or((cond, ""));
                let (negated, id) = match word.strip_prefix('^') {
                    Some(id) => (true, id),
                    None => (false, word),
                };
                let Some(config_id) = &self.options.config_id else {
                    self.skip(
                        &loc,
                        &format!("@{word}"),
                        "conditional line: pass --config-id ID (keepalived's -i) to choose which lines apply",
                    );
                    continue;
                };
                if (id == config_id) == negated {
                    continue;
                }
                line = rest.trim_start();
            }
            if let Some((name, value)) = definition(line) {
                if value.trim_end().ends_with('\\') {
                    continuation = true;
                    self.skip(
                        &loc,
                        &format!("${name}"),
                        "multi-line parameter definitions are not supported; expand them by hand",
                    );
                } else {
                    self.params.insert(name.to_owned(), value.trim().to_owned());
                }
                continue;
            }
            if line.starts_with("~SEQ") || line.starts_with("~LST") {
                self.skip(
                    &loc,
                    &line[..4],
                    "sequence and list blocks are not supported; expand them by hand",
                );
                continue;
            }
            let line = self.substitute(line, dir, &loc)?;
            self.expanded += line.len();
            if self.expanded > MAX_EXPANDED_BYTES {
                return Err(ConvertError::Syntax {
                    at: loc,
                    message: format!(
                        "parameter substitution makes more than {MAX_EXPANDED_BYTES} bytes in all"
                    ),
                });
            }
            let tokens = lexer::tokens(&line).map_err(|e| ConvertError::Syntax {
                at: loc.clone(),
                message: e.to_string(),
            })?;
            match tokens.first() {
                None => {}
                Some(Token::Word(w)) if INCLUDE_KEYWORDS.contains(&w.as_str()) => {
                    self.include(&tokens, dir, &loc)?;
                }
                Some(_) => self.out.push(Line { loc, tokens }),
            }
        }
        Ok(())
    }

    fn include(&mut self, tokens: &[Token], dir: &Path, loc: &Loc) -> Result<(), ConvertError> {
        let Some(Token::Word(pattern)) = tokens.get(1) else {
            return Err(ConvertError::Syntax {
                at: loc.clone(),
                message: "include needs a file name or pattern".to_owned(),
            });
        };
        let full = if Path::new(pattern).is_absolute() {
            pattern.clone()
        } else {
            format!("{}/{pattern}", dir.display())
        };
        let files = glob::expand(&full).map_err(|e| ConvertError::Syntax {
            at: loc.clone(),
            message: format!("include: {e}"),
        })?;
        if files.is_empty() && !glob::is_pattern(&full) {
            return Err(ConvertError::Io {
                path: PathBuf::from(full),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        if files.is_empty() {
            // keepalived logs "No config files matched" and goes on; whatever the pattern
            // was meant to bring in is missing from both, so it is reported, not passed over.
            let word = tokens.first().map_or("include", |t| match t {
                Token::Word(w) => w.as_str(),
                _ => "include",
            });
            self.skip(
                loc,
                word,
                &format!("the pattern {full} matches no file (keepalived logs \"No config files matched\" and reads on); nothing from it is converted"),
            );
        }
        for f in files {
            let canon = canonical(&f);
            if let Some(start) = self.stack.iter().position(|p| *p == canon) {
                let mut chain: Vec<String> = self.stack[start..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                chain.push(canon.display().to_string());
                return Err(ConvertError::IncludeCycle {
                    at: loc.clone(),
                    chain: chain.join(" -> "),
                });
            }
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(ConvertError::Syntax {
                    at: loc.clone(),
                    message: format!("includes nested deeper than {MAX_INCLUDE_DEPTH} levels"),
                });
            }
            let text = self.read_file(&f, Some(loc))?;
            let sub_dir = f.parent().map(Path::to_owned).unwrap_or_default();
            self.stack.push(canon);
            self.text(&text, &f.display().to_string(), &sub_dir)?;
            self.stack.pop();
        }
        Ok(())
    }

    /// Replaces `${NAME}` and `$NAME` (followed by whitespace or the end) for defined names,
    /// repeatedly, since a value may itself refer to parameters; at most
    /// [`MAX_SUBSTITUTIONS`] passes and [`MAX_LINE_BYTES`] of result. Errors do not quote
    /// the line (it may come from any file an include named).
    fn substitute(&self, line: &str, dir: &Path, loc: &Loc) -> Result<String, ConvertError> {
        let mut cur = line.to_owned();
        for _ in 0..MAX_SUBSTITUTIONS {
            let next = self
                .substitute_once(&cur, dir)
                .ok_or_else(|| ConvertError::Syntax {
                    at: loc.clone(),
                    message: format!(
                        "parameter substitution makes a line longer than {MAX_LINE_BYTES} bytes"
                    ),
                })?;
            if next == cur {
                return Ok(cur);
            }
            cur = next;
        }
        Err(ConvertError::Syntax {
            at: loc.clone(),
            message: format!(
                "parameter substitution does not terminate within {MAX_SUBSTITUTIONS} passes"
            ),
        })
    }

    fn lookup(&self, name: &str, dir: &Path) -> Option<String> {
        match name {
            "_PWD" => Some(dir.display().to_string()),
            "_HASH" => Some("#".to_owned()),
            "_BANG" => Some("!".to_owned()),
            "_INSTANCE" => self.options.config_id.clone(),
            _ => self.params.get(name).cloned(),
        }
    }

    /// One pass; `None` once the result would pass [`MAX_LINE_BYTES`].
    fn substitute_once(&self, line: &str, dir: &Path) -> Option<String> {
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        while let Some(i) = rest.find('$') {
            out.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let (name, tail, braced) = if let Some(b) = after.strip_prefix('{') {
                match b.find('}') {
                    Some(end) => (&b[..end], &b[end + 1..], true),
                    None => ("", after, false),
                }
            } else {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], &after[end..], false)
            };
            // Unbraced, the name must end the word; `$A.b` is left alone, as keepalived does.
            let ends_word = braced || tail.is_empty() || tail.starts_with(char::is_whitespace);
            match self
                .lookup(name, dir)
                .filter(|_| !name.is_empty() && ends_word)
            {
                Some(value) => {
                    if out.len() + value.len() > MAX_LINE_BYTES.max(line.len()) {
                        return None;
                    }
                    out.push_str(&value);
                    rest = tail;
                }
                None => {
                    out.push('$');
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        // A long line as written is the file's own size; only growth is bounded here.
        (out.len() <= MAX_LINE_BYTES.max(line.len())).then_some(out)
    }
}

/// `$NAME=VALUE` (no space before `=`): the name and the raw value.
fn definition(line: &str) -> Option<(&str, &str)> {
    let body = line.strip_prefix('$')?;
    let (name, value) = body.split_once('=')?;
    let valid = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some((name, value))
}

mod decode;
#[cfg(test)]
mod tests;
