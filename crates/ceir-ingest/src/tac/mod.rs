//! TAC catalogs: the GSMA TAC database and the Osmocom tacdb CSV export, read as streams into a
//! [`Catalog`]. The format is told from the header line, never from the file name, and a zip
//! archive is told from its magic bytes.
//!
//! A file is taken whole or not at all: if any row is bad, [`IngestError::Rows`] lists the first
//! [`MAX_ROW_ERRORS`](crate::error::MAX_ROW_ERRORS) and counts the rest, and no model is returned.
//!
//! When a TAC appears on more than one row, the later row wins and the earlier one is counted in
//! [`Catalog::duplicates`]: catalogs grow by appending, so the later row is the newer record.
//! The Osmocom export has three such TACs (35572302, 35693703 and 33205600), each once with a
//! leading space and once without; the leading space is trimmed, so they are counted as
//! duplicates and the later row is kept.

mod gsma;
mod osmocom;

use crate::error::{IngestError, RowError, MAX_ROW_ERRORS};
use crate::lines::{Counting, LineError, Lines, MAX_LINE};
use ceir_domain::catalog::TacModel;
use ceir_domain::Tac;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::Path;

pub use gsma::iso_date;

/// More distinct TACs than this and the file is refused: the GSMA database holds a few hundred
/// thousand, and a bound keeps a hostile archive from exhausting memory.
pub const MAX_MODELS: usize = 2_000_000;

/// A zip given as a stream is held in memory to be read (its directory is at the end); this bounds
/// that buffer. GSMA's zipped database is tens of megabytes.
pub const MAX_ZIP_BYTES: u64 = 512 * 1024 * 1024;

/// Which kind of catalog a file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TacFormat {
    /// The GSMA TAC database: pipe-delimited, with bands, device type and allocation date.
    Gsma,
    /// The Osmocom tacdb CSV export: brand and model only (CC-BY-SA).
    Osmocom,
}

impl fmt::Display for TacFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TacFormat::Gsma => "GSMA TAC database",
            TacFormat::Osmocom => "Osmocom tacdb CSV",
        })
    }
}

/// A whole catalog file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub format: TacFormat,
    /// One model per TAC, sorted by TAC.
    pub models: Vec<TacModel>,
    /// Rows whose TAC had appeared on an earlier row; the later row was kept.
    pub duplicates: u64,
    /// Lines that were empty or held only spaces.
    pub skipped_blank: u64,
}

