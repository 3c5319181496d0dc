//! Nesting tokenised lines into keyword nodes and `{ }` blocks.

use super::lexer::Token;
use super::source::Line;
use super::{ConvertError, Loc};

/// Blocks nested deeper than this are refused. keepalived's own grammar nests four levels
/// (`vrrp_instance { track_script { ... } }` and the like); a deep tree would also be
/// dropped recursively, so an unbounded one could overflow the stack.
pub const MAX_NESTING: usize = 32;

/// One keyword with its arguments and, for a block, its children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// The keyword (first word of the statement).
    pub name: String,
    /// The words after it on its line.
    pub args: Vec<String>,
    /// Where the keyword is.
    pub loc: Loc,
    /// The block's statements, if a `{` followed the keyword.
    pub block: Option<Vec<Node>>,
}

impl Node {
    /// The block's statements, or none for a plain statement.
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The first argument, if any.
    pub fn arg(&self) -> Option<&str> {
        self.args.first().map(String::as_str)
    }
}

/// Builds the statement tree. A `{` opens a block for the statement just before it (on the
/// same line or an earlier one); `}` closes the innermost block.
pub fn build(lines: &[Line]) -> Result<Vec<Node>, ConvertError> {
    // Each level: the statements read so far; `open` holds the headers of open blocks.
    let mut levels: Vec<Vec<Node>> = vec![Vec::new()];
    let mut open: Vec<Node> = Vec::new();
    let syntax = |at: &Loc, message: String| ConvertError::Syntax {
        at: at.clone(),
        message,
    };
    for line in lines {
        // Whether the current level's last statement started on this line (and so takes
        // further words as arguments).
        let mut statement_here = false;
        for tok in &line.tokens {
            let level = levels.last_mut().expect("the root level is never popped");
            match tok {
                Token::Word(w) if statement_here => {
                    if let Some(n) = level.last_mut() {
                        n.args.push(w.clone());
                    }
                }
                Token::Word(w) => {
                    level.push(Node {
                        name: w.clone(),
                        args: Vec::new(),
                        loc: line.loc.clone(),
                        block: None,
                    });
                    statement_here = true;
                }
                Token::Open => {
                    let header = match level.pop() {
                        Some(h) if h.block.is_none() => h,
                        Some(h) => {
                            return Err(syntax(
                                &line.loc,
                                format!(
                                    "'{{' after the block of '{}' (line {})",
                                    h.name, h.loc.line
                                ),
                            ));
                        }
                        None => {
                            return Err(syntax(
                                &line.loc,
                                "'{' without a keyword before it".into(),
                            ));
                        }
                    };
                    if open.len() >= MAX_NESTING {
                        return Err(syntax(
                            &line.loc,
                            format!("blocks nested deeper than {MAX_NESTING} levels"),
                        ));
                    }
                    open.push(header);
                    levels.push(Vec::new());
                    statement_here = false;
                }
                Token::Close => {
                    let Some(mut header) = open.pop() else {
                        return Err(syntax(&line.loc, "'}' without a matching '{'".into()));
                    };
                    header.block = levels.pop();
                    levels
                        .last_mut()
                        .expect("a closed block has a parent level")
                        .push(header);
                    statement_here = false;
                }
            }
        }
    }
    if let Some(h) = open.last() {
        return Err(syntax(
            &h.loc,
            format!("the block of '{}' is never closed (missing '}}')", h.name),
        ));
    }
    Ok(levels.pop().unwrap_or_default())
}
