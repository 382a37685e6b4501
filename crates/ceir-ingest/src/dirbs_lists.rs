//! The lists DIRBS takes in besides operator data: stolen, registration, pairing, golden, barred,
//! barred TAC and monitoring, as full files or deltas with change types (DIRBS
//! `etc/schema/*ListSchema.csvs` and `*ListDeltaSchema.csvs`).
//!
//! A file is read row by row ([`for_each_row`]) and checked before anything is applied: any bad
//! row refuses the file and the error names the file, line, field, value and reason, and so does
//! one key given twice with different values. Like DIRBS, ceir keeps every row of a list, whatever its status, keyed as
//! DIRBS keys it (a pairing by IMEI, IMSI and MSISDN): [`plan`] turns a file into the changes to
//! one organisation's kept rows ([`KeptRow`]) and to its entries on the registry's lists that
//! follow from them, checking what DIRBS checks (a delta's adds must be new, its removes and
//! updates of rows on the list, a key may not change twice; a list may not shrink more than the
//! import size threshold allows), so that applying the plan is one transaction and importing
//! the same file twice changes nothing.
//!
//! Where ceir differs from DIRBS: entries are kept by the 14-digit IMEI body, so a list IMEI
//! whose first 14 characters are not digits (which DIRBS's schema allows: hex, `*`, `#`) refuses
//! the file, except on the golden list, which is kept as DIRBS keeps it (MD5 of the normalised
//! IMEI). Rows whose status is not `blacklist` (stolen) or `whitelist` (registration) are kept
//! but put on no registry list, as DIRBS's classification ignores them; every pairing of one IMEI
//! and IMSI is one exception entry, whatever its MSISDNs.

use crate::error::{IngestError, RowError, RowErrors};
use ceir_domain::ids::{Imei, Imsi, PairingMsisdn, Tac};
use ceir_domain::lists::{golden_hash, Country, GoldenImei, ListKind, NewEntry, Reason, Subject};
use ceir_domain::observe::Day;
use ceir_domain::Timestamp;
use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Cursor, Read};
use std::path::Path;

/// A DIRBS list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirbsList {
    Stolen,
    Registration,
    Pairing,
    Golden,
    Barred,
    BarredTac,
    Monitoring,
}

/// How much an import may shrink a list (DIRBS `*_threshold` in etc/config.yml): the new size
/// must be at least `percent` of the current one and, unless `absolute` is -1, no more than
/// `absolute` rows smaller.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeThreshold {
    pub absolute: i64,
    pub percent: f64,
}

impl SizeThreshold {
    /// Checked as DIRBS checks its configuration: `absolute` -1 (off) or at least 0, `percent`
    /// a ratio from 0 (off) to 1.
    pub fn new(absolute: i64, percent: f64) -> Result<SizeThreshold, String> {
        if absolute < -1 {
            return Err(format!(
                "size_variation_absolute = {absolute}: give -1 (no absolute limit) or a number of rows from 0"
            ));
        }
        if !(0.0..=1.0).contains(&percent) {
            return Err(format!(
                "size_variation_percent = {percent}: give a ratio from 0 (no limit) to 1"
            ));
        }
        Ok(SizeThreshold { absolute, percent })
    }
}

