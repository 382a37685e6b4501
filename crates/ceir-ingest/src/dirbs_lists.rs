//! The lists DIRBS takes in besides operator data: stolen, registration, pairing, golden, barred,
//! barred TAC and monitoring, as full files or deltas with change types (DIRBS
//! `etc/schema/*ListSchema.csvs` and `*ListDeltaSchema.csvs`).
//!
//! A file is read whole and checked before anything is applied: any bad row refuses the file and
//! the error names the file, line, field, value and reason. [`plan`] then turns a file into the
//! changes to one organisation's entries on the registry's lists, checking what DIRBS checks (a
//! delta's adds must be new, its removes present, a key may not change twice; a full list may not
//! shrink more than the import size threshold allows), so that applying the plan is one
//! transaction and importing the same file twice changes nothing.
//!
//! Where ceir differs from DIRBS: entries are kept by the 14-digit IMEI body, so a list IMEI
//! whose first 14 characters are not digits (which DIRBS's schema allows: hex, `*`, `#`) refuses
//! the file, except on the golden list, which is kept as DIRBS keeps it (MD5 of the normalised
//! IMEI). Rows whose status is not `blacklist` (stolen) or `whitelist` (registration) are read but
//! put on no list, as DIRBS's classification ignores them.

use crate::error::{IngestError, RowError, MAX_ROW_ERRORS};
use ceir_domain::ids::{Imei, Imsi, Tac};
use ceir_domain::lists::{
    golden_hash, Country, EntryMeta, GoldenImei, ListKind, NewEntry, Reason, Subject,
};
use ceir_domain::observe::Day;
use ceir_domain::Timestamp;
use std::collections::{BTreeMap, HashMap, HashSet};
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
    const fn key_column(self) -> &'static str {
        match self {
            DirbsList::Registration => "approved_imei",
            DirbsList::Golden => "golden_imei",
            DirbsList::BarredTac => "tac",
            _ => "imei",
        }
    }

    /// Required columns besides the key (and `change_type` in a delta).
    const fn required(self) -> &'static [&'static str] {
        match self {
            DirbsList::Pairing => &["imsi"],
            _ => &[],
        }
    }

    /// Columns that may appear.
    const fn optional(self) -> &'static [&'static str] {
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
            DirbsList::Pairing => &["msisdn"],
            _ => &[],
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

/// What a row is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ListKey {
    Imei(Imei),
    Pair(Imei, Imsi),
    Tac(Tac),
    /// A golden-list IMEI: the hash, and the normalised IMEI when given in clear.
    Golden(GoldenImei),
}

impl ListKey {
    fn subject(&self) -> Option<Subject> {
        match self {
            ListKey::Imei(i) => Some(Subject::Imei(*i)),
            ListKey::Pair(i, s) => Some(Subject::Pair(*i, *s)),
            ListKey::Tac(t) => Some(Subject::Tac(*t)),
            ListKey::Golden(_) => None,
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
    /// Whether the row puts its subject on the list: a stolen row whose status is empty or
    /// `blacklist`, a registration row whose status is empty or `whitelist`; always for the
    /// others.
    pub active: bool,
    pub reporting_date: Option<Day>,
    /// Registration's device id, kept as the entry's note.
    pub device_id: Option<String>,
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
        )
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
        parse(
            BufReader::new(inner),
            &format!("{name}!/{entry}"),
            list,
            delta,
        )
    } else {
        parse(rest, name, list, delta)
    }
}

