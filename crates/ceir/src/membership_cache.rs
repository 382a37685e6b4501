//! A copy of the registry's list memberships as classification reads them, kept in
//! `DIR/cache/memberships.bin`: a run reads the copy and asks the store only for the subjects
//! changed since it (by the change feed), instead of every membership of every list.
//!
//! The copy is derived data: deleting it costs one full read. It names the store it came from
//! and the feed position it is true at (seq and that change's time), and carries a CRC-32; any
//! mismatch, truncation or corruption means a full read and a new copy.

use anyhow::{Context, Result};
use ceir_domain::classify::{ListFlags, Memberships};
use ceir_domain::lists::ListKind;
use ceir_store::{FeedMark, MembershipRead, Store};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"CEIRMBR1";

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
const MIN_PATCH: usize = 10_000;

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

/// Every list membership classification needs, as of the store's feed head; the copy on disk
/// is brought up to that head.
pub async fn load(store: &dyn Store, data: &Path) -> Result<(Memberships, Source)> {
    let file = path(data);
    let location = store.location();
    let copy = {
        let file = file.clone();
        let location = location.clone();
        tokio::task::spawn_blocking(move || read(&file, &location)).await?
    };
    let max_changes = copy
        .as_ref()
        .map_or(0, |(_, m)| (m.parts().0.len() / 8).max(MIN_PATCH));
    let since = copy.as_ref().map(|(h, _)| *h);
    let read = store.memberships_since(&LISTS, since, max_changes).await?;
    let head = read.head();
    let (memberships, source) = match (read, copy) {
        (MembershipRead::Changes { touched, rows, .. }, Some((old_head, old))) => {
            let changed = touched.len();
            if changed == 0 && old_head == head {
                return Ok((old, Source::Copy { changed }));
            }
            let (imeis, tacs) = split(rows)?;
            let mut touched_imeis = Vec::new();
            let mut touched_tacs = Vec::new();
            for (list, subject) in touched {
                match list {
                    ListKind::BarredTac => touched_tacs.push(u32::try_from(subject)?),
                    _ => touched_imeis.push(subject),
                }
            }
            let m = old.patched(&touched_imeis, imeis, &touched_tacs, tacs);
            (m, Source::Copy { changed })
        }
        (read, _) => {
            let rows = match read {
                MembershipRead::Full { rows, .. } | MembershipRead::Changes { rows, .. } => rows,
            };
            let (imeis, tacs) = split(rows)?;
            (Memberships::from_lists(imeis, tacs), Source::Store)
        }
    };
    let m = tokio::task::spawn_blocking(move || {
        write(&file, &location, head, &memberships).map(|()| memberships)
    })
    .await??;
    Ok((m, source))
}

/// IMEI bodies with their lists, and barred TACs.
type Split = (Vec<(u64, ListFlags)>, Vec<u32>);

/// IMEI flags and barred TACs out of (list, subject, reason) rows.
fn split(rows: Vec<(ListKind, u64, ceir_domain::lists::Reason)>) -> Result<Split> {
    let tacs = rows
        .iter()
        .filter(|r| r.0 == ListKind::BarredTac)
        .map(|r| u32::try_from(r.1))
        .collect::<Result<Vec<u32>, _>>()?;
    // A row and an IMEI entry have the same size and alignment, so std collects into the rows'
    // own allocation: a whole registry's worth of entries is held once, not twice.
    let imeis = rows
        .into_iter()
        .filter_map(|(list, subject, reason)| {
            ListFlags::of_entry(list, reason).map(|f| (subject, f))
        })
        .collect();
    Ok((imeis, tacs))
}

/// Bytes written or read, with their CRC-32 kept as they pass.
struct Crc<T> {
    inner: T,
    crc: crc32fast::Hasher,
}

impl<W: Write> Crc<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.crc.update(b);
        self.inner.write_all(b)
    }
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

