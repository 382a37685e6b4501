//! Line-by-line reading for the importers: exact 1-based line numbers, a cap on line length so
//! that a file without newlines cannot exhaust memory, and progress in bytes read.

use std::io::{self, BufRead, Read, Seek, SeekFrom};

/// The longest line accepted. Real catalog rows are well under 4 KiB; anything near this is not
/// a catalog row.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Counts the bytes read through it and reports the running total.
pub(crate) struct Counting<'p, R> {
    inner: R,
    read: u64,
    progress: &'p mut dyn FnMut(u64),
}

impl<'p, R> Counting<'p, R> {
    pub(crate) fn new(inner: R, progress: &'p mut dyn FnMut(u64)) -> Self {
        Counting {
            inner,
            read: 0,
            progress,
        }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.read = self.read.saturating_add(n as u64);
            (self.progress)(self.read);
        }
        Ok(n)
    }
}

/// Seeking passes through; the count stays the total read, which for a zip is its directory
/// plus the entry, close to the archive's size.
impl<R: Seek> Seek for Counting<'_, R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// Why the next line could not be had.
#[derive(Debug)]
pub(crate) enum LineError {
    Io(io::Error),
    /// The line at `line` runs past [`MAX_LINE`] bytes; `start` is its beginning, decoded.
    TooLong {
        line: u64,
        start: String,
    },
}

/// Yields lines without their terminator (`\n` or `\r\n`), decoded as UTF-8, or as Latin-1 when
/// they are not UTF-8 (older catalog exports are), so every byte sequence gives some text.
pub(crate) struct Lines<R> {
    inner: R,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    pub(crate) fn new(inner: R) -> Self {
        Lines {
            inner,
            line: 0,
            buf: Vec::new(),
        }
    }

    /// The 1-based number of the line last returned (0 before the first).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    pub(crate) fn next_line(&mut self) -> Result<Option<String>, LineError> {
        self.buf.clear();
        let limit = MAX_LINE as u64 + 1;
        let n = (&mut self.inner)
            .take(limit)
            .read_until(b'\n', &mut self.buf)
            .map_err(LineError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > MAX_LINE {
            let start = decode(self.buf.get(..200).unwrap_or(&self.buf));
            return Err(LineError::TooLong {
                line: self.line,
                start,
            });
        }
        let mut text = decode(&self.buf);
        if self.line == 1 {
            if let Some(rest) = text.strip_prefix('\u{feff}') {
                text = rest.to_owned();
            }
        }
        Ok(Some(text))
    }
}

/// UTF-8 if valid, else Latin-1 (each byte is the code point of the same value).
pub(crate) fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8]) -> Vec<String> {
        let mut l = Lines::new(input);
        let mut out = Vec::new();
        while let Some(s) = l.next_line().unwrap() {
            out.push(s);
        }
        out
    }

    #[test]
    fn terminators_bom_and_latin1() {
        assert_eq!(all(b"a\r\nb\n\nc"), ["a", "b", "", "c"]);
        assert_eq!(all(b"\xef\xbb\xbfTAC|x\n"), ["TAC|x"]);
        assert_eq!(all(b"Caf\xe9\n"), ["Café"]);
        assert!(all(b"").is_empty());
    }

    #[test]
    fn overlong_line_is_refused_with_its_number() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        let mut l = Lines::new(&input[..]);
        assert_eq!(l.next_line().unwrap().as_deref(), Some("ok"));
        match l.next_line() {
            Err(LineError::TooLong { line, start }) => {
                assert_eq!(line, 2);
                assert_eq!(start.len(), 200);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_accepted() {
        let mut input = vec![b'y'; MAX_LINE];
        input.push(b'\n');
        assert_eq!(all(&input)[0].len(), MAX_LINE);
    }

    #[test]
    fn counting_reports_running_total() {
        let mut seen = Vec::new();
        let mut cb = |n: u64| seen.push(n);
        let mut c = Counting::new(&b"hello world"[..], &mut cb);
        let mut buf = [0u8; 4];
        while c.read(&mut buf).unwrap() > 0 {}
        assert_eq!(seen, [4, 8, 11]);
    }
}
