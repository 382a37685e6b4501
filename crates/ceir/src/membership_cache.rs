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
    let bytes = encode(&location, head, &memberships);
    tokio::task::spawn_blocking(move || write(&file, &bytes)).await??;
    Ok((memberships, source))
}

/// IMEI bodies with their lists, and barred TACs.
type Split = (Vec<(u64, ListFlags)>, Vec<u32>);

/// IMEI flags and barred TACs out of (list, subject, reason) rows.
fn split(rows: Vec<(ListKind, u64, ceir_domain::lists::Reason)>) -> Result<Split> {
    let mut imeis = Vec::with_capacity(rows.len());
    let mut tacs = Vec::new();
    for (list, subject, reason) in rows {
        match list {
            ListKind::BarredTac => tacs.push(u32::try_from(subject)?),
            _ => {
                if let Some(f) = ListFlags::of_entry(list, reason) {
                    imeis.push((subject, f));
                }
            }
        }
    }
    Ok((imeis, tacs))
}

/// The copy's bytes: magic, store location, feed mark, counts, IMEI bodies, their flags,
/// barred TACs (little-endian), then a CRC-32 of all that.
fn encode(location: &str, head: FeedMark, m: &Memberships) -> Vec<u8> {
    let (imeis, tacs) = m.parts();
    let mut b = Vec::with_capacity(64 + location.len() + imeis.len() * 9 + tacs.len() * 4);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&(location.len() as u64).to_le_bytes());
    b.extend_from_slice(location.as_bytes());
    b.extend_from_slice(&head.seq.to_le_bytes());
    b.extend_from_slice(&head.at.to_le_bytes());
    b.extend_from_slice(&(imeis.len() as u64).to_le_bytes());
    b.extend_from_slice(&(tacs.len() as u64).to_le_bytes());
    for (body, _) in imeis {
        b.extend_from_slice(&body.to_le_bytes());
    }
    b.extend(imeis.iter().map(|(_, f)| f.0));
    for t in tacs {
        b.extend_from_slice(&t.to_le_bytes());
    }
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// The copy, when it is whole and of this store; None otherwise (it is then rebuilt).
fn decode(bytes: &[u8], location: &str) -> Option<(FeedMark, Memberships)> {
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return None;
    }
    let mut r = Reader(body);
    if r.take(8)? != MAGIC {
        return None;
    }
    let len = usize::try_from(r.u64()?).ok()?;
    if r.take(len)? != location.as_bytes() {
        return None;
    }
    let head = FeedMark {
        seq: r.u64()?,
        at: i64::from_le_bytes(r.take(8)?.try_into().ok()?),
    };
    let n = usize::try_from(r.u64()?).ok()?;
    let n_tacs = usize::try_from(r.u64()?).ok()?;
    let bodies = r.take(n.checked_mul(8)?)?;
    let flags = r.take(n)?;
    let tacs = r.take(n_tacs.checked_mul(4)?)?;
    if !r.0.is_empty() {
        return None;
    }
    let imeis = bodies
        .chunks_exact(8)
        .zip(flags)
        .map(|(b, f)| Some((u64::from_le_bytes(b.try_into().ok()?), ListFlags(*f))))
        .collect::<Option<Vec<_>>>()?;
    let tacs = tacs
        .chunks_exact(4)
        .map(|t| Some(u32::from_le_bytes(t.try_into().ok()?)))
        .collect::<Option<Vec<_>>>()?;
    Some((head, Memberships::from_lists(imeis, tacs)))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = self.0.split_at_checked(n)?;
        self.0 = b;
        Some(a)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

fn read(file: &Path, location: &str) -> Option<(FeedMark, Memberships)> {
    let bytes = std::fs::read(file).ok()?;
    decode(&bytes, location)
}

/// Written under a temporary name and renamed: a reader sees the old copy or the new one. Not
/// synced: a copy lost or torn by a crash fails its CRC and is rebuilt.
fn write(file: &Path, bytes: &[u8]) -> Result<()> {
    let dir = file.parent().context("the cache file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = file.with_extension("bin.tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
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

    #[test]
    fn a_copy_reads_back_as_written() {
        let head = FeedMark { seq: 42, at: 7 };
        let b = encode("sqlite:/x", head, &sample());
        let (h, m) = decode(&b, "sqlite:/x").unwrap();
        assert_eq!(h, head);
        assert_eq!(m.parts(), sample().parts());
    }

    #[test]
    fn a_damaged_or_foreign_copy_is_not_used() {
        let b = encode("sqlite:/x", FeedMark { seq: 1, at: 1 }, &sample());
        assert!(decode(&b, "sqlite:/other").is_none());
        for cut in [0, 1, 8, b.len() / 2, b.len() - 1] {
            assert!(decode(&b[..cut], "sqlite:/x").is_none(), "cut at {cut}");
        }
        let mut flipped = b.clone();
        flipped[b.len() / 2] ^= 1;
        assert!(decode(&flipped, "sqlite:/x").is_none());
    }
}
