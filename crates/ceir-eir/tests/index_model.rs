//! Property test: the status index agrees with a plain `HashMap` model under random operations.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use ceir_domain::status::ListFlags;
use ceir_eir::StatusIndex;
use proptest::prelude::*;

/// A small key universe, so operations hit the same IMEIs again (updates, removals, re-adds),
/// spread over several TACs, plus the extreme bodies.
const KEYS: u64 = 3_000;

fn body(k: u64) -> u64 {
    match k {
        0 => 0,
        1 => 99_999_999_999_999,
        _ => 35_000_000_000_000 + (k % 7) * 1_000_000_000 + k * 131,
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(u64, u8),
    /// Sets a run of keys at once, so shards grow several times within one case.
    SetRun(u64, u64, u8),
    AddPair(u64, u64),
    RemovePair(u64, u64),
    Bar(u32, bool),
    Compact,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..KEYS, any::<u8>()).prop_map(|(k, f)| Op::Set(k, f)),
        4 => (0..KEYS, any::<u8>()).prop_map(|(k, f)| Op::Set(k, f & ListFlags::EXCEPTED)),
        1 => (0..KEYS, 1..400u64, any::<u8>()).prop_map(|(k, n, f)| Op::SetRun(k, n, f)),
        4 => (0..KEYS, 0..4u64).prop_map(|(k, i)| Op::AddPair(k, i)),
        3 => (0..KEYS, 0..4u64).prop_map(|(k, i)| Op::RemovePair(k, i)),
        1 => (0..6u32, any::<bool>()).prop_map(|(t, b)| Op::Bar(t, b)),
        1 => Just(Op::Compact),
    ]
}

#[derive(Default)]
struct Model {
    list: HashMap<u64, u8>,
    pairs: HashMap<u64, HashSet<u64>>,
    tacs: HashSet<u32>,
}

impl Model {
    fn flags(&self, b: u64) -> u8 {
        let list = self.list.get(&b).copied().unwrap_or(0);
        let excepted = self.pairs.get(&b).is_some_and(|s| !s.is_empty());
        list | if excepted { ListFlags::EXCEPTED } else { 0 }
    }
    fn len(&self) -> usize {
        let mut keys: HashSet<u64> = self
            .list
            .iter()
            .filter(|(_, &f)| f != 0)
            .map(|(&k, _)| k)
            .collect();
        keys.extend(
            self.pairs
                .iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(&k, _)| k),
        );
        keys.len()
    }
}

/// IMSI keys as the domain makes them: 15 digits, length in the top bits.
fn imsi(i: u64) -> u64 {
    (15 << 50) | (400_010_000_000_000 + i)
}

fn tac(t: u32) -> u32 {
    35_000_000 + t
}

fn apply(idx: &StatusIndex, m: &mut Model, op: &Op) -> Vec<u64> {
    match *op {
        Op::Set(k, f) => {
            let b = body(k);
            idx.set_list_flags(b, ListFlags(f));
            m.list.insert(b, f & !ListFlags::EXCEPTED);
            vec![b]
        }
        Op::SetRun(k, n, f) => (k..k + n)
            .map(|k| {
                let b = body(k);
                idx.set_list_flags(b, ListFlags(f));
                m.list.insert(b, f & !ListFlags::EXCEPTED);
                b
            })
            .collect(),
        Op::AddPair(k, i) => {
            let b = body(k);
            idx.add_pair(b, imsi(i));
            m.pairs.entry(b).or_default().insert(imsi(i));
            vec![b]
        }
        Op::RemovePair(k, i) => {
            let b = body(k);
            idx.remove_pair(b, imsi(i));
            if let Some(s) = m.pairs.get_mut(&b) {
                s.remove(&imsi(i));
            }
            vec![b]
        }
        Op::Bar(t, barred) => {
            idx.set_tac_barred(tac(t), barred);
            if barred {
                m.tacs.insert(tac(t));
            } else {
                m.tacs.remove(&tac(t));
            }
            vec![]
        }
        Op::Compact => {
            idx.compact();
            vec![]
        }
    }
}

fn check_key(idx: &StatusIndex, m: &Model, b: u64) -> Result<(), TestCaseError> {
    prop_assert_eq!(idx.flags(b).0, m.flags(b), "flags of {}", b);
    for i in 0..4 {
        let want = m.pairs.get(&b).is_some_and(|s| s.contains(&imsi(i)));
        prop_assert_eq!(idx.is_paired(b, imsi(i)), want, "pair {} {}", b, i);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn index_agrees_with_model(ops in prop::collection::vec(op(), 1..400), presized in any::<bool>()) {
        let idx = if presized { StatusIndex::with_capacity(1_000) } else { StatusIndex::new() };
        let mut m = Model::default();
        for op in &ops {
            for b in apply(&idx, &mut m, op) {
                check_key(&idx, &m, b)?;
            }
            prop_assert_eq!(idx.len(), m.len());
        }
        for k in 0..KEYS + 400 {
            check_key(&idx, &m, body(k))?;
        }
        // The batch path (branch-free scan over prefetched lines) agrees too.
        let bodies: Vec<u64> = (0..KEYS + 400).map(body).collect();
        let mut out = vec![ListFlags::NONE; bodies.len()];
        idx.flags_many(&bodies, &mut out);
        for (b, f) in bodies.iter().zip(&out) {
            prop_assert_eq!(f.0, m.flags(*b), "flags_many of {}", b);
        }
        for t in 0..6 {
            prop_assert_eq!(idx.is_tac_barred(tac(t)), m.tacs.contains(&tac(t)));
        }
        let pairs: usize = m.pairs.values().map(HashSet::len).sum();
        prop_assert_eq!(idx.pair_count(), pairs);
        prop_assert!(idx.memory_bytes() >= idx.len() * 8);
    }

    /// A bulk build equals applying the same entries one by one (duplicates OR together).
    #[test]
    fn build_agrees_with_model(entries in prop::collection::vec((0..KEYS, any::<u8>()), 0..3_000), expected in 0..4_000usize) {
        let idx = StatusIndex::build(entries.iter().map(|&(k, f)| (body(k), ListFlags(f))), expected);
        let mut m: HashMap<u64, u8> = HashMap::new();
        for &(k, f) in &entries {
            *m.entry(body(k)).or_default() |= f & !ListFlags::EXCEPTED;
        }
        for k in 0..KEYS {
            let b = body(k);
            prop_assert_eq!(idx.flags(b).0, m.get(&b).copied().unwrap_or(0));
        }
        prop_assert_eq!(idx.len(), m.values().filter(|&&f| f != 0).count());
    }
}
