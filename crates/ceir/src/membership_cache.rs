//! A copy of the registry's list memberships as classification reads them, kept in
//! `DIR/cache/memberships.bin`: a run reads the copy and asks the store only for the subjects
//! changed since it (by the change feed), instead of every membership of every list.
//!
//! The copy is derived data: deleting it costs one full read. It names the store it came from
//! and the feed position it is true at (seq and that change's time), and carries a CRC-32; any
//! mismatch, truncation or corruption means a full read and a new copy. It is brought up to
//! date as a stream (the old copy merged with the changes, or a whole read in subject order,
//! straight to the new file), so a list import's memory does not grow with the registry.

use anyhow::{Context, Result};
use ceir_domain::classify::{join_sorted, patch_sorted, patch_tacs, ListFlags, Memberships};
use ceir_domain::lists::ListKind;
use ceir_store::{FeedMark, Membership, MembershipRead, Store};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CEIRMBR2";

/// The lists classification reads: an IMEI's flags come from the first three, the barred TACs
/// from the last.
const LISTS: [ListKind; 4] = [
    ListKind::Blocked,
    ListKind::Permitted,
    ListKind::Tracked,
    ListKind::BarredTac,
];

/// Below this many changed subjects, and below an eighth of the copy, patching beats reading
/// everything again (a lookup per subject against a scan of the covering index).
const MIN_PATCH: u64 = 10_000;
/// The most changed subjects a patch holds in memory; beyond, the copy is read whole (as a
/// stream), whatever the registry's size.
const MAX_PATCH: u64 = 1_000_000;

pub fn path(data: &Path) -> PathBuf {
    data.join("cache").join("memberships.bin")
}

/// How the memberships were obtained, for the command's timing line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Read whole from the store (no usable copy, or too much changed).
    Store,
    /// The copy, with this many changed subjects read again.
    Copy { changed: usize },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Store => write!(f, "read whole"),
            Source::Copy { changed } => write!(f, "copy + {changed} changed"),
        }
    }
}

/// Every list membership classification needs, as of the store's feed head: the copy on disk
/// brought up to that head, then read.
pub async fn load(store: &dyn Store, data: &Path) -> Result<(Memberships, Source)> {
    let file = path(data);
    let location = store.location();
    let source = refresh(store, data).await?;
    let got = {
        let (file, location) = (file.clone(), location.clone());
        tokio::task::spawn_blocking(move || read(&file, &location)).await?
    };
    if let Some((_, m)) = got {
        return Ok((m, source));
    }
    // Damaged after it was written (by another process, or the disk): read whole once more.
    remove(&file)?;
    let source = refresh(store, data).await?;
    let got = tokio::task::spawn_blocking(move || read(&file, &location)).await?;
    let (_, m) = got.context("the memberships copy cannot be read back after it was written")?;
    Ok((m, source))
}

/// Brings the copy on disk up to the store's feed head without holding it in memory: the old
/// copy merged with the subjects changed since it, or a whole read streamed into a new copy.
pub async fn refresh(store: &dyn Store, data: &Path) -> Result<Source> {
    let file = path(data);
    let location = store.location();
    let copy = {
        let (file, location) = (file.clone(), location.clone());
        tokio::task::spawn_blocking(move || header(&file, &location)).await?
    };
    let max_changes = copy.map_or(0, |(_, n)| (n / 8).clamp(MIN_PATCH, MAX_PATCH));
    let since = copy.map(|(head, _)| head);
    let (head, touched, rows) =
        match read_or_rebuild(store, &file, &location, since, max_changes).await? {
            MembershipRead::Whole { .. } => return Ok(Source::Store),
            MembershipRead::Changes {
                head,
                touched,
                rows,
            } => (head, touched, rows),
        };
    let changed = touched.len();
    if changed == 0 && since == Some(head) {
        return Ok(Source::Copy { changed });
    }
    let patched = {
        let (file, location) = (file.clone(), location.clone());
        tokio::task::spawn_blocking(move || patch(&file, &location, head, touched, rows)).await??
    };
    if patched {
        return Ok(Source::Copy { changed });
    }
    // The old copy proved damaged on the way: read everything.
    read_or_rebuild(store, &file, &location, None, 0).await?;
    Ok(Source::Store)
}

