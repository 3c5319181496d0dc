//! Splitting one line of keepalived.conf into words and braces.
//!
//! keepalived's rules (keepalived.conf(5), "Quoted strings"): `#` and `!` start a comment
//! anywhere outside quotes; `"` and `'` quote, the quotes are removed and the quoted text is
//! joined to whatever touches it (`ab" c"d` is one word `ab cd`); inside quotes the C escapes
//! work. Unquoted `{` and `}` are tokens of their own, so `track_script { chk }` fits on one
//! line.

/// One lexical unit of a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A word, quotes removed and escapes resolved.
    Word(String),
    /// An unquoted `{`.
    Open,
    /// An unquoted `}`.
    Close,
}

/// What can be wrong with a single line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LexError {
    /// A `"` or `'` without its partner on the same line.
    #[error("unterminated {0} quote")]
    UnterminatedQuote(char),
}

/// The line without its comment; quote-aware, so `"a # b"` keeps its `#`.
pub fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#' | '!') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Splits a comment-free line into tokens.
pub fn tokens(line: &str) -> Result<Vec<Token>, LexError> {
    let mut out = Vec::new();
    let mut word = String::new();
    // A word may be empty but present (`""`), so presence is tracked apart from content.
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '\'' => {
                in_word = true;
                quoted(&mut chars, c, &mut word)?;
            }
            '{' | '}' => {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                out.push(if c == '{' { Token::Open } else { Token::Close });
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(Token::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(Token::Word(word));
    }
    Ok(out)
}

/// Reads a quoted run up to the closing `q`, appending its text to `word`.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    q: char,
    word: &mut String,
) -> Result<(), LexError> {
    while let Some(c) = chars.next() {
        if c == q {
            return Ok(());
        }
        if c != '\\' {
            word.push(c);
            continue;
        }
        let Some(e) = chars.next() else { break };
        match e {
            'a' => word.push('\x07'),
            'b' => word.push('\x08'),
            'E' => word.push('\x1b'),
            'f' => word.push('\x0c'),
            'n' => word.push('\n'),
            'r' => word.push('\r'),
            't' => word.push('\t'),
            'v' => word.push('\x0b'),
            'x' => word.push(number(chars, 16, usize::MAX, 0)),
            '0'..='7' => word.push(number(chars, 8, 2, e.to_digit(8).unwrap_or(0))),
            'c' => {
                if let Some(k) = chars.next() {
                    word.push(char::from((k as u32 & 0x1f) as u8));
                }
            }
            other => word.push(other),
        }
    }
    Err(LexError::UnterminatedQuote(q))
}

/// Reads up to `max` more digits in `radix` after `first` and makes a byte of them.
fn number(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    radix: u32,
    max: usize,
    first: u32,
) -> char {
    let mut value = first;
    let mut n = 0;
    while n < max {
        match chars.peek().and_then(|c| c.to_digit(radix)) {
            Some(d) => {
                value = value.wrapping_mul(radix).wrapping_add(d);
                chars.next();
                n += 1;
            }
            None => break,
        }
    }
    char::from((value & 0xff) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<Token> {
        tokens(strip_comment(line)).expect("lexes")
    }

    fn w(s: &str) -> Token {
        Token::Word(s.to_owned())
    }

    #[test]
    fn comments_start_anywhere_outside_quotes() {
        assert_eq!(words("priority 100 # hi"), vec![w("priority"), w("100")]);
        assert_eq!(words("a ! b"), vec![w("a")]);
        assert_eq!(words("script \"x # y\" # z"), vec![w("script"), w("x # y")]);
        assert_eq!(words("script 'a!b'"), vec![w("script"), w("a!b")]);
    }

    #[test]
    fn quotes_join_touching_text_and_keep_spaces() {
        // The man page's own examples.
        assert_eq!(
            words("abcd\" efg h jkl \"mnop"),
            vec![w("abcd efg h jkl mnop")]
        );
        assert_eq!(
            words("abcd \"efg h jkl\" mnop"),
            vec![w("abcd"), w("efg h jkl"), w("mnop")]
        );
        assert_eq!(words("x \"\""), vec![w("x"), w("")]);
    }

    #[test]
    fn escapes_inside_quotes() {
        assert_eq!(words(r#""a\tb\"c\\d""#), vec![w("a\tb\"c\\d")]);
        assert_eq!(words(r#""\x41\101\cA""#), vec![w("AA\x01")]);
        // Outside quotes a backslash is an ordinary character.
        assert_eq!(words(r"a\tb"), vec![w(r"a\tb")]);
    }

    #[test]
    fn braces_are_tokens_unless_quoted() {
        assert_eq!(
            words("track_script {chk weight 2}"),
            vec![
                w("track_script"),
                Token::Open,
                w("chk"),
                w("weight"),
                w("2"),
                Token::Close
            ]
        );
        assert_eq!(words("script \"{x}\""), vec![w("script"), w("{x}")]);
    }

    #[test]
    fn an_open_quote_is_an_error() {
        assert_eq!(
            tokens("script \"abc"),
            Err(LexError::UnterminatedQuote('"'))
        );
        assert_eq!(tokens("x 'a\\'"), Err(LexError::UnterminatedQuote('\'')));
    }
}
