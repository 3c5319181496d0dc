//! Reading keepalived.conf line by line: includes, conditional lines and `$PARAM`
//! substitution (keepalived.conf(5), "ADVANCED CONFIGURATION"). The result is one flat list
//! of tokenised lines, each with its own file and line number, because keepalived splices
//! includes in at the line level (a block may open in one file and close in another).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lexer::{self, Token};
use super::{ConvertError, Loc, Options, Unsupported, glob};

/// One non-empty line, ready for the tree builder.
#[derive(Clone, Debug)]
pub struct Line {
    /// Where it came from.
    pub loc: Loc,
    /// Its tokens (never empty).
    pub tokens: Vec<Token>,
}

/// Deep include chains are refused: a real configuration nests two or three levels.
const MAX_INCLUDE_DEPTH: usize = 32;
/// Substitution passes before a self-referencing parameter is declared runaway.
const MAX_SUBSTITUTIONS: usize = 32;

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
}

/// Reads `path` and everything it includes.
pub fn read(
    path: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<Vec<Line>, ConvertError> {
    let text = read_file(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut r = Reader::new(options, unsupported);
    r.stack.push(canonical(path));
    r.text(&text, &path.display().to_string(), dir)?;
    Ok(r.out)
}

/// Reads `text` as if it were a file named `name` in `dir`.
pub fn read_text(
    text: &str,
    name: &str,
    dir: &Path,
    options: &Options,
    unsupported: &mut Vec<Unsupported>,
) -> Result<Vec<Line>, ConvertError> {
    let mut r = Reader::new(options, unsupported);
    r.stack.push(dir.join(name));
    r.text(text, name, dir)?;
    Ok(r.out)
}

fn read_file(path: &Path) -> Result<String, ConvertError> {
    std::fs::read_to_string(path).map_err(|source| ConvertError::Io {
        path: path.to_owned(),
        source,
    })
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
        }
    }

    fn skip(&mut self, loc: &Loc, keyword: &str, reason: &str) {
        self.unsupported.push(Unsupported {
            loc: loc.clone(),
            keyword: keyword.to_owned(),
            reason: reason.to_owned(),
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
        let files = glob::expand(&full);
        if files.is_empty() && !glob::is_pattern(&full) {
            return Err(ConvertError::Io {
                path: PathBuf::from(full),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
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
            let text = read_file(&f)?;
            let sub_dir = f.parent().map(Path::to_owned).unwrap_or_default();
            self.stack.push(canon);
            self.text(&text, &f.display().to_string(), &sub_dir)?;
            self.stack.pop();
        }
        Ok(())
    }

    /// Replaces `${NAME}` and `$NAME` (followed by whitespace or the end) for defined names,
    /// repeatedly, since a value may itself refer to parameters.
    fn substitute(&self, line: &str, dir: &Path, loc: &Loc) -> Result<String, ConvertError> {
        let mut cur = line.to_owned();
        for _ in 0..MAX_SUBSTITUTIONS {
            let next = self.substitute_once(&cur, dir);
            if next == cur {
                return Ok(cur);
            }
            cur = next;
        }
        Err(ConvertError::Syntax {
            at: loc.clone(),
            message: format!("parameter substitution does not terminate: {line}"),
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

    fn substitute_once(&self, line: &str, dir: &Path) -> String {
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
        out
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

#[cfg(test)]
mod tests;