impl DirbsList {
    pub const ALL: [DirbsList; 7] = [
        DirbsList::Stolen,
        DirbsList::Registration,
        DirbsList::Pairing,
        DirbsList::Golden,
        DirbsList::Barred,
        DirbsList::BarredTac,
        DirbsList::Monitoring,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            DirbsList::Stolen => "stolen",
            DirbsList::Registration => "registration",
            DirbsList::Pairing => "pairing",
            DirbsList::Golden => "golden",
            DirbsList::Barred => "barred",
            DirbsList::BarredTac => "barred_tac",
            DirbsList::Monitoring => "monitoring",
        }
    }

    /// `barred-tac` and `barred_tac` alike.
    pub fn parse(s: &str) -> Option<DirbsList> {
        let s = s.trim().to_ascii_lowercase().replace('-', "_");
        DirbsList::ALL.into_iter().find(|l| l.name() == s)
    }

    /// The column naming the subject.
    pub(crate) const fn key_column(self) -> &'static str {
        match self {
            DirbsList::Registration => "approved_imei",
            DirbsList::Golden => "golden_imei",
            DirbsList::BarredTac => "tac",
            _ => "imei",
        }
    }

    /// Required columns besides the key (and `change_type` in a delta). DIRBS keys a pairing on
    /// its IMEI, IMSI and MSISDN, so both are required.
    const fn required(self) -> &'static [&'static str] {
        match self {
            DirbsList::Pairing => &["imsi", "msisdn"],
            _ => &[],
        }
    }

    /// Columns that may appear: the row's values besides its key (DIRBS's `_extra_field_names`).
    /// Two rows with one key must agree on them, and a delta's update changes them.
    pub const fn extra_columns(self) -> &'static [&'static str] {
        match self {
            DirbsList::Stolen => &["reporting_date", "status"],
            DirbsList::Registration => &[
                "make",
                "model",
                "status",
                "model_number",
                "brand_name",
                "device_type",
                "radio_interface",
                "device_id",
            ],
            _ => &[],
        }
    }

    /// Whether a row with these values puts its subject on the registry list: DIRBS's
    /// classification takes a stolen row whose status is empty or `blacklist`, a registration
    /// row whose status is empty or `whitelist`, and every row of the other lists.
    pub(crate) fn lists(self, extra: &[String]) -> bool {
        let status = |i: usize| {
            extra
                .get(i)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default()
        };
        match self {
            DirbsList::Stolen => matches!(status(1).as_str(), "" | "blacklist"),
            DirbsList::Registration => matches!(status(2).as_str(), "" | "whitelist"),
            _ => true,
        }
    }

    /// The registry entry's note for a row with these values: a stolen row's reporting date,
    /// a registration row's device id.
    pub(crate) fn note(self, extra: &[String]) -> Option<String> {
        let value = |i: usize| extra.get(i).filter(|v| !v.is_empty());
        match self {
            DirbsList::Stolen => value(0)
                .and_then(|d| Day::parse_yyyymmdd(d.as_bytes()))
                .map(|d| format!("reported {d}")),
            DirbsList::Registration => value(7).map(|d| format!("device {d}")),
            _ => None,
        }
    }

    /// The change types its delta files may carry.
    const fn delta_changes(self) -> &'static [ChangeType] {
        match self {
            DirbsList::Stolen | DirbsList::Registration => {
                &[ChangeType::Add, ChangeType::Remove, ChangeType::Update]
            }
            _ => &[ChangeType::Add, ChangeType::Remove],
        }
    }

    /// DIRBS's default import size thresholds (its `*ThresholdConfig` classes): only the pairing
    /// list may shrink by at most 1000 rows and 5 %; every other list by at most 25 %.
    pub const fn threshold(self) -> SizeThreshold {
        match self {
            DirbsList::Pairing => SizeThreshold {
                absolute: 1000,
                percent: 0.95,
            },
            _ => SizeThreshold {
                absolute: -1,
                percent: 0.75,
            },
        }
    }

    /// Where its entries go in the registry, with what reason; `None` for the golden list, which
    /// has its own table.
    pub const fn target(self) -> Option<(ListKind, Reason)> {
        match self {
            DirbsList::Stolen => Some((ListKind::Blocked, Reason::Stolen)),
            DirbsList::Registration => Some((ListKind::Permitted, Reason::Registered)),
            DirbsList::Pairing => Some((ListKind::Exception, Reason::Paired)),
            DirbsList::Barred => Some((ListKind::Blocked, Reason::Other)),
            DirbsList::BarredTac => Some((ListKind::BarredTac, Reason::Other)),
            DirbsList::Monitoring => Some((ListKind::Tracked, Reason::Investigation)),
            DirbsList::Golden => None,
        }
    }

    /// The reference its entries carry: how an organisation's entries from this list are told
    /// from its other entries on the same registry list.
    pub const fn reference(self) -> &'static str {
        self.name()
    }
}

impl fmt::Display for DirbsList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChangeType {
    Add,
    Remove,
    Update,
}

