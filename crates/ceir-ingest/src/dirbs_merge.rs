//! A DIRBS list file merged with the list as kept, one subject at a time, so that a list of any
//! size is imported in bounded memory.
//!
//! The file is read row by row and sorted on disk ([`sort_list`]: sorted runs of
//! [`SEGMENT_ROWS`] rows in anonymous temporary files, merged as they are read back) into the order the store keeps rows in:
//! subject (IMEI body, or TAC; then IMSI for a pairing), then a pairing's MSISDN. The importer
//! walks that order beside the kept rows and the organisation's registry entries, read in the same
//! order in pages, and hands each subject to a [`Merger`], which decides what DIRBS would: the
//! row's next values, the delta checks, and the registry entry that follows. [`plan`] of a file
//! in memory is the same merge.
//!
//! [`plan`]: crate::dirbs_lists::plan

use crate::dirbs_lists::{
    ChangeType, DirbsList, Held, KeptRow, ListKey, ListRow, Plan, SizeThreshold,
};
use crate::error::{IngestError, RowError, RowErrors};
use ceir_domain::ids::{Imei, Imsi, PairingMsisdn, Tac};
use ceir_domain::lists::{Country, EntryMeta, GoldenImei, ListKind, NewEntry, Reason, Subject};
use ceir_domain::Timestamp;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::Path;

/// Rows sorted in memory before a run is written to disk: a few hundred bytes each.
pub const SEGMENT_ROWS: usize = 200_000;

/// A subject's place in the store's order.
pub fn subject_order(s: Subject) -> (u64, u64) {
    match s {
        Subject::Imei(i) => (i.body(), 0),
        Subject::Pair(i, imsi) => (i.body(), imsi.key()),
        Subject::Tac(t) => (u64::from(t.get()), 0),
    }
}

/// A key's place: its subject's, then a pairing's MSISDN as text (none first).
fn key_order(k: &ListKey) -> ((u64, u64), &[u8]) {
    match k {
        ListKey::Imei(i) => ((i.body(), 0), &[]),
        ListKey::Pair(i, s, m) => (
            (i.body(), s.key()),
            m.as_ref().map_or(&[], |m| m.as_str().as_bytes()),
        ),
        ListKey::Tac(t) => ((u64::from(t.get()), 0), &[]),
        ListKey::Golden(g) => ((0, 0), g.hash.as_bytes()),
    }
}

/// Orders keys as the store does.
pub fn cmp_keys(a: &ListKey, b: &ListKey) -> Ordering {
    key_order(a).cmp(&key_order(b))
}

/// A row on its way through the sort.
struct Sorted(ListRow);