/// Where each column is.
struct Columns {
    key: usize,
    change: Option<usize>,
    imsi: Option<usize>,
    msisdn: Option<usize>,
    status: Option<usize>,
    reporting_date: Option<usize>,
    device_id: Option<usize>,
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
        .chain(list.optional())
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
        status: find("status"),
        reporting_date: find("reporting_date"),
        device_id: find("device_id"),
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
) -> Result<ListFile, IngestError> {
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
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut more = 0u64;
    let mut fail = |e: RowError| {
        if errors.len() < MAX_ROW_ERRORS {
            errors.push(e);
        } else {
            more += 1;
        }
    };
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
            fail(RowError::new(
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
            Ok(r) => rows.push(r),
            Err((col, reason)) => {
                let (field, value) = match col {
                    Some(i) => (name_of(i), fields.get(i).cloned().unwrap_or_default()),
                    None => ("(row)".to_owned(), fields.join(",")),
                };
                fail(RowError::new(line, field, &value, reason));
            }
        }
    }
    if !errors.is_empty() {
        return Err(IngestError::Rows {
            file: file.to_owned(),
            errors,
            more,
        });
    }
    Ok(ListFile {
        file: file.to_owned(),
        list,
        delta,
        rows,
    })
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
            if let Some(m) = get(cols.msisdn) {
                if m.len() > 15 || !m.bytes().all(|b| b.is_ascii_digit()) {
                    return Err((cols.msisdn, "msisdn must be 1 to 15 digits".into()));
                }
            }
            ListKey::Pair(imei, imsi)
        }
        _ => ListKey::Imei(imei_key(list.key_column(), &raw).map_err(at_key)?),
    };
    let reporting_date = match get(cols.reporting_date) {
        None => None,
        Some(d) => match Day::parse_yyyymmdd(d.as_bytes()) {
            Some(day) if day.ymd().0 >= 2000 => Some(day),
            _ => {
                return Err((
                    cols.reporting_date,
                    "reporting_date must be empty or a date yyyymmdd from 2000 on".into(),
                ))
            }
        },
    };
    let status = get(cols.status).map(|s| s.to_ascii_lowercase());
    let active = match list {
        DirbsList::Stolen => status.as_deref().is_none_or(|s| s == "blacklist"),
        DirbsList::Registration => status.as_deref().is_none_or(|s| s == "whitelist"),
        _ => true,
    };
    let device_id = get(cols.device_id);
    if let Some(d) = &device_id {
        if !d.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err((
                cols.device_id,
                "device_id must be letters and digits".into(),
            ));
        }
    }
    Ok(ListRow {
        line,
        raw,
        key,
        change,
        active,
        reporting_date,
        device_id,
    })
}

/// A subject in the registry's order (IMEI body, then IMSI), so plans come out sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ordered(Subject);

impl Ordered {
    fn key(&self) -> (u64, u64) {
        match self.0 {
            Subject::Imei(i) => (i.body(), 0),
            Subject::Pair(i, s) => (i.body(), s.key()),
            Subject::Tac(t) => (u64::from(t.get()), 0),
        }
    }
}

impl PartialOrd for Ordered {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ordered {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// An entry an organisation holds on the registry list a DIRBS list maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub subject: Subject,
    pub reference: Option<String>,
    pub note: Option<String>,
}

/// What applying a file will change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// New entries, and entries whose facts change (the store counts those as updates).
    pub add: Vec<NewEntry>,
    pub remove: Vec<Subject>,
    /// Rows already on the list with the same facts.
    pub unchanged: u64,
    /// Rows whose status puts them on no list.
    pub inactive: u64,
    /// Subjects the organisation already holds on the same registry list from another source
    /// (another DIRBS list, or by hand): left as they are.
    pub held_elsewhere: u64,
    /// Rows repeating a key already seen in the file.
    pub duplicates: u64,
    /// Entries from this list before and after.
    pub before: u64,
    pub after: u64,
}