impl ChangeType {
    pub const fn as_str(self) -> &'static str {
        match self {
            ChangeType::Add => "add",
            ChangeType::Remove => "remove",
            ChangeType::Update => "update",
        }
    }
}

/// What a row is about: DIRBS's primary key of the list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKey {
    Imei(Imei),
    /// A pairing: IMEI, IMSI and MSISDN. The MSISDN is `None` only for pairings kept before
    /// ceir kept MSISDNs (store migration 0009), until a full pairing import replaces them.
    Pair(Imei, Imsi, Option<PairingMsisdn>),
    Tac(Tac),
    /// A golden-list IMEI: the hash, and the normalised IMEI when given in clear.
    Golden(GoldenImei),
}

impl ListKey {
    /// The registry subject: every pairing of one IMEI and IMSI is one exception entry.
    pub fn subject(&self) -> Option<Subject> {
        match self {
            ListKey::Imei(i) => Some(Subject::Imei(*i)),
            ListKey::Pair(i, s, _) => Some(Subject::Pair(*i, *s)),
            ListKey::Tac(t) => Some(Subject::Tac(*t)),
            ListKey::Golden(_) => None,
        }
    }

    /// A pairing's MSISDN.
    pub fn msisdn(&self) -> Option<&PairingMsisdn> {
        match self {
            ListKey::Pair(_, _, m) => m.as_ref(),
            _ => None,
        }
    }
}

/// One row, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRow {
    pub line: u64,
    /// The key column's value as written, for errors.
    pub raw: String,
    pub key: ListKey,
    /// `None` in a full file.
    pub change: Option<ChangeType>,
    /// The values of [`DirbsList::extra_columns`], as written ("" when empty or absent).
    pub extra: Vec<String>,
    /// Whether the row puts its subject on the registry list (see `DirbsList::lists`).
    pub active: bool,
}

/// A row of a list as ceir keeps it between imports, whatever its status (as DIRBS keeps its
/// lists): what a delta's adds, removes and updates are checked against, and what a pairing's
/// MSISDN is kept in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptRow {
    pub key: ListKey,
    /// The values of [`DirbsList::extra_columns`].
    pub extra: Vec<String>,
}

impl KeptRow {
    /// The values as stored: a JSON object of the list's other columns.
    pub fn fields(&self, list: DirbsList) -> String {
        let map: serde_json::Map<String, serde_json::Value> = list
            .extra_columns()
            .iter()
            .zip(&self.extra)
            .map(|(c, v)| ((*c).to_owned(), serde_json::Value::String(v.clone())))
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// A stored row of `list`. Columns the stored object lacks are empty (rows kept from the
    /// registry's entries when the store began keeping rows have none).
    pub fn from_stored(
        list: DirbsList,
        subject: Subject,
        msisdn: Option<PairingMsisdn>,
        fields: &str,
    ) -> Result<KeptRow, String> {
        let key = match (list, subject) {
            (DirbsList::Pairing, Subject::Pair(i, s)) => ListKey::Pair(i, s, msisdn),
            (DirbsList::BarredTac, Subject::Tac(t)) => ListKey::Tac(t),
            (DirbsList::Pairing | DirbsList::BarredTac | DirbsList::Golden, _)
            | (_, Subject::Pair(..) | Subject::Tac(_)) => {
                return Err(format!("a {list} row cannot be about {subject:?}"))
            }
            (_, Subject::Imei(i)) => ListKey::Imei(i),
        };
        let values: serde_json::Map<String, serde_json::Value> = serde_json::from_str(fields)
            .map_err(|e| {
                format!("the {list} row's values {fields:?} are not a JSON object: {e}")
            })?;
        let extra = list
            .extra_columns()
            .iter()
            .map(|c| match values.get(*c) {
                Some(serde_json::Value::String(v)) => Ok(v.clone()),
                None => Ok(String::new()),
                Some(v) => Err(format!("the {list} row's {c} is {v}, not text")),
            })
            .collect::<Result<_, _>>()?;
        Ok(KeptRow { key, extra })
    }
}

/// A list file, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    pub file: String,
    pub list: DirbsList,
    pub delta: bool,
    pub rows: Vec<ListRow>,
}