/// Asks the store for what changed since `since`; a whole read that it gives instead goes
/// straight into a new copy as it arrives.
async fn read_or_rebuild(
    store: &dyn Store,
    file: &Path,
    location: &str,
    since: Option<FeedMark>,
    max_changes: u64,
) -> Result<MembershipRead> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<Membership>>(2);
    let writer = {
        let (tmp, location) = (tmp_path(file), location.to_owned());
        tokio::task::spawn_blocking(move || -> Result<Option<Building>> {
            let mut first = match rx.blocking_recv() {
                Some(batch) => batch.into_iter(),
                None => return Ok(None),
            };
            let mut b = Building::create(&tmp, &location)?;
            let mut tac_rows = Vec::new();
            let rows = std::iter::from_fn(|| {
                first.next().or_else(|| {
                    let batch = rx.blocking_recv()?;
                    first = batch.into_iter();
                    first.next()
                })
            });
            // Ascending by subject across lists; the barred TACs (a few) are kept aside.
            let imeis = rows.filter_map(|(list, subject, reason)| {
                if list == ListKind::BarredTac {
                    tac_rows.push(subject);
                    None
                } else {
                    ListFlags::of_entry(list, reason).map(|f| (subject, f))
                }
            });
            for e in join_sorted(imeis) {
                b.copy.push(e).with_context(|| b.failed())?;
            }
            b.tacs = tac_rows
                .into_iter()
                .map(u32::try_from)
                .collect::<Result<_, _>>()
                .context("a barred TAC out of range in the store")?;
            Ok(Some(b))
        })
    };
    let read = store
        .memberships_since(&LISTS, since, usize::try_from(max_changes)?, tx)
        .await;
    let built = writer.await?;
    // A writer's failure (disk full) is what stopped the store's read, when both failed.
    let built = built?;
    let read = read?;
    if let MembershipRead::Whole { head } = &read {
        let (file, location, head) = (file.to_owned(), location.to_owned(), *head);
        tokio::task::spawn_blocking(move || -> Result<()> {
            let b = match built {
                Some(b) => b,
                None => Building::create(&tmp_path(&file), &location)?,
            };
            b.finish(&file, &location, head)
        })
        .await??;
    } else if built.is_some() {
        anyhow::bail!("the store sent memberships and then gave changes");
    }
    Ok(read)
}

/// The old copy patched with the changes into a new copy. False when the old copy turns out
/// damaged (nothing is then replaced).
fn patch(
    file: &Path,
    location: &str,
    head: FeedMark,
    touched: Vec<(ListKind, u64)>,
    mut rows: Vec<Membership>,
) -> Result<bool> {
    let Some(mut old) = open(file, location) else {
        return Ok(false);
    };
    let mut touched_imeis = Vec::new();
    let mut touched_tacs = Vec::new();
    for (list, subject) in touched {
        match list {
            ListKind::BarredTac => touched_tacs.push(u32::try_from(subject)?),
            _ => touched_imeis.push(subject),
        }
    }
    touched_imeis.sort_unstable();
    touched_imeis.dedup();
    rows.sort_unstable_by_key(|r| r.1);
    let fresh_tacs = rows
        .iter()
        .filter(|r| r.0 == ListKind::BarredTac)
        .map(|r| u32::try_from(r.1))
        .collect::<Result<Vec<u32>, _>>()?;
    let fresh = rows.into_iter().filter_map(|(list, subject, reason)| {
        ListFlags::of_entry(list, reason).map(|f| (subject, f))
    });
    let mut b = Building::create(&tmp_path(file), location)?;
    for e in patch_sorted(&mut old, &touched_imeis, fresh) {
        b.copy.push(e).with_context(|| b.failed())?;
    }
    let Some(old_tacs) = old.finish() else {
        drop(b);
        let _ = std::fs::remove_file(tmp_path(file));
        return Ok(false);
    };
    b.tacs = patch_tacs(old_tacs, &touched_tacs, &fresh_tacs);
    b.finish(file, location, head)?;
    Ok(true)
}

