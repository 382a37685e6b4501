//! Import errors. Each names the file and, for a bad row, the line, field and value, so that a
//! person can fix the input without guessing; a file with any bad row is refused as a whole.

use ceir_domain::ErrorCode;
use std::fmt::{self, Write as _};

/// How many bad rows an import lists before it only counts the rest.
pub const MAX_ROW_ERRORS: usize = 20;

/// Values quoted in errors are cut to this many characters: enough to recognise the row, short
/// enough that a line of binary garbage does not flood a terminal or a log.
pub const MAX_VALUE_CHARS: usize = 80;

/// One bad row: where it is, which field, what it held and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line number in the file (in the archive entry, for a zip).
    pub line: u64,
    /// The column as the file's header names it, or "(row)" for a problem with the whole line.
    pub field: String,
    /// The offending value, cut to [`MAX_VALUE_CHARS`] characters.
    pub value: String,
    pub reason: String,
}

impl RowError {
    pub fn new(
        line: u64,
        field: impl Into<String>,
        value: &str,
        reason: impl Into<String>,
    ) -> RowError {
        RowError {
            line,
            field: field.into(),
            value: truncate(value),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, {} {:?}: {}",
            self.line, self.field, self.value, self.reason
        )
    }
}

/// Why a file was not imported. Nothing of a refused file is applied.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: the file is empty")]
    Empty { file: String },
    #[error(
        "{file}: not a TAC catalog; line {line} reads {header:?}. Expected either a GSMA TAC \
         database (pipe-delimited, header TAC|Marketing Name|Internal Model Name|Manufacturer|\
         Bands|…) or an Osmocom tacdb CSV export (a licence banner line, then the header \
         tac,name,name,contributor,comment,gsmarena,gsmarena,aka)"
    )]
    UnknownFormat {
        file: String,
        line: u64,
        header: String,
    },
    #[error("{file}: line {line}: the GSMA header lacks the column(s) {}", .missing.join(", "))]
    MissingColumns {
        file: String,
        line: u64,
        missing: Vec<String>,
    },
    #[error("{file}: not a usable zip archive: {reason}")]
    Zip { file: String, reason: String },
    #[error("{file}: {reason}")]
    Operator { file: String, reason: String },
    #[error("{file}: line {line}: {reason}")]
    Header {
        file: String,
        line: u64,
        reason: String,
    },
    #[error(
        "{file}: the {list} list would shrink from {before} to {after} entries, below the \
         import size threshold of {min}; nothing was imported (check the file is complete, or \
         import it with --force)"
    )]
    SizeVariation {
        file: String,
        list: &'static str,
        before: u64,
        after: u64,
        min: u64,
    },
    #[error("{}", rows_message(.file, .errors, *.more))]
    Rows {
        file: String,
        /// The first [`MAX_ROW_ERRORS`] bad rows, in file order.
        errors: Vec<RowError>,
        /// How many further bad rows were found but not listed.
        more: u64,
    },
}

impl IngestError {
    /// The stable error code: every import failure is a problem with the input.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::InvalidInput
    }

    /// The file the error is about (for a zip entry, "archive.zip!/entry.txt").
    pub fn file(&self) -> &str {
        match self {
            IngestError::Io { file, .. }
            | IngestError::Empty { file }
            | IngestError::UnknownFormat { file, .. }
            | IngestError::MissingColumns { file, .. }
            | IngestError::Zip { file, .. }
            | IngestError::Operator { file, .. }
            | IngestError::Header { file, .. }
            | IngestError::SizeVariation { file, .. }
            | IngestError::Rows { file, .. } => file,
        }
    }
}

fn rows_message(file: &str, errors: &[RowError], more: u64) -> String {
    let total = errors.len() as u64 + more;
    let mut s = format!(
        "{file}: {total} bad row{}; nothing was imported",
        if total == 1 { "" } else { "s" }
    );
    for e in errors {
        let _ = write!(s, "\n  {e}");
    }
    if more > 0 {
        let _ = write!(
            s,
            "\n  … and {more} more bad row{}",
            if more == 1 { "" } else { "s" }
        );
    }
    s
}

/// Cuts a value to [`MAX_VALUE_CHARS`] characters, marking the cut with "…".
pub(crate) fn truncate(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", value.get(..cut).unwrap_or_default()),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_char_boundaries() {
        assert_eq!(truncate("short"), "short");
        let long = "é".repeat(100);
        let cut = truncate(&long);
        assert_eq!(cut.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn rows_display_lists_rows_and_the_rest() {
        let e = IngestError::Rows {
            file: "t.txt".into(),
            errors: vec![RowError::new(4, "TAC", "1234", "must have 8 digits, not 4")],
            more: 2,
        };
        assert_eq!(
            e.to_string(),
            "t.txt: 3 bad rows; nothing was imported\n  line 4, TAC \"1234\": must have 8 digits, \
             not 4\n  … and 2 more bad rows"
        );
        assert_eq!(e.code(), ErrorCode::InvalidInput);
        assert_eq!(e.file(), "t.txt");
    }
}

/// Row errors as they are found: the first [`MAX_ROW_ERRORS`] kept, the rest counted.
#[derive(Debug, Default)]
pub struct RowErrors {
    errors: Vec<RowError>,
    more: u64,
}

impl RowErrors {
    pub fn push(&mut self, e: RowError) {
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(e);
        } else {
            self.more += 1;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// `Ok` if there were none, else the file's refusal with its errors in line order.
    pub fn check(mut self, file: &str) -> Result<(), IngestError> {
        if self.errors.is_empty() {
            return Ok(());
        }
        self.errors.sort_by_key(|e| e.line);
        Err(IngestError::Rows {
            file: file.to_owned(),
            errors: self.errors,
            more: self.more,
        })
    }
}