/// Reads a list file: CSV with a header, plain, gzip or zip (one file, named as the archive), told
/// by magic bytes.
pub fn read_list(path: &Path, list: DirbsList, delta: bool) -> Result<ListFile, IngestError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    read_list_from(file, &name, list, delta)
}

/// Reads a list from any byte stream; `name` is used in errors.
pub fn read_list_from(
    reader: impl Read,
    name: &str,
    list: DirbsList,
    delta: bool,
) -> Result<ListFile, IngestError> {
    let mut rows = Vec::new();
    let file = for_each_row(reader, name, list, delta, &mut |r| {
        rows.push(r);
        Ok(())
    })?;
    let mut errors = RowErrors::default();
    conflicts(list, &rows, &mut |e| errors.push(e));
    errors.check(&file)?;
    Ok(ListFile {
        file,
        list,
        delta,
        rows,
    })
}

/// Reads a list file row by row, handing each checked row to `each`, so that a list of any
/// size is read in bounded memory; returns the name errors give the file (an archive member's
/// with its archive's). Any bad row refuses the file (the rows handed over before it are to be
/// dropped); a key repeated with other values is for the caller to find (see [`conflicts`] and
/// [`crate::dirbs_merge`]).
pub fn for_each_row(
    reader: impl Read,
    name: &str,
    list: DirbsList,
    delta: bool,
    each: &mut dyn FnMut(ListRow) -> std::io::Result<()>,
) -> Result<String, IngestError> {
    let io_err = |source| IngestError::Io {
        file: name.to_owned(),
        source,
    };
    let mut reader = BufReader::new(reader);
    let mut head = Vec::with_capacity(4);
    (&mut reader)
        .take(4)
        .read_to_end(&mut head)
        .map_err(io_err)?;
    let rest = Cursor::new(head.clone()).chain(reader);
    if head.starts_with(&[0x1f, 0x8b]) {
        parse(
            BufReader::new(flate2::read::MultiGzDecoder::new(rest)),
            name,
            list,
            delta,
            each,
        )?;
        Ok(name.to_owned())
    } else if crate::archive::is_zip(&head) {
        let mut bytes = Vec::new();
        rest.take(crate::tac::MAX_ZIP_BYTES)
            .read_to_end(&mut bytes)
            .map_err(io_err)?;
        let zip_err = |e: zip::result::ZipError| IngestError::Zip {
            file: name.to_owned(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
        let entry = crate::archive::single_member(&archive, name)?;
        let inner = archive.by_name(&entry).map_err(zip_err)?;
        let file = format!("{name}!/{entry}");
        parse(BufReader::new(inner), &file, list, delta, each)?;
        Ok(file)
    } else {
        parse(rest, name, list, delta, each)?;
        Ok(name.to_owned())
    }
}

/// Where each column is.
struct Columns {
    key: usize,
    change: Option<usize>,
    imsi: Option<usize>,
    msisdn: Option<usize>,
    /// Of each of [`DirbsList::extra_columns`].
    extras: Vec<Option<usize>>,
    width: usize,
}

fn header(
    names: &[String],
    file: &str,
    list: DirbsList,
    delta: bool,
) -> Result<Columns, IngestError> {
    let norm: Vec<String> = names
        .iter()
        .map(|n| n.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let find = |c: &str| norm.iter().position(|n| n == c);
    // DIRBS renamed the golden list's column from imei to golden_imei; both are read.
    let key = find(list.key_column())
        .or_else(|| (list == DirbsList::Golden).then(|| find("imei")).flatten());
    let mut missing = Vec::new();
    if key.is_none() {
        missing.push(list.key_column().to_owned());
    }
    for c in list.required() {
        if find(c).is_none() {
            missing.push((*c).to_owned());
        }
    }
    let change = find("change_type");
    if delta && change.is_none() {
        missing.push("change_type".into());
    }
    if !missing.is_empty() {
        return Err(IngestError::MissingColumns {
            file: file.to_owned(),
            line: 1,
            missing,
        });
    }
    let known: Vec<&str> = [list.key_column()]
        .iter()
        .chain(list.required())
        .chain(list.extra_columns())
        .copied()
        .chain(delta.then_some("change_type"))
        .chain((list == DirbsList::Golden).then_some("imei"))
        .collect();
    let unknown: Vec<String> = norm
        .iter()
        .filter(|n| !known.contains(&n.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(IngestError::Rows {
            file: file.to_owned(),
            errors: vec![RowError::new(
                1,
                "(header)",
                &names.join(","),
                format!(
                    "unknown column(s) {} for a {} {} list; expected {}{}",
                    unknown.join(", "),
                    if delta { "delta" } else { "full" },
                    list,
                    known.join(", "),
                    if !delta && change.is_some() {
                        " (a file with change_type is a delta: import it with --delta)"
                    } else {
                        ""
                    }
                ),
            )],
            more: 0,
        });
    }
    Ok(Columns {
        key: key.unwrap_or(0),
        change,
        imsi: find("imsi"),
        msisdn: find("msisdn"),
        extras: list.extra_columns().iter().map(|c| find(c)).collect(),
        width: names.len(),
    })
}

/// DIRBS's IMEI pattern: 1 to 16 hex digits, `*` or `#`.
fn dirbs_imei(s: &str) -> bool {
    (1..=16).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#')
}

/// DIRBS's `normalize_imei`: the first 14 characters when they are digits, else upper case.
fn normalise(s: &str) -> String {
    if s.len() >= 14 && s.as_bytes()[..14].iter().all(u8::is_ascii_digit) {
        s[..14].to_owned()
    } else {
        s.to_ascii_uppercase()
    }
}

fn imei_key(field: &str, v: &str) -> Result<Imei, String> {
    if !dirbs_imei(v) {
        return Err(format!(
            "{field} must be 1 to 16 hex digits, '*' or '#' (DIRBS's IMEI pattern)"
        ));
    }
    let norm = normalise(v);
    if norm.len() != 14 || !norm.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "ceir keeps list entries by the 14-digit IMEI body and {v:?} does not start with 14 digits"
        ));
    }
    let body: u64 = norm.parse().map_err(|e| format!("{e}"))?;
    Imei::from_body(body).map_err(|e| e.to_string())
}

fn parse(
    reader: impl Read,
    file: &str,
    list: DirbsList,
    delta: bool,
    each: &mut dyn FnMut(ListRow) -> std::io::Result<()>,
) -> Result<(), IngestError> {
    let mut csv = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(reader);
    let mut records = csv.byte_records();
    let names: Vec<String> = match records.next() {
        None => {
            return Err(IngestError::Empty {
                file: file.to_owned(),
            })
        }
        Some(Err(e)) => return Err(csv_err(file, &e)),
        Some(Ok(r)) => r
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect(),
    };
    let cols = header(&names, file, list, delta)?;
    let col_names: Vec<String> = names.iter().map(|n| n.trim().to_owned()).collect();
    let name_of = |i: usize| col_names.get(i).cloned().unwrap_or_default();
    let mut errors = RowErrors::default();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => return Err(csv_err(file, &e)),
        };
        let line = rec.position().map_or(0, |p| p.line());
        let fields: Vec<String> = rec
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_owned())
            .collect();
        if fields.iter().all(String::is_empty) {
            continue;
        }
        if fields.len() != cols.width {
            errors.push(RowError::new(
                line,
                "(row)",
                &fields.join(","),
                format!(
                    "has {} fields where the header has {}",
                    fields.len(),
                    cols.width
                ),
            ));
            continue;
        }
        let get = |i: Option<usize>| {
            i.and_then(|i| fields.get(i))
                .filter(|s| !s.is_empty())
                .cloned()
        };
        match row(list, &cols, &fields, line, get) {
            // Once the file is refused, its rows are not needed.
            Ok(r) if errors.is_empty() => each(r).map_err(|source| IngestError::Io {
                file: file.to_owned(),
                source,
            })?,
            Ok(_) => {}
            Err((col, reason)) => {
                let (field, value) = match col {
                    Some(i) => (name_of(i), fields.get(i).cloned().unwrap_or_default()),
                    None => ("(row)".to_owned(), fields.join(",")),
                };
                errors.push(RowError::new(line, field, &value, reason));
            }
        }
    }
    errors.check(file)
}