fn tmp_path(file: &Path) -> PathBuf {
    file.with_extension("bin.tmp")
}

fn remove(file: &Path) -> Result<()> {
    match std::fs::remove_file(file) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", file.display()))
        }
        _ => Ok(()),
    }
}

/// A new copy being written under its temporary name.
struct Building {
    copy: CopyWriter<BufWriter<File>>,
    tmp: PathBuf,
    tacs: Vec<u32>,
}

impl Building {
    fn create(tmp: &Path, location: &str) -> Result<Building> {
        let dir = tmp.parent().context("the cache file has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let f = File::create(tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
        let copy = CopyWriter::new(BufWriter::with_capacity(1 << 16, f), location)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        Ok(Building {
            copy,
            tmp: tmp.to_owned(),
            tacs: Vec::new(),
        })
    }

    fn failed(&self) -> String {
        format!("cannot write {}", self.tmp.display())
    }

    /// Completed and renamed over `file`: a reader sees the old copy or the new one. Not synced:
    /// a copy lost or torn by a crash fails its CRC and is rebuilt.
    fn finish(mut self, file: &Path, location: &str, head: FeedMark) -> Result<()> {
        let tacs = std::mem::take(&mut self.tacs);
        let what = self.failed();
        self.copy
            .finish(location, head, &tacs)
            .and_then(|mut out| out.flush())
            .context(what)?;
        std::fs::rename(&self.tmp, file)
            .with_context(|| format!("cannot write {}", file.display()))?;
        Ok(())
    }
}

/// Bytes written or read, with their CRC-32 kept as they pass.
struct Crc<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<R: Read> Crc<R> {
    fn get(&mut self, b: &mut [u8]) -> Option<()> {
        self.inner.read_exact(b).ok()?;
        self.crc.update(b);
        Some(())
    }
    fn u64(&mut self) -> Option<u64> {
        let mut b = [0; 8];
        self.get(&mut b)?;
        Some(u64::from_le_bytes(b))
    }
}

/// Entries per read or write chunk.
const CHUNK: usize = 8192;
/// Bytes of one IMEI entry: its body, then its flags.
const ENTRY: usize = 9;

/// The header's bytes: magic, store location, feed mark, counts.
fn header_bytes(location: &str, head: FeedMark, n: u64, n_tacs: u64) -> Vec<u8> {
    let mut h = Vec::with_capacity(48 + location.len());
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&(location.len() as u64).to_le_bytes());
    h.extend_from_slice(location.as_bytes());
    h.extend_from_slice(&head.seq.to_le_bytes());
    h.extend_from_slice(&head.at.to_le_bytes());
    h.extend_from_slice(&n.to_le_bytes());
    h.extend_from_slice(&n_tacs.to_le_bytes());
    h
}

/// Writes a copy as a stream: the header (its counts filled in at the end), the IMEI entries
/// (body and flags, strictly ascending by body), the barred TACs, then a CRC-32 of all that.
/// All integers little-endian.
struct CopyWriter<W> {
    out: W,
    /// CRC of everything after the header.
    crc: crc32fast::Hasher,
    n: u64,
    last: Option<u64>,
    buf: Vec<u8>,
}

impl<W: Write + Seek> CopyWriter<W> {
    fn new(mut out: W, location: &str) -> std::io::Result<Self> {
        out.write_all(&header_bytes(location, FeedMark::default(), 0, 0))?;
        Ok(CopyWriter {
            out,
            crc: crc32fast::Hasher::new(),
            n: 0,
            last: None,
            buf: Vec::with_capacity(CHUNK * ENTRY),
        })
    }