fn put_str<W: Write>(w: &mut W, s: &str) -> io::Result<()> {
    let len = u32::try_from(s.len()).map_err(|_| invalid("a field longer than 4 GiB"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn get_u64<R: Read>(r: &mut R) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn get_u8<R: Read>(r: &mut R) -> io::Result<u8> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    Ok(b[0])
}

fn get_str<R: Read>(r: &mut R) -> io::Result<String> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    let mut v = vec![0u8; u32::from_le_bytes(b) as usize];
    r.read_exact(&mut v)?;
    String::from_utf8(v).map_err(|_| invalid("a sort run holds text that is not UTF-8"))
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl Sorted {
    fn encode<W: Write>(&self, w: &mut W) -> io::Result<()> {
        let r = &self.0;
        w.write_all(&r.line.to_le_bytes())?;
        put_str(w, &r.raw)?;
        match &r.key {
            ListKey::Imei(i) => {
                w.write_all(&[0])?;
                w.write_all(&i.body().to_le_bytes())?;
            }
            ListKey::Pair(i, s, m) => {
                w.write_all(&[1])?;
                w.write_all(&i.body().to_le_bytes())?;
                w.write_all(&s.key().to_le_bytes())?;
                w.write_all(&[u8::from(m.is_some())])?;
                put_str(w, m.as_ref().map_or("", |m| m.as_str()))?;
            }
            ListKey::Tac(t) => {
                w.write_all(&[2])?;
                w.write_all(&u64::from(t.get()).to_le_bytes())?;
            }
            ListKey::Golden(g) => {
                w.write_all(&[3])?;
                put_str(w, &g.hash)?;
                w.write_all(&[u8::from(g.imei.is_some())])?;
                put_str(w, g.imei.as_deref().unwrap_or(""))?;
            }
        }
        let change = match r.change {
            None => 0,
            Some(ChangeType::Add) => 1,
            Some(ChangeType::Remove) => 2,
            Some(ChangeType::Update) => 3,
        };
        w.write_all(&[change, u8::from(r.active)])?;
        w.write_all(&(r.extra.len() as u64).to_le_bytes())?;
        for e in &r.extra {
            put_str(w, e)?;
        }
        Ok(())
    }

    fn decode<R: Read>(r: &mut R) -> io::Result<Sorted> {
        let bad = |e: ceir_domain::ids::IdError| invalid(&e.to_string());
        let line = get_u64(r)?;
        let raw = get_str(r)?;
        let key = match get_u8(r)? {
            0 => ListKey::Imei(Imei::from_body(get_u64(r)?).map_err(bad)?),
            1 => {
                let imei = Imei::from_body(get_u64(r)?).map_err(bad)?;
                let imsi = Imsi::from_key(get_u64(r)?).map_err(bad)?;
                let some = get_u8(r)? == 1;
                let m = get_str(r)?;
                let m = if some {
                    Some(PairingMsisdn::parse(&m).map_err(bad)?)
                } else {
                    None
                };
                ListKey::Pair(imei, imsi, m)
            }
            2 => {
                let t = u32::try_from(get_u64(r)?).map_err(|_| invalid("a TAC out of range"))?;
                ListKey::Tac(Tac::from_u32(t).map_err(bad)?)
            }
            3 => {
                let hash = get_str(r)?;
                let some = get_u8(r)? == 1;
                let imei = get_str(r)?;
                ListKey::Golden(GoldenImei {
                    hash,
                    imei: some.then_some(imei),
                })
            }
            _ => return Err(invalid("a sort run holds an unknown key kind")),
        };
        let change = match get_u8(r)? {
            0 => None,
            1 => Some(ChangeType::Add),
            2 => Some(ChangeType::Remove),
            3 => Some(ChangeType::Update),
            _ => return Err(invalid("a sort run holds an unknown change type")),
        };
        let active = get_u8(r)? == 1;
        let n = get_u64(r)?;
        let mut extra = Vec::with_capacity(n.min(64) as usize);
        for _ in 0..n {
            extra.push(get_str(r)?);
        }
        Ok(Sorted(ListRow {
            line,
            raw,
            key,
            change,
            extra,
            active,
        }))
    }
}

/// A list file's rows in the store's order, each key's rows in line order.
pub struct SortedList {
    /// The file's name in errors.
    pub file: String,
    /// Rows read (repeats included).
    pub rows: u64,
    source: Source,
    peeked: Option<ListRow>,
}

/// Where sorted rows come from: memory, or sorted runs on disk merged as they are read.
enum Source {
    Memory(std::vec::IntoIter<ListRow>),
    Runs(Runs),
}

/// Sorted runs in anonymous temporary files (gone when closed, even after a kill), each with
/// its count of rows, and the head row of each run not yet handed out.
struct Runs {
    files: Vec<(BufReader<std::fs::File>, u64)>,
    heads: BinaryHeap<Reverse<Head>>,
}

/// A run's next row, ordered by key and then line.
struct Head(ListRow, usize);

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_rows(&self.0, &other.0)
    }
}

fn cmp_rows(a: &ListRow, b: &ListRow) -> Ordering {
    cmp_keys(&a.key, &b.key).then(a.line.cmp(&b.line))
}

impl Runs {
    /// Sorts `rows` and writes them as one more run.
    fn spill(&mut self, tmp: Option<&Path>, rows: &mut Vec<ListRow>) -> io::Result<()> {
        rows.sort_unstable_by(cmp_rows);
        let file = match tmp {
            Some(dir) => tempfile::tempfile_in(dir)?,
            None => tempfile::tempfile()?,
        };
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let n = rows.len() as u64;
        for r in rows.drain(..) {
            Sorted(r).encode(&mut w)?;
        }
        let mut file = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        file.rewind()?;
        self.files
            .push((BufReader::with_capacity(1 << 16, file), n));
        Ok(())
    }