fn csv_err(file: &str, e: &csv::Error) -> IngestError {
    let line = e.position().map_or(0, |p| p.line());
    IngestError::Rows {
        file: file.to_owned(),
        errors: vec![RowError::new(line, "(row)", "", format!("not CSV: {e}"))],
        more: 0,
    }
}

type FieldError = (Option<usize>, String);

fn row(
    list: DirbsList,
    cols: &Columns,
    fields: &[String],
    line: u64,
    get: impl Fn(Option<usize>) -> Option<String>,
) -> Result<ListRow, FieldError> {
    let raw = fields.get(cols.key).cloned().unwrap_or_default();
    let at_key = |reason: String| (Some(cols.key), reason);
    if raw.is_empty() {
        return Err(at_key(format!("{} is empty", list.key_column())));
    }
    let change = match cols.change {
        None => None,
        Some(i) => {
            let v = fields
                .get(i)
                .map(|s| s.to_ascii_lowercase())
                .unwrap_or_default();
            let allowed = list.delta_changes();
            match allowed.iter().find(|c| c.as_str() == v) {
                Some(c) => Some(*c),
                None => {
                    let names: Vec<&str> = allowed.iter().map(|c| c.as_str()).collect();
                    return Err((
                        Some(i),
                        format!("change_type must be one of {}", names.join(", ")),
                    ));
                }
            }
        }
    };
    let key = match list {
        DirbsList::BarredTac => ListKey::Tac(Tac::parse(&raw).map_err(|e| at_key(e.to_string()))?),
        DirbsList::Golden => {
            if raw.len() == 32 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                ListKey::Golden(GoldenImei {
                    hash: raw.to_ascii_lowercase(),
                    imei: None,
                })
            } else if dirbs_imei(&raw) {
                ListKey::Golden(GoldenImei {
                    hash: golden_hash(&normalise(&raw)),
                    imei: Some(normalise(&raw)),
                })
            } else {
                return Err(at_key(
                    "golden_imei must be an IMEI (1 to 16 hex digits, '*' or '#') or its MD5 (32 hex digits)"
                        .into(),
                ));
            }
        }
        DirbsList::Pairing => {
            let imei = imei_key(list.key_column(), &raw).map_err(at_key)?;
            let imsi_text = get(cols.imsi).unwrap_or_default();
            if imsi_text.is_empty() {
                return Err((cols.imsi, "imsi is empty".into()));
            }
            let imsi = Imsi::parse(&imsi_text).map_err(|e| (cols.imsi, e.to_string()))?;
            // DIRBS's schema: a pairing's MSISDN is 1 to 15 digits, and required.
            let msisdn = PairingMsisdn::parse(&get(cols.msisdn).unwrap_or_default())
                .map_err(|e| (cols.msisdn, format!("{e} (DIRBS keys a pairing on it)")))?;
            ListKey::Pair(imei, imsi, Some(msisdn))
        }
        _ => ListKey::Imei(imei_key(list.key_column(), &raw).map_err(at_key)?),
    };
    let extra: Vec<String> = cols
        .extras
        .iter()
        .map(|i| get(*i).unwrap_or_default())
        .collect();
    for (c, (name, v)) in list.extra_columns().iter().zip(&extra).enumerate() {
        if v.is_empty() {
            continue;
        }
        let at = cols.extras.get(c).copied().flatten();
        match *name {
            "reporting_date" => match Day::parse_yyyymmdd(v.as_bytes()) {
                Some(day) if day.ymd().0 >= 2000 => {}
                _ => {
                    return Err((
                        at,
                        "reporting_date must be empty or a date yyyymmdd from 2000 on".into(),
                    ))
                }
            },
            "device_id" if !v.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                return Err((at, "device_id must be letters and digits".into()));
            }
            _ => {}
        }
    }
    Ok(ListRow {
        line,
        raw,
        key,
        change,
        active: list.lists(&extra),
        extra,
    })
}