/// The copy's bytes: magic, store location, feed mark, counts, IMEI bodies, their flags,
/// barred TACs (little-endian), then a CRC-32 of all that. Streamed: the copy is never held
/// twice in memory.
fn encode(out: impl Write, location: &str, head: FeedMark, m: &Memberships) -> std::io::Result<()> {
    let (imeis, tacs) = m.parts();
    let mut w = Crc {
        inner: out,
        crc: crc32fast::Hasher::new(),
    };
    w.put(MAGIC)?;
    w.put(&(location.len() as u64).to_le_bytes())?;
    w.put(location.as_bytes())?;
    w.put(&head.seq.to_le_bytes())?;
    w.put(&head.at.to_le_bytes())?;
    w.put(&(imeis.len() as u64).to_le_bytes())?;
    w.put(&(tacs.len() as u64).to_le_bytes())?;
    let mut buf = Vec::with_capacity(CHUNK * 8);
    for chunk in imeis.chunks(CHUNK) {
        buf.clear();
        chunk
            .iter()
            .for_each(|(body, _)| buf.extend_from_slice(&body.to_le_bytes()));
        w.put(&buf)?;
    }
    for chunk in imeis.chunks(CHUNK) {
        buf.clear();
        buf.extend(chunk.iter().map(|(_, f)| f.0));
        w.put(&buf)?;
    }
    for t in tacs {
        w.put(&t.to_le_bytes())?;
    }
    let crc = w.crc.finalize();
    w.inner.write_all(&crc.to_le_bytes())
}

/// The copy, when it is whole and of this store; None otherwise (it is then rebuilt). `len` is
/// the copy's size in bytes: counts that do not add up to it are refused before any allocation.
fn decode(input: impl Read, len: u64, location: &str) -> Option<(FeedMark, Memberships)> {
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
        .checked_mul(9)?
        .checked_add(n_tacs.checked_mul(4)?)?
        .checked_add(header + 4)?;
    if want != len {
        return None;
    }
    let n = usize::try_from(n).ok()?;
    let mut imeis: Vec<(u64, ListFlags)> = Vec::with_capacity(n);
    let mut buf = vec![0u8; CHUNK * 8];
    while imeis.len() < n {
        let take = (n - imeis.len()).min(CHUNK);
        let b = buf.get_mut(..take * 8)?;
        r.get(b)?;
        imeis.extend(b.chunks_exact(8).map(|c| {
            (
                u64::from_le_bytes(c.try_into().unwrap_or_default()),
                ListFlags(0),
            )
        }));
    }
    let mut done = 0;
    while done < n {
        let take = (n - done).min(CHUNK);
        let b = buf.get_mut(..take)?;
        r.get(b)?;
        for (e, f) in imeis.get_mut(done..done + take)?.iter_mut().zip(b.iter()) {
            e.1 = ListFlags(*f);
        }
        done += take;
    }
    let mut tacs = Vec::with_capacity(usize::try_from(n_tacs).ok()?);
    for _ in 0..n_tacs {
        let mut t = [0; 4];
        r.get(&mut t)?;
        tacs.push(u32::from_le_bytes(t));
    }
    let mut crc = [0; 4];
    r.inner.read_exact(&mut crc).ok()?;
    if r.crc.finalize() != u32::from_le_bytes(crc) {
        return None;
    }
    Some((head, Memberships::from_lists(imeis, tacs)))
}

fn read(file: &Path, location: &str) -> Option<(FeedMark, Memberships)> {
    let f = std::fs::File::open(file).ok()?;
    let len = f.metadata().ok()?.len();
    decode(std::io::BufReader::with_capacity(1 << 16, f), len, location)
}

/// Written under a temporary name and renamed: a reader sees the old copy or the new one. Not
/// synced: a copy lost or torn by a crash fails its CRC and is rebuilt.
fn write(file: &Path, location: &str, head: FeedMark, m: &Memberships) -> Result<()> {
    let dir = file.parent().context("the cache file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = file.with_extension("bin.tmp");
    let f =
        std::fs::File::create(&tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, f);
    encode(&mut out, location, head, m)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(out);
    std::fs::rename(&tmp, file).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(())
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
        let mut b = Vec::new();
        encode(&mut b, location, head, m).unwrap();
        b
    }

    /// More entries than one chunk, so that the streamed halves meet across chunk boundaries.
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
}