    /// Reads the next row of run `i` into the heads, if it has one.
    fn advance(&mut self, i: usize) -> io::Result<()> {
        if let Some((reader, left)) = self.files.get_mut(i) {
            if *left > 0 {
                *left -= 1;
                let row = Sorted::decode(reader)?.0;
                self.heads.push(Reverse(Head(row, i)));
            }
        }
        Ok(())
    }

    fn next(&mut self) -> io::Result<Option<ListRow>> {
        let Some(Reverse(Head(row, i))) = self.heads.pop() else {
            return Ok(None);
        };
        self.advance(i)?;
        Ok(Some(row))
    }
}

impl std::fmt::Debug for SortedList {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SortedList")
            .field("file", &self.file)
            .field("rows", &self.rows)
            .finish()
    }
}

/// Reads and checks a list file (see [`crate::dirbs_lists::for_each_row`]) and sorts its rows,
/// on disk under `tmp` (the system's temporary directory if `None`) in runs of `segment_rows`
/// ([`SEGMENT_ROWS`] but in tests) once they outgrow one. A bad row refuses the file here,
/// before anything is compared or applied.
pub fn sort_list(
    path: &Path,
    list: DirbsList,
    delta: bool,
    tmp: Option<&Path>,
    segment_rows: usize,
) -> Result<SortedList, IngestError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| IngestError::Io {
        file: name.clone(),
        source,
    })?;
    sort_list_from(file, &name, list, delta, tmp, segment_rows)
}

/// [`sort_list`] of any byte stream; `name` is used in errors.
pub fn sort_list_from(
    file: impl Read,
    name: &str,
    list: DirbsList,
    delta: bool,
    tmp: Option<&Path>,
    segment_rows: usize,
) -> Result<SortedList, IngestError> {
    let io_err = |source| IngestError::Io {
        file: name.to_owned(),
        source,
    };
    let segment_rows = segment_rows.max(1);
    let mut buffer: Vec<ListRow> = Vec::new();
    let mut runs = Runs {
        files: Vec::new(),
        heads: BinaryHeap::new(),
    };
    let mut rows = 0u64;
    let file_name = crate::dirbs_lists::for_each_row(file, name, list, delta, &mut |r| {
        rows += 1;
        buffer.push(r);
        if buffer.len() >= segment_rows {
            runs.spill(tmp, &mut buffer)?;
        }
        Ok(())
    })?;
    let source = if runs.files.is_empty() {
        buffer.sort_unstable_by(cmp_rows);
        Source::Memory(buffer.into_iter())
    } else {
        let spilled = (|| {
            if !buffer.is_empty() {
                runs.spill(tmp, &mut buffer)?;
            }
            for i in 0..runs.files.len() {
                runs.advance(i)?;
            }
            Ok(())
        })();
        spilled.map_err(io_err)?;
        Source::Runs(runs)
    };
    Ok(SortedList {
        file: file_name,
        rows,
        source,
        peeked: None,
    })
}

impl SortedList {
    /// Rows already in memory, for [`crate::dirbs_lists::plan`].
    pub(crate) fn from_rows(file: &str, mut rows: Vec<ListRow>) -> SortedList {
        rows.sort_by(cmp_rows);
        SortedList {
            file: file.to_owned(),
            rows: rows.len() as u64,
            source: Source::Memory(rows.into_iter()),
            peeked: None,
        }
    }

    fn fill(&mut self) -> Result<(), IngestError> {
        if self.peeked.is_none() {
            self.peeked = match &mut self.source {
                Source::Memory(rows) => rows.next(),
                Source::Runs(runs) => runs.next().map_err(|source| IngestError::Io {
                    file: self.file.clone(),
                    source,
                })?,
            };
        }
        Ok(())
    }