/// DIRBS refuses a file in which one key comes with different values of the other columns
/// (its conflicting rows check): each such row is named with the line it conflicts with. Rows
/// of a delta with different change types are left to the plan, which names them.
fn conflicts(list: DirbsList, rows: &[ListRow], fail: &mut dyn FnMut(RowError)) {
    let mut first: HashMap<(&ListKey, Option<ChangeType>), &ListRow> = HashMap::new();
    for r in rows {
        let Some(earlier) = first.get(&(&r.key, r.change)).copied() else {
            first.insert((&r.key, r.change), r);
            continue;
        };
        for ((name, was), now) in list
            .extra_columns()
            .iter()
            .zip(&earlier.extra)
            .zip(&r.extra)
        {
            if was != now {
                fail(RowError::new(
                    r.line,
                    *name,
                    now,
                    format!(
                        "conflicts with line {}, where {} {:?} has {name} {was:?}: one {} may \
                         not come with different values",
                        earlier.line,
                        list.key_column(),
                        earlier.raw,
                        list.key_column()
                    ),
                ));
            }
        }
    }
}

/// An entry an organisation holds on the registry list a DIRBS list maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub subject: Subject,
    pub reference: Option<String>,
    pub note: Option<String>,
}

/// What applying a file will change: the list's kept rows, and the organisation's registry
/// entries that follow from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New registry entries, and entries whose facts change (the store counts those as updates).
    pub add: Vec<NewEntry>,
    /// Registry entries no row lists any more.
    pub remove: Vec<Subject>,
    /// Kept rows new or with new values.
    pub upsert: Vec<KeptRow>,
    /// Kept rows no longer on the list.
    pub delete: Vec<ListKey>,
    /// Rows of the file already kept with the same values.
    pub unchanged: u64,
    /// Rows of the file (added or updated, for a delta) whose status puts them on no registry
    /// list: kept, listing nothing.
    pub inactive: u64,
    /// Subjects the organisation already holds on the same registry list from another source
    /// (another DIRBS list, or by hand): left as they are.
    pub held_elsewhere: u64,
    /// Rows repeating a key already seen in the file, with the same values.
    pub duplicates: u64,
    /// Rows of the list before and after: what the import size check compares.
    pub before: u64,
    pub after: u64,
}

