//! What the pure editors return: new text with notes, or why not.

use std::fmt;

/// The result of an edit: the new text and what was done, one note per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    pub notes: Vec<String>,
}

/// Why a file cannot be edited as it is. `repair` says what a confirmed
/// repair would do; without it the file is left byte-identical.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct EditError {
    pub line: usize,
    pub column: Option<usize>,
    pub cause: String,
    pub repair: Option<String>,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.cause),
            None => write!(f, "line {}: {}", self.line, self.cause),
        }
    }
}