    /// The next subject's place, if any rows are left.
    pub fn peek(&mut self) -> Result<Option<(u64, u64)>, IngestError> {
        self.fill()?;
        Ok(self.peeked.as_ref().map(|r| key_order(&r.key).0))
    }

    /// The rows of the next key (for the golden list, of one hash), if any are left.
    pub fn next_key(&mut self) -> Result<Vec<ListRow>, IngestError> {
        let mut out: Vec<ListRow> = Vec::new();
        self.fill()?;
        while let Some(r) = self.peeked.take() {
            if out
                .first()
                .is_some_and(|f| cmp_keys(&f.key, &r.key) != Ordering::Equal)
            {
                self.peeked = Some(r);
                break;
            }
            out.push(r);
            self.fill()?;
        }
        Ok(out)
    }

    /// The rows of the next subject, if any are left.
    pub fn next_subject(&mut self) -> Result<Vec<ListRow>, IngestError> {
        let mut out = Vec::new();
        self.fill()?;
        let Some(at) = self.peeked.as_ref().map(|r| key_order(&r.key).0) else {
            return Ok(out);
        };
        while let Some(r) = self.peeked.take() {
            if key_order(&r.key).0 != at {
                self.peeked = Some(r);
                break;
            }
            out.push(r);
            self.fill()?;
        }
        Ok(out)
    }
}

/// Decides, subject by subject, what one organisation's rows of a list and its registry entries
/// become: DIRBS's semantics of full and delta files (see [`crate::dirbs_lists::plan`]).
/// Changes gather in [`Merger::plan`] until the importer takes them ([`Merger::take`]).
#[derive(Debug)]
pub struct Merger {
    list: DirbsList,
    delta: bool,
    kind: ListKind,
    reason: Reason,
    country: Country,
    now: Timestamp,
    /// The changes not yet taken, and the counts so far.
    pub plan: Plan,
    /// Rows after minus rows before, over the subjects seen.
    net: i64,
    errors: RowErrors,
}

impl Merger {
    /// A merger for `list` (not the golden list, which has no registry entries).
    pub fn new(list: DirbsList, delta: bool, country: Country, now: Timestamp) -> Option<Merger> {
        let (kind, reason) = list.target()?;
        Some(Merger {
            list,
            delta,
            kind,
            reason,
            country,
            now,
            plan: Plan::default(),
            net: 0,
            errors: RowErrors::default(),
        })
    }

    /// Whether a row was refused: the import will fail, so nothing more need be written.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Changes waiting to be written.
    pub fn pending(&self) -> usize {
        let p = &self.plan;
        p.add.len() + p.remove.len() + p.upsert.len() + p.delete.len()
    }

    /// Takes the changes decided so far, leaving the counts.
    pub fn take(&mut self) -> Plan {
        let p = &mut self.plan;
        Plan {
            add: std::mem::take(&mut p.add),
            remove: std::mem::take(&mut p.remove),
            upsert: std::mem::take(&mut p.upsert),
            delete: std::mem::take(&mut p.delete),
            ..Plan::default()
        }
    }

    /// One subject: its rows in the file (sorted by key, then line), its kept rows (any order)
    /// and the organisation's entry on the registry list, if any.
    pub fn subject(
        &mut self,
        subject: Subject,
        file: &[ListRow],
        mut kept: Vec<KeptRow>,
        held: Option<&Held>,
    ) {
        kept.sort_by(|a, b| cmp_keys(&a.key, &b.key));
        let mut wanted: Option<Option<String>> = None;
        let (mut f, mut k) = (0usize, 0usize);
        while f < file.len() || k < kept.len() {
            let fk = file.get(f).map(|r| &r.key);
            let kk = kept.get(k).map(|r| &r.key);
            let ord = match (fk, kk) {
                (Some(a), Some(b)) => cmp_keys(a, b),
                (Some(_), None) => Ordering::Less,
                _ => Ordering::Greater,
            };
            let rows_end = if ord == Ordering::Greater {
                f
            } else {
                let at = &file[f].key;
                f + file[f..]
                    .iter()
                    .take_while(|r| cmp_keys(&r.key, at) == Ordering::Equal)
                    .count()
            };
            let old = (ord != Ordering::Less).then(|| &kept[k]);
            let key = match old {
                Some(o) => o.key.clone(),
                None => file[f].key.clone(),
            };
            let next = self.key(&file[f..rows_end], old.map(|o| o.extra.as_slice()));
            self.settle(key, old.map(|o| &o.extra), next, &mut wanted);
            f = rows_end;
            if old.is_some() {
                k += 1;
            }
        }
        self.registry(subject, wanted, held);
    }