impl Plan {
    /// Whether applying it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty()
            && self.remove.is_empty()
            && self.upsert.is_empty()
            && self.delete.is_empty()
    }
}

/// The changes that make one organisation's rows of this list, and its registry entries from
/// them, match the file: for a full file, the diff against `kept`; for a delta, its change
/// types, with DIRBS's delta checks (an add must be new; a remove or an update must be of a row
/// on the list; a key may change once). `held` are the organisation's entries on the registry
/// list the DIRBS list maps to. `size` is the import size check's threshold
/// ([`DirbsList::threshold`] by default); `None` (`--force`) skips it.
///
/// The file, the kept rows and the entries are walked subject by subject through a
/// [`Merger`](crate::dirbs_merge::Merger), as the importer walks them from disk and the store;
/// a delta visits only the subjects it names.
pub fn plan(
    file: &ListFile,
    kept: &[KeptRow],
    held: &[Held],
    country: Country,
    now: Timestamp,
    size: Option<SizeThreshold>,
) -> Result<Plan, IngestError> {
    use crate::dirbs_merge::{subject_order, Merger, SortedList};
    let Some(mut m) = Merger::new(file.list, file.delta, country, now) else {
        return Err(IngestError::Rows {
            file: file.file.clone(),
            errors: vec![RowError::new(
                0,
                "(file)",
                "",
                "the golden list is planned by plan_golden",
            )],
            more: 0,
        });
    };
    let mut rows = SortedList::from_rows(&file.file, file.rows.clone());
    let at = |k: &ListKey| k.subject().map(subject_order);
    let mut kept: Vec<&KeptRow> = kept.iter().collect();
    kept.sort_by_key(|k| at(&k.key));
    let mut held: Vec<&Held> = held.iter().collect();
    held.sort_by_key(|h| subject_order(h.subject));
    let (mut k, mut h) = (0usize, 0usize);
    loop {
        let from_file = rows.peek()?;
        let next = if file.delta {
            from_file
        } else {
            [
                from_file,
                kept.get(k).and_then(|r| at(&r.key)),
                held.get(h).map(|e| subject_order(e.subject)),
            ]
            .into_iter()
            .flatten()
            .min()
        };
        let Some(next) = next else { break };
        let mine = if from_file == Some(next) {
            rows.next_subject()?
        } else {
            Vec::new()
        };
        while kept.get(k).is_some_and(|r| at(&r.key) < Some(next)) {
            k += 1;
        }
        let mut old = Vec::new();
        while let Some(r) = kept.get(k).filter(|r| at(&r.key) == Some(next)) {
            old.push((*r).clone());
            k += 1;
        }
        while held.get(h).is_some_and(|e| subject_order(e.subject) < next) {
            h += 1;
        }
        let entry = held
            .get(h)
            .copied()
            .filter(|e| subject_order(e.subject) == next);
        h += usize::from(entry.is_some());
        let subject = mine
            .first()
            .and_then(|r| r.key.subject())
            .or_else(|| old.first().and_then(|r| r.key.subject()))
            .or(entry.map(|e| e.subject));
        if let Some(subject) = subject {
            m.subject(subject, &mine, old, entry);
        }
    }
    m.finish(&file.file, kept.len() as u64, size)
}