/// The changes that make one organisation's entries from this list match the file: for a full
/// file, the diff against `held`; for a delta, its change types, with DIRBS's delta checks.
/// `size` is the import size check's threshold ([`DirbsList::threshold`] by default); `None`
/// (`--force`) skips it.
pub fn plan(
    file: &ListFile,
    held: &[Held],
    country: Country,
    now: Timestamp,
    size: Option<SizeThreshold>,
) -> Result<Plan, IngestError> {
    let Some((kind, reason)) = file.list.target() else {
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
    let marker = file.list.reference();
    let mine: HashMap<Subject, Option<&str>> = held
        .iter()
        .filter(|h| h.reference.as_deref() == Some(marker))
        .map(|h| (h.subject, h.note.as_deref()))
        .collect();
    let elsewhere: HashSet<Subject> = held
        .iter()
        .filter(|h| h.reference.as_deref() != Some(marker))
        .map(|h| h.subject)
        .collect();
    let entry = |subject: Subject, note: Option<String>| -> Result<NewEntry, String> {
        NewEntry::new(
            kind,
            subject,
            EntryMeta {
                reason,
                reference: Some(marker.to_owned()),
                country,
                expires_at: None,
                note,
            },
            now,
        )
        .map_err(|e| e.to_string())
    };
    let note_of = |r: &ListRow| match file.list {
        DirbsList::Stolen => r.reporting_date.map(|d| format!("reported {d}")),
        DirbsList::Registration => r.device_id.as_ref().map(|d| format!("device {d}")),
        _ => None,
    };
    let mut p = Plan {
        before: mine.len() as u64,
        ..Plan::default()
    };
    let mut errors = Vec::new();
    let mut more = 0u64;
    let mut fail = |e: RowError| {
        if errors.len() < MAX_ROW_ERRORS {
            errors.push(e);
        } else {
            more += 1;
        }
    };
    let field = file.list.key_column();
    // The net state each subject should end in: Some(note) on the list, None off it.
    let mut wanted: BTreeMap<Ordered, (Option<Option<String>>, u64)> = BTreeMap::new();
    if !file.delta {
        for r in &file.rows {
            let Some(s) = r.key.subject() else { continue };
            if !r.active {
                p.inactive += 1;
                continue;
            }
            if wanted.contains_key(&Ordered(s)) {
                p.duplicates += 1;
                continue;
            }
            wanted.insert(Ordered(s), (Some(note_of(r)), r.line));
        }
        for s in mine.keys() {
            wanted.entry(Ordered(*s)).or_insert((None, 0));
        }
    } else {
        let mut seen: HashMap<Subject, (ChangeType, u64)> = HashMap::new();
        for r in &file.rows {
            let Some(s) = r.key.subject() else { continue };
            let change = r.change.unwrap_or(ChangeType::Add);
            if let Some((c, first)) = seen.get(&s) {
                if *c != change {
                    fail(RowError::new(
                        r.line,
                        field,
                        &r.raw,
                        format!(
                            "changed twice in one delta: {} on line {first}, {} here",
                            c.as_str(),
                            change.as_str()
                        ),
                    ));
                } else {
                    p.duplicates += 1;
                }
                continue;
            }
            seen.insert(s, (change, r.line));
            let has_status = matches!(file.list, DirbsList::Stolen | DirbsList::Registration);
            match change {
                ChangeType::Add if !r.active => p.inactive += 1,
                ChangeType::Add if mine.contains_key(&s) => fail(RowError::new(
                    r.line,
                    field,
                    &r.raw,
                    format!(
                        "add: already on the {} list (was this delta imported before?)",
                        file.list
                    ),
                )),
                ChangeType::Add | ChangeType::Update if r.active => {
                    wanted.insert(Ordered(s), (Some(note_of(r)), r.line));
                }
                ChangeType::Update => {
                    p.inactive += 1;
                    if mine.contains_key(&s) {
                        wanted.insert(Ordered(s), (None, r.line));
                    }
                }
                ChangeType::Remove if mine.contains_key(&s) => {
                    wanted.insert(Ordered(s), (None, r.line));
                }
                ChangeType::Remove if has_status => p.inactive += 1,
                ChangeType::Remove | ChangeType::Add => fail(RowError::new(
                    r.line,
                    field,
                    &r.raw,
                    format!(
                        "remove: not on the {} list (was this delta imported before?)",
                        file.list
                    ),
                )),
            }
        }
    }
    let mut after = mine.len() as i64;
    for (Ordered(s), (want, line)) in wanted {
        match (want, mine.get(&s)) {
            (Some(note), Some(old)) => {
                if *old == note.as_deref() {
                    p.unchanged += 1;
                } else {
                    match entry(s, note) {
                        Ok(e) => p.add.push(e),
                        Err(reason) => fail(RowError::new(line, field, "", reason)),
                    }
                }
            }
            (Some(_), None) if elsewhere.contains(&s) => p.held_elsewhere += 1,
            (Some(note), None) => match entry(s, note) {
                Ok(e) => {
                    p.add.push(e);
                    after += 1;
                }
                Err(reason) => fail(RowError::new(line, field, "", reason)),
            },
            (None, Some(_)) => {
                p.remove.push(s);
                after -= 1;
            }
            (None, None) => {}
        }
    }
    if !errors.is_empty() {
        return Err(IngestError::Rows {
            file: file.file.clone(),
            errors,
            more,
        });
    }
    p.after = after.max(0) as u64;
    if let Some(t) = size {
        check_size(&file.file, file.list, p.before, p.after, t)?;
    }
    Ok(p)
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
    let mut set: BTreeMap<String, Option<String>> = current
        .iter()
        .map(|g| (g.hash.clone(), g.imei.clone()))
        .collect();
    let before = set.len() as u64;
    let mut gp = GoldenPlan {
        before,
        ..GoldenPlan::default()
    };
    let mut errors = Vec::new();
    let mut more = 0u64;
    let mut fail = |e: RowError| {
        if errors.len() < MAX_ROW_ERRORS {
            errors.push(e);
        } else {
            more += 1;
        }
    };
    if file.delta {
        let mut seen: HashMap<String, (ChangeType, u64)> = HashMap::new();
        for r in &file.rows {
            let ListKey::Golden(g) = &r.key else { continue };
            let change = r.change.unwrap_or(ChangeType::Add);
            if let Some((c, first)) = seen.get(&g.hash) {
                if *c != change {
                    fail(RowError::new(
                        r.line,
                        "golden_imei",
                        &r.raw,
                        format!(
                            "changed twice in one delta: {} on line {first}, {} here",
                            c.as_str(),
                            change.as_str()
                        ),
                    ));
                }
                continue;
            }
            seen.insert(g.hash.clone(), (change, r.line));
            let present = set.contains_key(&g.hash);
            match change {
                ChangeType::Add if present => fail(RowError::new(
                    r.line,
                    "golden_imei",
                    &r.raw,
                    "add: already on the golden list (was this delta imported before?)",
                )),
                ChangeType::Add | ChangeType::Update => {
                    set.insert(g.hash.clone(), g.imei.clone());
                }
                ChangeType::Remove if present => {
                    set.remove(&g.hash);
                }
                ChangeType::Remove => fail(RowError::new(
                    r.line,
                    "golden_imei",
                    &r.raw,
                    "remove: not on the golden list (was this delta imported before?)",
                )),
            }
        }
    } else {
        set.clear();
        for r in &file.rows {
            if let ListKey::Golden(g) = &r.key {
                let slot = set.entry(g.hash.clone()).or_insert(None);
                if slot.is_none() {
                    slot.clone_from(&g.imei);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(IngestError::Rows {
            file: file.file.clone(),
            errors,
            more,
        });
    }
    let old: HashSet<&str> = current.iter().map(|g| g.hash.as_str()).collect();
    gp.added = set.keys().filter(|h| !old.contains(h.as_str())).count() as u64;
    gp.removed = old.iter().filter(|h| !set.contains_key(**h)).count() as u64;
    gp.after = set.len() as u64;
    if let Some(t) = size {
        check_size(&file.file, DirbsList::Golden, gp.before, gp.after, t)?;
    }
    Ok((
        set.into_iter()
            .map(|(hash, imei)| GoldenImei { hash, imei })
            .collect(),
        gp,
    ))
}

/// What a golden-list import will change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoldenPlan {
    pub before: u64,
    pub after: u64,
    pub added: u64,
    pub removed: u64,
}