    /// One key's rows of the file (in line order) against its kept values: its values after.
    fn key(&mut self, rows: &[ListRow], kept: Option<&[String]>) -> Option<Vec<String>> {
        let Some(first) = rows.first() else {
            // Not in the file: a full file drops it, a delta leaves it.
            return if self.delta {
                kept.map(<[String]>::to_vec)
            } else {
                None
            };
        };
        let field = self.list.key_column();
        for r in &rows[1..] {
            if r.change != first.change {
                let name = |c: Option<ChangeType>| c.unwrap_or(ChangeType::Add).as_str();
                self.errors.push(RowError::new(
                    r.line,
                    field,
                    &r.raw,
                    format!(
                        "changed twice in one delta: {} on line {}, {} here",
                        name(first.change),
                        first.line,
                        name(r.change)
                    ),
                ));
            } else if r.extra != first.extra {
                for ((name, was), now) in self
                    .list
                    .extra_columns()
                    .iter()
                    .zip(&first.extra)
                    .zip(&r.extra)
                {
                    if was != now {
                        self.errors.push(RowError::new(
                            r.line,
                            *name,
                            now,
                            format!(
                                "conflicts with line {}, where {} {:?} has {name} {was:?}: one {} may \
                                 not come with different values",
                                first.line, field, first.raw, field
                            ),
                        ));
                    }
                }
            } else {
                self.plan.duplicates += 1;
            }
        }
        if !self.delta {
            self.plan.inactive += u64::from(!first.active);
            return Some(first.extra.clone());
        }
        let change = first.change.unwrap_or(ChangeType::Add);
        let refuse = |why: String| {
            RowError::new(
                first.line,
                field,
                &first.raw,
                format!("{}: {why}", change.as_str()),
            )
        };
        match (change, kept) {
            (ChangeType::Add, Some(k)) => {
                self.errors.push(refuse(format!(
                    "already on the {} list (was this delta imported before?)",
                    self.list
                )));
                Some(k.to_vec())
            }
            (ChangeType::Remove | ChangeType::Update, None) => {
                self.errors.push(refuse(format!(
                    "not on the {} list: cannot {} records not in the list (was this delta \
                     imported before?)",
                    self.list,
                    change.as_str()
                )));
                None
            }
            (ChangeType::Add | ChangeType::Update, k) => {
                self.plan.inactive += u64::from(!first.active);
                self.plan.unchanged += u64::from(k == Some(first.extra.as_slice()));
                Some(first.extra.clone())
            }
            (ChangeType::Remove, Some(_)) => None,
        }
    }

    /// A key's kept row follows its next values; the subject is listed by its first active row.
    fn settle(
        &mut self,
        key: ListKey,
        kept: Option<&Vec<String>>,
        next: Option<Vec<String>>,
        wanted: &mut Option<Option<String>>,
    ) {
        self.net += i64::from(next.is_some()) - i64::from(kept.is_some());
        match (kept, next) {
            (Some(k), Some(n)) if *k == n => {
                // A delta counts its own unchanged rows (`key`), not the rows it leaves.
                self.plan.unchanged += u64::from(!self.delta);
                if wanted.is_none() && self.list.lists(&n) {
                    *wanted = Some(self.list.note(&n));
                }
            }
            (_, Some(n)) => {
                if wanted.is_none() && self.list.lists(&n) {
                    *wanted = Some(self.list.note(&n));
                }
                self.plan.upsert.push(KeptRow { key, extra: n });
            }
            (Some(_), None) => self.plan.delete.push(key),
            (None, None) => {}
        }
    }