/// DIRBS's import size check: a list may not shrink below its threshold in one import.
pub fn check_size(
    file: &str,
    list: DirbsList,
    before: u64,
    after: u64,
    t: SizeThreshold,
) -> Result<(), IngestError> {
    if before == 0 {
        return Ok(());
    }
    let mut min = if t.absolute < 0 {
        1.0
    } else {
        (before as f64 - t.absolute as f64).max(1.0)
    };
    min = min.max(t.percent * before as f64);
    if (after as f64) < min {
        return Err(IngestError::SizeVariation {
            file: file.to_owned(),
            list: list.name(),
            before,
            after,
            min: min.ceil() as u64,
        });
    }
    Ok(())
}

/// The golden list after applying the file to `current`, with the same checks as [`plan`].
pub fn plan_golden(
    file: &ListFile,
    current: &[GoldenImei],
    size: Option<SizeThreshold>,
) -> Result<(Vec<GoldenImei>, GoldenPlan), IngestError> {
    use crate::dirbs_merge::{GoldenMerger, SortedList};
    let mut rows = SortedList::from_rows(&file.file, file.rows.clone());
    let mut stored: Vec<&GoldenImei> = current.iter().collect();
    stored.sort_by(|a, b| a.hash.as_bytes().cmp(b.hash.as_bytes()));
    stored.dedup_by(|a, b| a.hash == b.hash);
    let mut m = GoldenMerger::new(file.delta);
    let mut set = Vec::new();
    let mut k = 0usize;
    let mut next_rows = rows.next_key()?;
    loop {
        let hash_of = |r: &ListRow| match &r.key {
            ListKey::Golden(g) => g.hash.clone(),
            _ => String::new(),
        };
        let from_file = next_rows.first().map(hash_of);
        let from_store = stored.get(k).map(|g| g.hash.clone());
        let (take_file, take_store) = match (&from_file, &from_store) {
            (None, None) => break,
            (Some(f), Some(s)) => (f.as_bytes() <= s.as_bytes(), s.as_bytes() <= f.as_bytes()),
            (Some(_), None) => (true, false),
            (None, Some(_)) => (false, true),
        };
        let old = if take_store {
            stored.get(k).copied()
        } else {
            None
        };
        k += usize::from(take_store);
        let file_rows = if take_file {
            std::mem::replace(&mut next_rows, rows.next_key()?)
        } else {
            Vec::new()
        };
        set.extend(m.hash(&file_rows, old));
    }
    let gp = m.finish(&file.file, stored.len() as u64, size)?;
    Ok((set, gp))
}

/// What a golden-list import will change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldenPlan {
    pub before: u64,
    pub after: u64,
    pub added: u64,
    pub removed: u64,
}
