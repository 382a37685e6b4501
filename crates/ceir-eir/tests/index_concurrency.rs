//! Readers running during writer updates and shard growth only ever see values that were written,
//! and never lose an IMEI once they have seen it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ceir_domain::status::ListFlags;
use ceir_eir::StatusIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// IMEIs inserted once and never changed afterwards.
const STABLE: u64 = 150_000;
/// IMEIs that flip between two list states, are removed and come back, and get pairs.
const FLIPPING: u64 = 2_000;

fn stable_body(i: u64) -> u64 {
    35_000_000_000_000 + i * 9_973
}
fn stable_flags(i: u64) -> u8 {
    [ListFlags::BLOCKED, ListFlags::TRACKED, ListFlags::PERMITTED][(i % 3) as usize]
}
fn flip_body(i: u64) -> u64 {
    86_000_000_000_000 + i * 7
}
const FLIP_A: u8 = ListFlags::BLOCKED | ListFlags::TRACKED;
const FLIP_B: u8 = ListFlags::PERMITTED;

fn allowed_flip(f: u8) -> bool {
    let list = f & !ListFlags::EXCEPTED;
    list == 0 || list == FLIP_A || list == FLIP_B
}

#[test]
fn readers_see_only_written_values_during_growth() {
    let idx = Arc::new(StatusIndex::new());
    let done = Arc::new(AtomicBool::new(false));
    let slots_before = idx.slots();

    let readers: Vec<_> = (0..3)
        .map(|r| {
            let idx = Arc::clone(&idx);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(r);
                let mut seen = vec![false; STABLE as usize];
                let mut reads = 0u64;
                let mut hits = 0u64;
                while !done.load(Ordering::Acquire) {
                    for _ in 0..1_000 {
                        let i = rng.gen_range(0..STABLE);
                        let f = idx.flags(stable_body(i)).0;
                        if f == 0 {
                            assert!(!seen[i as usize], "reader {r} lost stable IMEI {i}");
                        } else {
                            assert_eq!(f, stable_flags(i), "stable IMEI {i}");
                            seen[i as usize] = true;
                            hits += 1;
                        }
                        let j = rng.gen_range(0..FLIPPING);
                        let f = idx.flags(flip_body(j)).0;
                        assert!(allowed_flip(f), "flipping IMEI {j} read {f:#x}");
                        // Never-written IMEIs are never reported.
                        assert_eq!(idx.flags(stable_body(i) + 1).0, 0);
                        reads += 3;
                    }
                }
                (reads, hits)
            })
        })
        .collect();

    let mut rng = StdRng::seed_from_u64(99);
    let mut order: Vec<u64> = (0..STABLE).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.gen_range(0..=i));
    }
    for (n, &i) in order.iter().enumerate() {
        idx.set_list_flags(stable_body(i), ListFlags(stable_flags(i)));
        if n % 10 == 0 {
            let j = rng.gen_range(0..FLIPPING);
            let f = [0, FLIP_A, FLIP_B][rng.gen_range(0..3)];
            idx.set_list_flags(flip_body(j), ListFlags(f));
            if rng.gen_bool(0.3) {
                idx.add_pair(flip_body(j), rng.gen_range(0..3));
            } else {
                idx.remove_pair(flip_body(j), rng.gen_range(0..3));
            }
        }
        if n % 50_000 == 49_999 {
            idx.compact();
        }
    }
    done.store(true, Ordering::Release);
    let mut total = 0;
    for r in readers {
        let (reads, hits) = r.join().expect("reader panicked");
        assert!(hits > 0, "readers overlapped the writes");
        total += reads;
    }
    assert!(
        idx.slots() > slots_before * 10,
        "the index grew during the test"
    );
    assert!(total > 0);
    for i in 0..STABLE {
        assert_eq!(idx.flags(stable_body(i)).0, stable_flags(i));
    }
}

/// Readers of one IMEI that keeps changing see only states that were whole at some instant.
#[test]
fn updates_in_place_are_atomic() {
    let idx = Arc::new(StatusIndex::new());
    let b = 35_209_900_176_148;
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let idx = Arc::clone(&idx);
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                let f = idx.flags(b).0;
                assert!(f == 0 || f == FLIP_A || f == FLIP_B, "read {f:#x}");
            }
        })
    };
    for n in 0..200_000u32 {
        idx.set_list_flags(b, ListFlags([0, FLIP_A, FLIP_B][(n % 3) as usize]));
        // Neighbours inserted meanwhile force the shard holding `b` to grow now and then.
        idx.set_list_flags(b + 1 + u64::from(n), ListFlags(ListFlags::TRACKED));
    }
    done.store(true, Ordering::Release);
    reader.join().expect("reader panicked");
}