    /// The registry: a subject is listed while a row that lists it is kept (a pairing's IMEI and
    /// IMSI while any of its MSISDNs is); the organisation's entries from elsewhere are left.
    fn registry(&mut self, subject: Subject, wanted: Option<Option<String>>, held: Option<&Held>) {
        let marker = self.list.reference();
        let mine = held.filter(|h| h.reference.as_deref() == Some(marker));
        let elsewhere = held.is_some() && mine.is_none();
        match (wanted, mine) {
            (Some(note), Some(h)) if h.note == note => {}
            (Some(_), None) if elsewhere => self.plan.held_elsewhere += 1,
            (Some(note), _) => {
                let meta = EntryMeta {
                    reason: self.reason,
                    reference: Some(marker.to_owned()),
                    country: self.country,
                    expires_at: None,
                    note,
                };
                match NewEntry::new(self.kind, subject, meta, self.now) {
                    Ok(e) => self.plan.add.push(e),
                    Err(e) => self.errors.push(RowError::new(
                        0,
                        self.list.key_column(),
                        &format!("{subject:?}"),
                        e.to_string(),
                    )),
                }
            }
            (None, Some(_)) => self.plan.remove.push(subject),
            (None, None) => {}
        }
    }

    /// The end of the merge: the refusal if any row was refused or the list would shrink past
    /// `size` (`before` rows kept when the import began), else the counts.
    pub fn finish(
        mut self,
        file: &str,
        before: u64,
        size: Option<SizeThreshold>,
    ) -> Result<Plan, IngestError> {
        self.plan.before = before;
        self.plan.after = u64::try_from(before as i64 + self.net).unwrap_or(0);
        let (list, p) = (self.list, self.plan);
        self.errors.check(file)?;
        if let Some(t) = size {
            crate::dirbs_lists::check_size(file, list, p.before, p.after, t)?;
        }
        Ok(p)
    }
}

/// Decides, hash by hash, what the golden list becomes (see
/// [`crate::dirbs_lists::plan_golden`]): a full file replaces it, a delta adds, updates and
/// removes with DIRBS's checks. Changes gather until the importer takes them.
#[derive(Debug, Default)]
pub struct GoldenMerger {
    delta: bool,
    /// Hashes new or with a new IMEI in clear, not yet taken.
    pub upsert: Vec<GoldenImei>,
    /// Hashes to remove, not yet taken.
    pub delete: Vec<String>,
    added: u64,
    removed: u64,
    errors: RowErrors,
}

impl GoldenMerger {
    pub fn new(delta: bool) -> GoldenMerger {
        GoldenMerger {
            delta,
            ..GoldenMerger::default()
        }
    }

    /// Whether a row was refused.
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Changes waiting to be written.
    pub fn pending(&self) -> usize {
        self.upsert.len() + self.delete.len()
    }

    /// Whether anything was added or removed so far.
    pub fn changed(&self) -> bool {
        self.added + self.removed > 0
    }