    fn push(&mut self, (body, flags): (u64, ListFlags)) -> std::io::Result<()> {
        if self.last.is_some_and(|l| l >= body) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "memberships out of order",
            ));
        }
        self.last = Some(body);
        self.n += 1;
        self.buf.extend_from_slice(&body.to_le_bytes());
        self.buf.push(flags.0);
        if self.buf.len() >= CHUNK * ENTRY {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        self.crc.update(&self.buf);
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self, location: &str, head: FeedMark, tacs: &[u32]) -> std::io::Result<W> {
        tacs.iter()
            .for_each(|t| self.buf.extend_from_slice(&t.to_le_bytes()));
        self.flush_buf()?;
        let header = header_bytes(location, head, self.n, tacs.len() as u64);
        let mut crc = crc32fast::Hasher::new();
        crc.update(&header);
        crc.combine(&self.crc);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&header)?;
        self.out.seek(SeekFrom::End(0))?;
        self.out.write_all(&crc.finalize().to_le_bytes())?;
        Ok(self.out)
    }
}

/// Reads a copy as a stream: the IMEI entries by iterating, then [`CopyReader::finish`] for the
/// barred TACs and the CRC check. An entry out of order or a short read ends the entries and
/// makes `finish` refuse the copy.
struct CopyReader<R> {
    r: Crc<R>,
    head: FeedMark,
    n: u64,
    left: u64,
    n_tacs: u64,
    last: Option<u64>,
    buf: Vec<u8>,
    pos: usize,
    failed: bool,
}

impl<R: Read> CopyReader<R> {
    /// The copy's header, when it is of this store and its counts add up to `len` bytes (so
    /// that nothing is allocated for counts a damaged file claims).
    fn open(input: R, len: u64, location: &str) -> Option<CopyReader<R>> {
        let mut r = Crc {
            inner: input,
            crc: crc32fast::Hasher::new(),
        };
        let mut magic = [0; 8];
        r.get(&mut magic)?;
        if &magic != MAGIC {
            return None;
        }
        let loc_len = r.u64()?;
        if loc_len != location.len() as u64 {
            return None;
        }
        let mut loc = vec![0; location.len()];
        r.get(&mut loc)?;
        if loc != location.as_bytes() {
            return None;
        }
        let head = FeedMark {
            seq: r.u64()?,
            at: i64::from_le_bytes(r.u64()?.to_le_bytes()),
        };
        let n = r.u64()?;
        let n_tacs = r.u64()?;
        let header = 8 + 8 + loc_len + 8 + 8 + 8 + 8;
        let want = n
            .checked_mul(ENTRY as u64)?
            .checked_add(n_tacs.checked_mul(4)?)?
            .checked_add(header + 4)?;
        if want != len {
            return None;
        }
        Some(CopyReader {
            r,
            head,
            n,
            left: n,
            n_tacs,
            last: None,
            buf: Vec::new(),
            pos: 0,
            failed: false,
        })
    }

    fn entry(&mut self) -> Option<(u64, ListFlags)> {
        if self.pos == self.buf.len() {
            if self.left == 0 {
                return None;
            }
            let take = self.left.min(CHUNK as u64) as usize;
            self.buf.resize(take * ENTRY, 0);
            self.r.get(&mut self.buf)?;
            self.left -= take as u64;
            self.pos = 0;
        }
        let e = self.buf.get(self.pos..self.pos + ENTRY)?;
        let (body, flags) = e.split_at(8);
        let body = u64::from_le_bytes(body.try_into().ok()?);
        self.pos += ENTRY;
        if self.last.is_some_and(|l| l >= body) {
            self.failed = true;
            return None;
        }
        self.last = Some(body);
        Some((body, ListFlags(*flags.first()?)))
    }

    /// The barred TACs, once every entry was read, when the copy is whole.
    fn finish(mut self) -> Option<Vec<u32>> {
        if self.failed || self.left != 0 || self.pos != self.buf.len() {
            return None;
        }
        let mut tacs = Vec::with_capacity(usize::try_from(self.n_tacs).ok()?);
        let mut b = vec![0; usize::try_from(self.n_tacs).ok()?.checked_mul(4)?];
        self.r.get(&mut b)?;
        tacs.extend(
            b.chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default())),
        );
        let mut crc = [0; 4];
        self.r.inner.read_exact(&mut crc).ok()?;
        (self.r.crc.finalize() == u32::from_le_bytes(crc)).then_some(tacs)
    }
}

