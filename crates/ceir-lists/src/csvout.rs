//! Writing list files fast: rows formatted by hand into one buffer that is hashed (SHA-256) as it
//! is written, so a 10-million-row file is read by nobody after it is written.

use crate::compute::RAW;
use crate::ListsError;
use ceir_domain::observe::{Day, IdKey};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Rows end as in DIRBS's lists (Python's csv writer) and RFC 4180: operators' loaders built
/// for DIRBS take ceir's files unchanged.
const EOL: &[u8] = b"\r\n";

const BUF: usize = 1 << 20;

/// What a finished file is: its rows (without the header), size and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Written {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// A file being written, hashed on the way.
#[derive(Debug)]
pub(crate) struct Out {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    hasher: Sha256,
    bytes: u64,
    rows: u64,
    /// The last day printed and its `yyyymmdd`: list rows share few dates.
    day: Option<(Day, [u8; 8])>,
    reasons: Option<(u64, Vec<u8>)>,
}

impl Out {
    pub fn create(path: &Path) -> Result<Out, ListsError> {
        let file = File::create(path).map_err(ListsError::io(path))?;
        Ok(Out {
            path: path.to_owned(),
            file,
            buf: Vec::with_capacity(BUF + 4096),
            hasher: Sha256::new(),
            bytes: 0,
            rows: 0,
            day: None,
            reasons: None,
        })
    }

    /// A CSV file starting with its header line (not counted as a row).
    pub fn csv(path: &Path, header: &str) -> Result<Out, ListsError> {
        let mut o = Out::create(path)?;
        o.buf.extend_from_slice(header.as_bytes());
        o.buf.extend_from_slice(EOL);
        Ok(o)
    }

    fn spill(&mut self) -> Result<(), ListsError> {
        self.hasher.update(&self.buf);
        self.bytes += self.buf.len() as u64;
        self.file
            .write_all(&self.buf)
            .map_err(ListsError::io(&self.path))?;
        self.buf.clear();
        Ok(())
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), ListsError> {
        self.buf.extend_from_slice(b);
        if self.buf.len() >= BUF {
            self.spill()?;
        }
        Ok(())
    }

    /// Ends a CSV row.
    pub fn end_row(&mut self) -> Result<(), ListsError> {
        self.buf.extend_from_slice(EOL);
        self.rows += 1;
        if self.buf.len() >= BUF {
            self.spill()?;
        }
        Ok(())
    }

    pub fn comma(&mut self) {
        self.buf.push(b',');
    }

    /// An IMEI: the 14-digit body, or the malformed value from `raw`.
    pub fn imei(&mut self, key: u64, raw: &[String]) {
        if key & RAW == 0 {
            push_padded(&mut self.buf, key, 14);
        } else {
            let text = raw
                .get((key & !RAW) as usize)
                .map(String::as_str)
                .unwrap_or("");
            self.field(text);
        }
    }

    /// `yyyymmdd`, as DIRBS prints dates in lists.
    pub fn day(&mut self, d: Day) {
        let digits = match self.day {
            Some((last, digits)) if last == d => digits,
            _ => {
                let (y, m, dd) = d.ymd();
                let mut digits = [0u8; 8];
                let mut v = (y.clamp(0, 9999) as u64) * 10_000 + u64::from(m) * 100 + u64::from(dd);
                for b in digits.iter_mut().rev() {
                    *b = b'0' + (v % 10) as u8;
                    v /= 10;
                }
                self.day = Some((d, digits));
                digits
            }
        };
        self.buf.extend_from_slice(&digits);
    }

    /// An IMSI or MSISDN's digits; nothing for a null one.
    pub fn id(&mut self, k: IdKey) {
        if k.is_valid() {
            let len = (k.0 >> 50) as usize;
            push_padded(&mut self.buf, k.0 & ((1 << 50) - 1), len);
        }
    }

    /// The reasons of a mask, `|`-joined in table order (DIRBS `array_to_string(reasons, '|')`).
    /// Masks repeat across millions of rows: the last one's text is kept.
    pub fn reasons(&mut self, mask: u64, table: &[String]) {
        if self.reasons.as_ref().is_none_or(|(m, _)| *m != mask) {
            let mut joined = Vec::new();
            let mut m = mask;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                m &= m - 1;
                if !joined.is_empty() {
                    joined.push(b'|');
                }
                if let Some(r) = table.get(i) {
                    joined.extend_from_slice(r.as_bytes());
                }
            }
            let mut quoted = Vec::with_capacity(joined.len() + 2);
            quote_into(&mut quoted, &joined);
            self.reasons = Some((mask, quoted));
        }
        if let Some((_, text)) = &self.reasons {
            self.buf.extend_from_slice(text);
        }
    }

    pub fn boolean(&mut self, b: bool) {
        // Python's csv module writes bools as True/False, which DIRBS lists carry.
        self.buf
            .extend_from_slice(if b { b"True" } else { b"False" });
    }

    /// A text field, quoted when it must be (RFC 4180).
    pub fn field(&mut self, s: &str) {
        self.field_bytes(s.as_bytes());
    }

    fn field_bytes(&mut self, s: &[u8]) {
        quote_into(&mut self.buf, s);
    }

    /// Flushes, fsyncs and returns the file's summary.
    pub fn finish(mut self) -> Result<Written, ListsError> {
        self.spill()?;
        self.file.sync_all().map_err(ListsError::io(&self.path))?;
        Ok(Written {
            path: self.path,
            rows: self.rows,
            bytes: self.bytes,
            sha256: hex::encode(self.hasher.finalize()),
        })
    }
}

fn quote_into(buf: &mut Vec<u8>, s: &[u8]) {
    if s.iter().any(|&b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        buf.push(b'"');
        for &b in s {
            if b == b'"' {
                buf.push(b'"');
            }
            buf.push(b);
        }
        buf.push(b'"');
    } else {
        buf.extend_from_slice(s);
    }
}

fn push_padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut digits = [b'0'; 20];
    let mut i = digits.len();
    while v > 0 && i > 0 {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = digits.len().saturating_sub(width.max(digits.len() - i));
    buf.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_zero_padded() {
        let mut b = Vec::new();
        push_padded(&mut b, 35_693_803_564_380, 14);
        push_padded(&mut b, 1_234, 14);
        push_padded(&mut b, 0, 3);
        assert_eq!(b, b"3569380356438000000000001234000");
    }
}