/// Reads a catalog file: a GSMA TAC database or an Osmocom tacdb export, as text or as a zip
/// archive holding one such file. `progress` is called with the number of bytes read so far
/// (never more than the file's size).
pub fn read_catalog(path: &Path, progress: &mut dyn FnMut(u64)) -> Result<Catalog, IngestError> {
    let name = path.display().to_string();
    let io_err = |source| IngestError::Io {
        file: name.clone(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let size = file.metadata().map_err(io_err)?.len();
    let result = {
        // A zip is read from its directory at the end, then the entry, and a seek discards the
        // read-ahead buffer, so the running total can pass the size by a little, or fall short.
        let mut clamped = |n: u64| progress(n.min(size));
        let mut reader = BufReader::new(Counting::new(file, &mut clamped));
        let head = reader.fill_buf().map_err(io_err)?;
        if is_zip(head) {
            read_zip(reader, &name)
        } else {
            read_text(reader, &name)
        }
    };
    if result.is_ok() {
        progress(size);
    }
    result
}

/// Reads a catalog from any byte stream; `name` is used in errors. Arbitrary bytes give an error,
/// never a panic. A zip archive is buffered in memory (up to [`MAX_ZIP_BYTES`]) to be read.
pub fn read_catalog_from(
    reader: impl Read,
    name: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<Catalog, IngestError> {
    let io_err = |source| IngestError::Io {
        file: name.to_owned(),
        source,
    };
    let mut counting = Counting::new(reader, progress);
    // A reader may hand out fewer bytes than asked, so fill the magic-number buffer in a loop.
    let mut head = Vec::with_capacity(4);
    (&mut counting)
        .take(4)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    if is_zip(&head) {
        let mut bytes = head;
        (&mut counting)
            .take(MAX_ZIP_BYTES)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        if bytes.len() as u64 >= MAX_ZIP_BYTES {
            return Err(IngestError::Zip {
                file: name.to_owned(),
                reason: format!("larger than the {} MiB accepted", MAX_ZIP_BYTES >> 20),
            });
        }
        read_zip(Cursor::new(bytes), name)
    } else {
        read_text(BufReader::new(Cursor::new(head).chain(counting)), name)
    }
}

/// A local file header's signature, which starts every ordinary zip archive.
fn is_zip(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04")
}

/// Reads the one catalog file inside a zip archive.
fn read_zip<R: Read + Seek>(reader: R, name: &str) -> Result<Catalog, IngestError> {
    let zip_err = |e: zip::result::ZipError| IngestError::Zip {
        file: name.to_owned(),
        reason: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let entry = choose_entry((0..archive.len()).filter_map(|i| archive.name_for_index(i)))
        .map_err(|reason| IngestError::Zip {
            file: name.to_owned(),
            reason,
        })?;
    let file = format!("{name}!/{entry}");
    let inner = archive.by_name(&entry).map_err(zip_err)?;
    read_text(BufReader::new(inner), &file)
}

/// The entry holding the catalog: the only file, leaving out folders and the metadata macOS adds
/// ("__MACOSX/", "._name"); if several remain, the only one named .txt or .csv.
fn choose_entry<'a>(names: impl Iterator<Item = &'a str>) -> Result<String, String> {
    let files: Vec<&str> = names
        .filter(|n| !n.ends_with('/') && !n.starts_with("__MACOSX/"))
        .filter(|n| !n.rsplit('/').next().unwrap_or(n).starts_with("._"))
        .collect();
    let text: Vec<&str> = files
        .iter()
        .copied()
        .filter(|n| {
            let lower = n.to_ascii_lowercase();
            lower.ends_with(".txt") || lower.ends_with(".csv")
        })
        .collect();
    match (files.as_slice(), text.as_slice()) {
        ([], _) => Err("the archive holds no file".to_owned()),
        ([only], _) | (_, [only]) => Ok((*only).to_owned()),
        _ => Err(format!(
            "the archive holds {} files ({}); expected one TAC catalog",
            files.len(),
            crate::error::truncate(&files.join(", "))
        )),
    }
}

/// Reads a catalog from text, telling the format from its first non-blank line.
fn read_text<R: BufRead>(reader: R, file: &str) -> Result<Catalog, IngestError> {
    let mut lines = Lines::new(reader);
    let mut out = Builder::new(file);
    let first = loop {
        match out.next(&mut lines)? {
            Next::Line(l) if l.trim().is_empty() => out.skipped_blank += 1,
            Next::Line(l) => break l,
            Next::End => {
                return Err(IngestError::Empty {
                    file: file.to_owned(),
                })
            }
            Next::TooLong { line, start } => {
                return Err(IngestError::UnknownFormat {
                    file: file.to_owned(),
                    line,
                    header: crate::error::truncate(&start),
                })
            }
        }
    };
    let first_line = lines.line();
    let unknown = |line, header: &str| IngestError::UnknownFormat {
        file: file.to_owned(),
        line,
        header: crate::error::truncate(header),
    };
    if let Some(header) = gsma::Header::parse(&first) {
        let header = header.map_err(|missing| IngestError::MissingColumns {
            file: file.to_owned(),
            line: first_line,
            missing,
        })?;
        gsma::read_rows(&header, &mut lines, &mut out)?;
        return out.finish(TacFormat::Gsma);
    }
    let header = if let Some(h) = osmocom::Header::parse(&first) {
        h
    } else if osmocom::is_banner(&first) {
        match out.next(&mut lines)? {
            Next::Line(l) => osmocom::Header::parse(&l).ok_or_else(|| unknown(lines.line(), &l))?,
            Next::End => return Err(unknown(first_line, &first)),
            Next::TooLong { line, start } => return Err(unknown(line, &start)),
        }
    } else {
        return Err(unknown(first_line, &first));
    };
    osmocom::read_rows(&header, &mut lines, &mut out)?;
    out.finish(TacFormat::Osmocom)
}

/// What [`Builder::next`] found.
enum Next {
    Line(String),
    End,
    TooLong { line: u64, start: String },
}

/// Gathers models and bad rows while the rows stream past.
struct Builder<'f> {
    file: &'f str,
    models: Vec<TacModel>,
    index: HashMap<Tac, usize>,
    duplicates: u64,
    skipped_blank: u64,
    errors: Vec<RowError>,
    more: u64,
}

impl<'f> Builder<'f> {
    fn new(file: &'f str) -> Self {
        Builder {
            file,
            models: Vec::new(),
            index: HashMap::new(),
            duplicates: 0,
            skipped_blank: 0,
            errors: Vec::new(),
            more: 0,
        }
    }

    /// The next line; an I/O failure ends the import at once.
    fn next<R: BufRead>(&self, lines: &mut Lines<R>) -> Result<Next, IngestError> {
        match lines.next_line() {
            Ok(Some(l)) => Ok(Next::Line(l)),
            Ok(None) => Ok(Next::End),
            Err(LineError::TooLong { line, start }) => Ok(Next::TooLong { line, start }),
            Err(LineError::Io(source)) => Err(IngestError::Io {
                file: self.file.to_owned(),
                source,
            }),
        }
    }

    /// Feeds each data line to `row` until the end, counting blank lines. An overlong line is a
    /// bad row that ends reading, since the rest of the file cannot be trusted to be lines.
    fn rows<R: BufRead>(
        &mut self,
        lines: &mut Lines<R>,
        mut row: impl FnMut(u64, &str) -> Result<TacModel, RowError>,
    ) -> Result<(), IngestError> {
        loop {
            match self.next(lines)? {
                Next::End => return Ok(()),
                Next::TooLong { line, start } => {
                    let reason =
                        format!("the line is longer than {MAX_LINE} bytes; reading stopped here");
                    self.error(RowError::new(line, "(row)", &start, reason));
                    return Ok(());
                }
                Next::Line(l) if l.trim().is_empty() => self.skipped_blank += 1,
                Next::Line(l) => match row(lines.line(), &l) {
                    Ok(model) => {
                        if !self.add(model) {
                            let reason =
                                format!("more than {MAX_MODELS} TACs; reading stopped here");
                            self.error(RowError::new(lines.line(), "(row)", &l, reason));
                            return Ok(());
                        }
                    }
                    Err(e) => self.error(e),
                },
            }
        }
    }

    /// Keeps a model, the later of two rows with the same TAC winning. Once a row is bad the
    /// file will be refused, so models are no longer kept. False when the file has too many TACs.
    fn add(&mut self, model: TacModel) -> bool {
        if !self.errors.is_empty() {
            return true;
        }
        if let Some(&i) = self.index.get(&model.tac) {
            if let Some(slot) = self.models.get_mut(i) {
                *slot = model;
            }
            self.duplicates += 1;
            return true;
        }
        if self.models.len() >= MAX_MODELS {
            return false;
        }
        self.index.insert(model.tac, self.models.len());
        self.models.push(model);
        true
    }

    fn error(&mut self, e: RowError) {
        if self.errors.is_empty() {
            self.models = Vec::new();
            self.index = HashMap::new();
        }
        if self.errors.len() < MAX_ROW_ERRORS {
            self.errors.push(e);
        } else {
            self.more += 1;
        }
    }

    fn finish(self, format: TacFormat) -> Result<Catalog, IngestError> {
        if !self.errors.is_empty() {
            return Err(IngestError::Rows {
                file: self.file.to_owned(),
                errors: self.errors,
                more: self.more,
            });
        }
        let mut models = self.models;
        models.sort_unstable_by_key(|m| m.tac);
        Ok(Catalog {
            format,
            models,
            duplicates: self.duplicates,
            skipped_blank: self.skipped_blank,
        })
    }
}

/// A field's value with surrounding spaces and one pair of enclosing double quotes removed;
/// `None` when nothing is left or the source says it does not know ("Not Known").
fn value(raw: &str) -> Option<String> {
    let mut v = raw.trim();
    if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
        v = v.get(1..v.len() - 1).unwrap_or(v).trim();
    }
    if v.is_empty() || v.eq_ignore_ascii_case("not known") {
        None
    } else {
        Some(v.to_owned())
    }
}

/// Parses a TAC field, with the reason worded to follow the field name ("must have 8 digits").
fn tac(line: u64, field: &str, raw: &str) -> Result<Tac, RowError> {
    Tac::parse(raw).map_err(|e| {
        let msg = e.to_string();
        let reason = msg.strip_prefix("TAC ").unwrap_or(&msg).to_owned();
        RowError::new(line, field, raw, reason)
    })
}

/// Checks a row's field count against the header's. Extra fields are tolerated when empty,
/// since some exports end every row with a delimiter.
fn check_width<S: AsRef<str>>(
    line: u64,
    raw: &str,
    fields: &[S],
    want: usize,
) -> Result<(), RowError> {
    let got = fields.len();
    let extras_blank = fields
        .get(want..)
        .is_some_and(|extra| extra.iter().all(|f| f.as_ref().trim().is_empty()));
    if got == want || (got > want && extras_blank) {
        return Ok(());
    }
    let reason = format!("has {got} fields; the header has {want}");
    Err(RowError::new(line, "(row)", raw, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_entry_choice() {
        let pick = |names: &[&str]| choose_entry(names.iter().copied());
        assert_eq!(pick(&["tacdb.txt"]).unwrap(), "tacdb.txt");
        assert_eq!(pick(&["data/", "data/tacdb"]).unwrap(), "data/tacdb");
        assert_eq!(
            pick(&["__MACOSX/._t.txt", "._t.txt", "t.txt"]).unwrap(),
            "t.txt"
        );
        assert_eq!(pick(&["readme.pdf", "TAC.CSV"]).unwrap(), "TAC.CSV");
        assert!(pick(&[]).unwrap_err().contains("no file"));
        assert!(pick(&["a.txt", "b.txt"])
            .unwrap_err()
            .contains("2 files (a.txt, b.txt)"));
    }

    #[test]
    fn values_are_trimmed_and_unknowns_dropped() {
        assert_eq!(value("  Galaxy  ").as_deref(), Some("Galaxy"));
        assert_eq!(value("\" Galaxy \"").as_deref(), Some("Galaxy"));
        assert_eq!(value("\"").as_deref(), Some("\""));
        assert_eq!(value("Not Known"), None);
        assert_eq!(value("   "), None);
    }
}