    /// One hash: its rows in the file (in line order; none if the file does not name it) and its
    /// stored entry. Returns what the list holds for it after the file.
    pub fn hash(&mut self, rows: &[ListRow], stored: Option<&GoldenImei>) -> Option<GoldenImei> {
        let golden = |r: &ListRow| match &r.key {
            ListKey::Golden(g) => Some(g.clone()),
            _ => None,
        };
        let next = match rows.first() {
            None if self.delta => stored.cloned(),
            None => None,
            // A full file: the hash with its IMEI in clear if any row gives it.
            Some(first) if !self.delta => {
                let with_imei = rows.iter().filter_map(golden).find(|g| g.imei.is_some());
                with_imei.or_else(|| golden(first))
            }
            Some(first) => {
                let change = first.change.unwrap_or(ChangeType::Add);
                for r in &rows[1..] {
                    let c = r.change.unwrap_or(ChangeType::Add);
                    if c != change {
                        self.errors.push(RowError::new(
                            r.line,
                            "golden_imei",
                            &r.raw,
                            format!(
                                "changed twice in one delta: {} on line {}, {} here",
                                change.as_str(),
                                first.line,
                                c.as_str()
                            ),
                        ));
                    }
                }
                let refuse = |why: &str| RowError::new(first.line, "golden_imei", &first.raw, why);
                match (change, stored) {
                    (ChangeType::Add, Some(s)) => {
                        self.errors.push(refuse(
                            "add: already on the golden list (was this delta imported before?)",
                        ));
                        Some(s.clone())
                    }
                    (ChangeType::Add | ChangeType::Update, _) => golden(first),
                    (ChangeType::Remove, Some(_)) => None,
                    (ChangeType::Remove, None) => {
                        self.errors.push(refuse(
                            "remove: not on the golden list (was this delta imported before?)",
                        ));
                        None
                    }
                }
            }
        };
        match (stored, &next) {
            (None, Some(n)) => {
                self.added += 1;
                self.upsert.push(n.clone());
            }
            (Some(s), None) => {
                self.removed += 1;
                self.delete.push(s.hash.clone());
            }
            (Some(s), Some(n)) if s.imei != n.imei => self.upsert.push(n.clone()),
            _ => {}
        }
        next
    }

    /// The end of the merge: the refusal if any row was refused or the list would shrink past
    /// `size` (`before` hashes when the import began), else the counts.
    pub fn finish(
        self,
        file: &str,
        before: u64,
        size: Option<SizeThreshold>,
    ) -> Result<crate::dirbs_lists::GoldenPlan, IngestError> {
        self.errors.check(file)?;
        let after = (before + self.added).saturating_sub(self.removed);
        if let Some(t) = size {
            crate::dirbs_lists::check_size(file, DirbsList::Golden, before, after, t)?;
        }
        Ok(crate::dirbs_lists::GoldenPlan {
            before,
            after,
            added: self.added,
            removed: self.removed,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// Every row comes back once, in the store's order, whether the rows fit in one run or are
    /// spread over runs on disk: registrations (nine other columns) and pairings (several
    /// MSISDNs per subject), written out of order.
    #[test]
    fn sorting_on_disk_returns_every_row_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let body = |n: u64| 35_000_000_000_000 + n * 7_919;
        let mut reg = vec![
            "approved_imei,make,model,status,model_number,brand_name,device_type,radio_interface,device_id".to_owned(),
        ];
        let mut pairs = vec!["imei,imsi,msisdn".to_owned()];
        for n in (0..57u64).rev() {
            reg.push(format!(
                "{},Make,M{n},whitelist,X,Brand,Smartphone,2G 3G,D{n}",
                body(n)
            ));
            for m in (0..=n % 3).rev() {
                pairs.push(format!(
                    "{},4000{:011},99450{:07}",
                    body(n / 2),
                    n % 4,
                    n * 10 + m
                ));
            }
        }
        for (list, lines) in [(DirbsList::Registration, reg), (DirbsList::Pairing, pairs)] {
            let path = dir.path().join(format!("{list}.csv"));
            std::fs::write(&path, lines.join("\n")).unwrap();
            for segment in [1, 5, 1000] {
                let mut sorted = sort_list(&path, list, false, Some(dir.path()), segment).unwrap();
                assert_eq!(sorted.rows, lines.len() as u64 - 1);
                let mut all = Vec::new();
                loop {
                    let rows = sorted.next_subject().unwrap();
                    if rows.is_empty() {
                        break;
                    }
                    assert!(rows
                        .iter()
                        .all(|r| key_order(&r.key).0 == key_order(&rows[0].key).0));
                    all.extend(rows);
                }
                assert_eq!(all.len(), lines.len() - 1, "{list}, runs of {segment}");
                assert!(
                    all.windows(2).all(|w| cmp_keys(&w[0].key, &w[1].key)
                        .then(w[0].line.cmp(&w[1].line))
                        .is_lt()),
                    "{list}, runs of {segment}"
                );
                let lines_back: std::collections::BTreeSet<u64> =
                    all.iter().map(|r| r.line).collect();
                assert_eq!(lines_back.len(), all.len());
            }
        }
    }
}