impl<R: Read> Iterator for CopyReader<R> {
    type Item = (u64, ListFlags);
    fn next(&mut self) -> Option<(u64, ListFlags)> {
        if self.failed {
            return None;
        }
        let e = self.entry();
        if e.is_none() && (self.left != 0 || self.pos != self.buf.len()) {
            self.failed = true;
        }
        e
    }
}

/// The copy whole in memory, when it is whole and of this store; None otherwise.
fn decode(input: impl Read, len: u64, location: &str) -> Option<(FeedMark, Memberships)> {
    let mut r = CopyReader::open(input, len, location)?;
    let mut imeis = Vec::with_capacity(usize::try_from(r.n).ok()?);
    imeis.extend(&mut r);
    let head = r.head;
    let tacs = r.finish()?;
    Some((head, Memberships::from_lists(imeis, tacs)))
}

fn open(file: &Path, location: &str) -> Option<CopyReader<BufReader<File>>> {
    let f = File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    CopyReader::open(BufReader::with_capacity(1 << 16, f), len, location)
}

/// The copy's feed mark and entry count, from its header alone.
fn header(file: &Path, location: &str) -> Option<(FeedMark, u64)> {
    open(file, location).map(|r| (r.head, r.n))
}

fn read(file: &Path, location: &str) -> Option<(FeedMark, Memberships)> {
    let f = File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    decode(BufReader::with_capacity(1 << 16, f), len, location)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sample() -> Memberships {
        Memberships::from_lists(
            vec![
                (35_000_000_000_001, ListFlags::STOLEN),
                (35_000_000_000_002, ListFlags::REGISTERED),
            ],
            vec![35_000_000],
        )
    }

    fn bytes(location: &str, head: FeedMark, m: &Memberships) -> Vec<u8> {
        let (imeis, tacs) = m.parts();
        let mut w = CopyWriter::new(std::io::Cursor::new(Vec::new()), location).unwrap();
        for e in imeis {
            w.push(*e).unwrap();
        }
        w.finish(location, head, tacs).unwrap().into_inner()
    }

    /// More entries than one chunk, so that the streamed entries meet across chunk boundaries.
    #[test]
    fn a_large_copy_reads_back_as_written() {
        let imeis: Vec<(u64, ListFlags)> = (0..3 * CHUNK as u64 + 17)
            .map(|i| (35_000_000_000_000 + i * 3, ListFlags(1 << (i % 4))))
            .collect();
        let m = Memberships::from_lists(imeis, (0..100).collect());
        let head = FeedMark { seq: 9, at: -3 };
        let b = bytes("postgres://h/db", head, &m);
        let (h, back) = decode(&b[..], b.len() as u64, "postgres://h/db").unwrap();
        assert_eq!(h, head);
        assert_eq!(back.parts(), m.parts());
    }

    #[test]
    fn a_copy_reads_back_as_written() {
        let head = FeedMark { seq: 42, at: 7 };
        let b = bytes("sqlite:/x", head, &sample());
        let (h, m) = decode(&b[..], b.len() as u64, "sqlite:/x").unwrap();
        assert_eq!(h, head);
        assert_eq!(m.parts(), sample().parts());
        let empty = bytes("sqlite:/x", head, &Memberships::default());
        let (_, m) = decode(&empty[..], empty.len() as u64, "sqlite:/x").unwrap();
        assert_eq!(m.parts(), Memberships::default().parts());
    }

    #[test]
    fn a_damaged_or_foreign_copy_is_not_used() {
        let b = bytes("sqlite:/x", FeedMark { seq: 1, at: 1 }, &sample());
        let n = b.len() as u64;
        assert!(decode(&b[..], n, "sqlite:/other").is_none());
        for cut in 0..b.len() {
            let part = &b[..cut];
            assert!(
                decode(part, cut as u64, "sqlite:/x").is_none(),
                "cut at {cut}"
            );
            assert!(decode(part, n, "sqlite:/x").is_none(), "cut at {cut}");
        }
        for at in 0..b.len() {
            let mut flipped = b.clone();
            flipped[at] ^= 1;
            assert!(
                decode(&flipped[..], n, "sqlite:/x").is_none(),
                "bit flipped at {at}"
            );
        }
    }

    /// Entries out of order are refused on writing, and on reading even under a good CRC.
    #[test]
    fn entries_out_of_order_are_refused() {
        let mut w = CopyWriter::new(std::io::Cursor::new(Vec::new()), "x").unwrap();
        w.push((5, ListFlags::STOLEN)).unwrap();
        assert!(w.push((5, ListFlags::BARRED)).is_err());
        assert!(w.push((4, ListFlags::BARRED)).is_err());
        let mut b = bytes("x", FeedMark::default(), &sample());
        let at = b.len() - 4 - 4 - 2 * ENTRY;
        let (first, second) = (
            b[at..at + ENTRY].to_vec(),
            b[at + ENTRY..at + 2 * ENTRY].to_vec(),
        );
        b[at..at + ENTRY].copy_from_slice(&second);
        b[at + ENTRY..at + 2 * ENTRY].copy_from_slice(&first);
        let body = b.len() - 4;
        let crc = crc32fast::hash(&b[..body]);
        b[body..].copy_from_slice(&crc.to_le_bytes());
        assert!(decode(&b[..], b.len() as u64, "x").is_none());
    }

    /// Patching the copy on disk with changed subjects gives what rebuilding it gives, and a
    /// damaged copy is left for a whole read.
    #[test]
    fn a_patched_copy_on_disk_equals_a_rebuilt_one() {
        use ceir_domain::lists::Reason;
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path());
        let old: Vec<(u64, ListFlags)> = (0..2 * CHUNK as u64)
            .map(|i| (35_000_000_000_000 + i * 2, ListFlags::REGISTERED))
            .collect();
        let m = Memberships::from_lists(old.clone(), vec![35_000_000, 35_000_001]);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, bytes("s", FeedMark { seq: 1, at: 1 }, &m)).unwrap();
        // Removed, changed, added, and a TAC swapped; rows in no order, one body on two lists.
        let touched = vec![
            (ListKind::Permitted, 35_000_000_000_000),
            (ListKind::Blocked, 35_000_000_000_004),
            (ListKind::Blocked, 35_000_000_000_005),
            (ListKind::Tracked, 35_000_000_000_005),
            (ListKind::BarredTac, 35_000_001),
            (ListKind::BarredTac, 35_000_002),
        ];
        let rows = vec![
            (ListKind::Tracked, 35_000_000_000_005, Reason::Investigation),
            (ListKind::Blocked, 35_000_000_000_004, Reason::Stolen),
            (ListKind::Blocked, 35_000_000_000_005, Reason::Counterfeit),
            (ListKind::Permitted, 35_000_000_000_004, Reason::Registered),
            (ListKind::BarredTac, 35_000_002, Reason::Counterfeit),
        ];
        let head = FeedMark { seq: 2, at: 5 };
        assert!(patch(&file, "s", head, touched, rows).unwrap());
        let mut want: Vec<(u64, ListFlags)> = old
            .into_iter()
            .filter(|e| e.0 != 35_000_000_000_000 && e.0 != 35_000_000_000_004)
            .collect();
        want.extend([
            (
                35_000_000_000_004,
                ListFlags(ListFlags::STOLEN.0 | ListFlags::REGISTERED.0),
            ),
            (
                35_000_000_000_005,
                ListFlags(ListFlags::BARRED.0 | ListFlags::MONITORING.0),
            ),
        ]);
        let want = Memberships::from_lists(want, vec![35_000_000, 35_000_002]);
        let (h, back) = read(&file, "s").unwrap();
        assert_eq!(h, head);
        assert_eq!(back.parts(), want.parts());
        // A damaged copy: not patched, not replaced, no temporary file left.
        let mut b = std::fs::read(&file).unwrap();
        let mid = b.len() / 2;
        b[mid] ^= 1;
        std::fs::write(&file, &b).unwrap();
        assert!(!patch(&file, "s", head, vec![], vec![]).unwrap());
        assert_eq!(std::fs::read(&file).unwrap(), b);
        assert!(!tmp_path(&file).exists());
    }
}
