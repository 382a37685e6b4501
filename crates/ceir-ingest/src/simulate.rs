//! A deterministic generator of realistic operator data for Azerbaijan and Uzbekistan, with the
//! GSMA-format TAC catalog its devices come from and the DIRBS-format lists that refer to them.
//!
//! The same configuration and seed give byte-identical files: every random draw comes from one
//! ChaCha8 stream consumed in a fixed order, and per-row choices come from a fixed hash of the
//! row's position, never from iteration order of a hash map or from the clock.
//!
//! The data carries every case classification must recognise: dual-SIM phones (two IMEIs with
//! consecutive serials), SIM swaps, SIMs shared between devices, travellers between the two
//! countries, cloned IMEIs shared by hundreds of SIMs, counterfeit TACs, 2G-only models seen on
//! LTE, transient IMEIs (MSISDNs in arithmetic progression), test TACs, malformed and empty
//! values, and leading-zero IMEIs, each below the DIRBS default thresholds so that files pass.
//! Dates outside the file's period make DIRBS refuse a file outright, so they appear only when
//! asked for ([`SimConfig::bad_dates`]).

use ceir_domain::ids::luhn_check_digit;
use ceir_domain::observe::{days_in_month, Day, Region};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// ISO codes of the countries whose operators get files: `AZ`, `UZ` or both.
    pub countries: Vec<String>,
    /// Any day of the month to generate; files cover the whole month.
    pub month: Day,
    /// Subscribers (people with a SIM) homed on each operator.
    pub subscribers: u64,
    pub seed: u64,
    /// Write `.csv.gz` instead of `.csv`.
    pub gzip: bool,
    /// Benchmark shape: one operator (the first of the first country) and exactly this many rows,
    /// with about 0.14 IMEIs and 0.17 distinct triplets per row, as DIRBS's reference month.
    /// `subscribers` is then derived from it.
    pub rows: Option<u64>,
    /// With `rows`: about this many IMEIs instead of 0.14 per row (issue 3's 100-million-row
    /// month has about 30 million), the days thinned or added to keep the row count exact.
    pub imeis: Option<u64>,
    /// Add a few rows with impossible dates and dates outside the file's period (DIRBS refuses
    /// such a file), to exercise the import's refusal.
    pub bad_dates: bool,
}

impl SimConfig {
    /// Both countries, a few thousand subscribers per operator: the demo's month.
    pub fn demo(month: Day) -> SimConfig {
        SimConfig {
            countries: vec!["AZ".into(), "UZ".into()],
            month,
            subscribers: 3000,
            seed: 1,
            gzip: false,
            rows: None,
            imeis: None,
            bad_dates: false,
        }
    }
}

/// One file written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimFile {
    pub path: PathBuf,
    /// Data rows (the header not counted).
    pub rows: u64,
}

/// Examples and counts of each generated case, so tests and the demo can point at them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scenarios {
    pub subscribers: u64,
    pub imeis: u64,
    /// Distinct (IMEI, IMSI, MSISDN, operator) as written.
    pub triplets: u64,
    pub dual_sim_phones: Examples,
    pub sim_swaps: Examples,
    pub shared_devices: Examples,
    pub travellers: Examples,
    pub visitors: Examples,
    pub cloned_imeis: Examples,
    pub counterfeit_tacs: Examples,
    pub inconsistent_rat_imeis: Examples,
    pub transient_imeis: Examples,
    pub test_tac_imeis: Examples,
    pub malformed_imeis: Examples,
    pub leading_zero_imeis: Examples,
    pub empty_imsi_triplets: u64,
    pub empty_msisdn_triplets: u64,
    pub unclean_imsi_triplets: u64,
    pub empty_rat_rows: u64,
    pub bad_date_rows: u64,
}

/// How many of a case there are, and the first few.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Examples {
    pub count: u64,
    pub first: Vec<String>,
}

impl Examples {
    fn add(&mut self, example: impl FnOnce() -> String) {
        self.count += 1;
        if self.first.len() < 5 {
            self.first.push(example());
        }
    }
}

/// Everything written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SimSummary {
    pub catalog: SimFile,
    pub operator_files: Vec<SimFile>,
    pub list_files: Vec<SimFile>,
    pub scenarios: Scenarios,
}

impl SimSummary {
    pub fn rows(&self) -> u64 {
        self.operator_files.iter().map(|f| f.rows).sum()
    }
}

/// Why a simulation could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("unknown country {0:?}: ceir simulates AZ and UZ")]
    Country(String),
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

/// A device model of the generated catalog.
struct ModelSpec {
    brand: &'static str,
    model: &'static str,
    manufacturer: &'static str,
    /// Newest generation: 2 to 5.
    generation: u8,
    device_type: &'static str,
    os: &'static str,
    /// Relative popularity.
    weight: u32,
    allocated: &'static str,
}

const MODELS: &[ModelSpec] = &[
    m(
        "Samsung",
        "Galaxy A15",
        "Samsung Korea",
        4,
        "Smartphone",
        "Android",
        90,
        "12-Dec-2023",
    ),
    m(
        "Samsung",
        "Galaxy A05",
        "Samsung Korea",
        4,
        "Smartphone",
        "Android",
        60,
        "14-Sep-2023",
    ),
    m(
        "Samsung",
        "Galaxy S24",
        "Samsung Korea",
        5,
        "Smartphone",
        "Android",
        25,
        "17-Jan-2024",
    ),
    m(
        "Apple",
        "iPhone 11",
        "Apple Inc",
        4,
        "Smartphone",
        "iOS",
        40,
        "10-Sep-2019",
    ),
    m(
        "Apple",
        "iPhone 13",
        "Apple Inc",
        5,
        "Smartphone",
        "iOS",
        45,
        "14-Sep-2021",
    ),
    m(
        "Apple",
        "iPhone 15",
        "Apple Inc",
        5,
        "Smartphone",
        "iOS",
        30,
        "12-Sep-2023",
    ),
    m(
        "Xiaomi",
        "Redmi Note 13",
        "Xiaomi Communications Co Ltd",
        4,
        "Smartphone",
        "Android",
        80,
        "21-Sep-2023",
    ),
    m(
        "Xiaomi",
        "Redmi 13C",
        "Xiaomi Communications Co Ltd",
        4,
        "Smartphone",
        "Android",
        70,
        "06-Nov-2023",
    ),
    m(
        "Xiaomi",
        "14",
        "Xiaomi Communications Co Ltd",
        5,
        "Smartphone",
        "Android",
        15,
        "26-Oct-2023",
    ),
    m(
        "Tecno",
        "Spark 20",
        "Tecno Mobile Limited",
        4,
        "Smartphone",
        "Android",
        35,
        "04-Dec-2023",
    ),
    m(
        "Honor",
        "X7b",
        "Honor Device Co Ltd",
        4,
        "Smartphone",
        "Android",
        25,
        "20-Nov-2023",
    ),
    m(
        "Vivo",
        "Y17s",
        "Vivo Mobile Communication Co Ltd",
        4,
        "Smartphone",
        "Android",
        25,
        "30-Aug-2023",
    ),
    m(
        "Oppo",
        "A18",
        "Guangdong Oppo Mobile Telecommunications Corp Ltd",
        4,
        "Smartphone",
        "Android",
        20,
        "15-Nov-2023",
    ),
    m(
        "Realme",
        "C55",
        "Realme Chongqing Mobile Telecommunications Corp Ltd",
        4,
        "Smartphone",
        "Android",
        20,
        "21-Mar-2023",
    ),
    m(
        "Huawei",
        "nova 11",
        "Huawei Technologies Co Ltd",
        4,
        "Smartphone",
        "HarmonyOS",
        10,
        "17-Apr-2023",
    ),
    m(
        "Nokia",
        "105",
        "HMD Global Oy",
        2,
        "Mobile Phone/Feature phone",
        "Series 30+",
        40,
        "03-Jun-2019",
    ),
    m(
        "Nokia",
        "110 4G",
        "HMD Global Oy",
        4,
        "Mobile Phone/Feature phone",
        "Series 30+",
        15,
        "02-Jul-2021",
    ),
    m(
        "Nokia",
        "3310 3G",
        "HMD Global Oy",
        3,
        "Mobile Phone/Feature phone",
        "Series 30+",
        8,
        "29-Sep-2017",
    ),
    m(
        "itel",
        "it2163",
        "Itel Mobile Limited",
        2,
        "Mobile Phone/Feature phone",
        "Proprietary",
        25,
        "11-Mar-2021",
    ),
    m(
        "Artel",
        "U3",
        "Artel Electronics LLC",
        2,
        "Mobile Phone/Feature phone",
        "Proprietary",
        20,
        "05-Feb-2020",
    ),
    m(
        "Samsung",
        "Galaxy Tab A9",
        "Samsung Korea",
        4,
        "Tablet",
        "Android",
        8,
        "18-Oct-2023",
    ),
    m(
        "Huawei",
        "E3372",
        "Huawei Technologies Co Ltd",
        4,
        "Dongle",
        "Proprietary",
        5,
        "08-May-2014",
    ),
    m(
        "Teltonika",
        "FMB920",
        "Teltonika Telematics",
        2,
        "IoT Device",
        "Proprietary",
        4,
        "22-Jan-2019",
    ),
];

#[allow(clippy::too_many_arguments)]
const fn m(
    brand: &'static str,
    model: &'static str,
    manufacturer: &'static str,
    generation: u8,
    device_type: &'static str,
    os: &'static str,
    weight: u32,
    allocated: &'static str,
) -> ModelSpec {
    ModelSpec {
        brand,
        model,
        manufacturer,
        generation,
        device_type,
        os,
        weight,
        allocated,
    }
}

fn bands(generation: u8) -> &'static str {
    match generation {
        2 => "GSM 900,GSM 1800",
        3 => "GSM 900,GSM 1800,WCDMA FDD Band I,WCDMA FDD Band VIII",
        4 => "GSM 850,GSM 900,GSM 1800,GSM 1900,WCDMA FDD Band I,WCDMA FDD Band VIII,LTE FDD BAND 1,LTE FDD BAND 3,LTE FDD BAND 7,LTE FDD BAND 20",
        _ => "GSM 850,GSM 900,GSM 1800,GSM 1900,WCDMA FDD Band I,WCDMA FDD Band VIII,LTE FDD BAND 1,LTE FDD BAND 3,LTE FDD BAND 7,LTE FDD BAND 20,NR BAND n41,NR BAND n78",
    }
}

/// TACs per model in the catalog: real models carry several.
const TACS_PER_MODEL: usize = 12;

/// A field's value as written: empty, a zero-padded number, or an odd text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Field {
    Empty,
    Num { v: u64, width: u8 },
    Odd(u32),
}

/// RAT profiles: the codes a device reports, with weights out of 100.
const RAT_PROFILES: [&[(&str, u64)]; 5] = [
    &[("002", 100)],
    &[("001", 70), ("002", 30)],
    &[("006", 80), ("001", 15), ("002", 5)],
    &[("006", 95), ("001", 5)],
    // A 2G-only model seen on LTE: what the inconsistent-RAT dimension finds.
    &[("006", 60), ("002", 40)],
];
const RAT_INCONSISTENT: u8 = 4;

fn rat_profile(generation: u8) -> u8 {
    generation.clamp(2, 5) - 2
}

/// One (IMEI, IMSI, MSISDN) on one operator: its days seen and radio profile.
#[derive(Debug, Clone, Copy)]
struct Trip {
    imei: Field,
    imsi: Field,
    msisdn: Field,
    op: u16,
    /// Days seen: bit i is the month's day i + 1.
    mask: u32,
    /// The days it may be seen on, inclusive.
    lo: u8,
    hi: u8,
    rat: u8,
}

/// A SIM: IMSI and MSISDN.
#[derive(Debug, Clone, Copy)]
struct Sim {
    imsi: u64,
    msisdn: u64,
}

/// A generated operator: where its subscribers' numbers come from.
struct Op {
    id: String,
    country: usize,
    mcc_mnc: u64,
    country_code: u64,
    prefixes: &'static [u64],
    next_imsi: u64,
    next_msisdn: u64,
}

fn msisdn_prefixes(id: &str) -> &'static [u64] {
    match id {
        "azercell" => &[50, 51],
        "bakcell" => &[55, 99],
        "nar" => &[70, 77],
        "naxtel" => &[60],
        "beeline" => &[90, 91],
        "ucell" => &[93, 94],
        "mobiuz" => &[97, 88],
        "uzmobile" => &[95, 99],
        _ => &[90],
    }
}

/// The generator's state: one random stream and everything made so far.
struct Gen {
    rng: ChaCha8Rng,
    ndays: u8,
    ops: Vec<Op>,
    /// Which operators get a file.
    written: Vec<bool>,
    /// Catalog TACs by model.
    model_tacs: Vec<Vec<u32>>,
    model_weights: Vec<u32>,
    counterfeit_tacs: Vec<u32>,
    test_tacs: Vec<u32>,
    /// Next serial per TAC.
    serials: BTreeMap<u32, u32>,
    trips: Vec<Trip>,
    odd: Vec<String>,
    sc: Scenarios,
    /// Home-country devices (IMEI body, TAC, model) for the lists.
    devices: Vec<Vec<Device>>,
    pairs: Vec<Vec<(u64, Sim)>>,
    /// Devices that must never be blocked, per country (the golden list).
    golden: Vec<Vec<u64>>,
    bench: bool,
}

#[derive(Debug, Clone, Copy)]
struct Device {
    body: u64,
    model: Option<usize>,
    /// Counterfeit, cloned, malformed or test devices are never registered.
    genuine: bool,
}

/// Activity levels: probability of being seen on a given day, with weights out of 100.
const ACTIVITY: [(f64, u32); 4] = [(0.95, 35), (0.6, 35), (0.25, 20), (0.08, 10)];

impl Gen {
    fn pick_weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.rng.gen_range(0..total.max(1));
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        0
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p.clamp(0.0, 1.0))
    }

    fn imei_for_tac(&mut self, tac: u32) -> u64 {
        let start = self.rng.gen_range(0..100_000);
        let s = self.serials.entry(tac).or_insert(start);
        let serial = *s % 1_000_000;
        *s += 1 + u32::from(self.rng.gen_bool(0.3));
        u64::from(tac) * 1_000_000 + u64::from(serial)
    }

    /// A genuine device: a catalog model's TAC.
    fn new_device(&mut self) -> (u64, usize) {
        let weights = self.model_weights.clone();
        let model = self.pick_weighted(&weights);
        let tacs = &self.model_tacs[model];
        let tac = tacs[self.rng.gen_range(0..tacs.len())];
        (self.imei_for_tac(tac), model)
    }

    fn new_sim(&mut self, op: usize) -> Sim {
        let o = &mut self.ops[op];
        let gap_i = 1 + self.rng.gen_range(0..40);
        let gap_m = 1 + self.rng.gen_range(0..60);
        let o = &mut *o;
        o.next_imsi += gap_i;
        o.next_msisdn += gap_m;
        let prefix = o.prefixes[(o.next_msisdn % o.prefixes.len() as u64) as usize];
        Sim {
            imsi: o.mcc_mnc * 10_000_000_000 + o.next_imsi % 10_000_000_000,
            msisdn: (o.country_code * 100 + prefix) * 10_000_000 + o.next_msisdn % 10_000_000,
        }
    }

    fn activity(&mut self) -> f64 {
        let w: Vec<u32> = ACTIVITY.iter().map(|a| a.1).collect();
        ACTIVITY[self.pick_weighted(&w)].0
    }

    fn mask(&mut self, p: f64, lo: u8, hi: u8) -> u32 {
        let mut mask = 0u32;
        for d in lo..=hi {
            if self.rng.gen_bool(p) {
                mask |= 1 << d;
            }
        }
        if mask == 0 {
            mask = 1 << self.rng.gen_range(lo..=hi);
        }
        mask
    }

    fn window(&mut self, min_len: u8) -> (u8, u8) {
        let n = self.ndays;
        let len = self.rng.gen_range(min_len.min(n)..=n);
        let lo = self.rng.gen_range(0..=n - len);
        (lo, lo + len - 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn trip(&mut self, imei: Field, sim: &Sim, op: usize, p: f64, lo: u8, hi: u8, rat: u8) {
        if !self.written[op] {
            return;
        }
        let mask = self.mask(p, lo, hi);
        let imsi = if self.chance(0.002) {
            self.sc.empty_imsi_triplets += 1;
            Field::Empty
        } else if self.chance(0.0005) {
            // Unclean as DIRBS means it: digits, but not 14 or 15 of them. Anything else breaks
            // its operator file schema and refuses the whole file.
            self.sc.unclean_imsi_triplets += 1;
            Field::Num {
                v: sim.imsi / 100,
                width: 13,
            }
        } else {
            Field::Num {
                v: sim.imsi,
                width: 15,
            }
        };
        let msisdn = if self.chance(0.002) {
            self.sc.empty_msisdn_triplets += 1;
            Field::Empty
        } else {
            Field::Num {
                v: sim.msisdn,
                width: 12,
            }
        };
        self.trips.push(Trip {
            imei,
            imsi,
            msisdn,
            op: op as u16,
            mask,
            lo,
            hi,
            rat,
        });
    }

    fn odd_field(&mut self, text: String) -> Field {
        self.odd.push(text);
        Field::Odd((self.odd.len() - 1) as u32)
    }

    fn imei_field(body: u64) -> Field {
        Field::Num {
            v: body * 10 + u64::from(luhn_check_digit(body)),
            width: 15,
        }
    }

    /// One subscriber of operator `op`, with their devices and the cases that befall them.
    fn person(&mut self, op: usize) {
        let sim = self.new_sim(op);
        let country = self.ops[op].country;
        let p = self.activity();
        let n = self.ndays - 1;
        let roll: f64 = self.rng.gen();
        let (mut body, mut model) = if roll < 0.02 {
            // Counterfeit: a TAC no one allocated.
            let tac = self.counterfeit_tacs[self.rng.gen_range(0..self.counterfeit_tacs.len())];
            let body = self.imei_for_tac(tac);
            self.sc.counterfeit_tacs.add(|| format!("{tac:08}"));
            (body, None)
        } else if roll < 0.021 {
            let tac = self.test_tacs[self.rng.gen_range(0..self.test_tacs.len())];
            let body = self.imei_for_tac(tac);
            self.sc.test_tac_imeis.add(|| format!("{body:014}"));
            (body, None)
        } else {
            let (b, m) = self.new_device();
            (b, Some(m))
        };
        let mut rat = model.map_or(2, |m| rat_profile(MODELS[m].generation));
        if model.is_some_and(|m| MODELS[m].generation == 2) && self.chance(0.1) {
            rat = RAT_INCONSISTENT;
            self.sc.inconsistent_rat_imeis.add(|| format!("{body:014}"));
        }
        let mut imei = Self::imei_field(body);
        let mut genuine = model.is_some();
        if self.chance(0.001) {
            // A malformed IMEI: hex digits or a short value.
            let text = if self.chance(0.5) {
                format!("{:X}", body * 16 + 10)
            } else {
                format!("{}", 4000 + body % 5000)
            };
            self.sc.malformed_imeis.add(|| text.clone());
            imei = self.odd_field(text);
            genuine = false;
        } else if body / 1_000_000 / 1_000_000 == 1 && self.chance(0.02) {
            // Written as 14 digits with the leading zero of a TAC 01xxxxxx.
            imei = Field::Num { v: body, width: 14 };
            self.sc.leading_zero_imeis.add(|| format!("{body:014}"));
        }
        self.devices[country].push(Device {
            body,
            model,
            genuine,
        });
        let (mut lo, hi) = (0u8, n);
        if self.chance(0.03) {
            // SIM swap: the SIM moves to a new phone on day k.
            let k = self.rng.gen_range(3..n.max(4) - 1);
            self.trip(imei, &sim, op, p, 0, k - 1, rat);
            let (b2, m2) = self.new_device();
            self.sc
                .sim_swaps
                .add(|| format!("{} from {body:014} to {b2:014}", sim.imsi));
            body = b2;
            model = Some(m2);
            rat = rat_profile(MODELS[m2].generation);
            imei = Self::imei_field(b2);
            self.devices[country].push(Device {
                body,
                model,
                genuine: true,
            });
            lo = k;
        }
        if self.chance(0.01) {
            // A traveller: some days on the other country's networks, none at home then.
            let len = self.rng.gen_range(3..=10u8).min(hi - lo);
            let a = self.rng.gen_range(lo..=hi - len);
            let b = a + len;
            let abroad: Vec<usize> = (0..self.ops.len())
                .filter(|&o| self.ops[o].country != country && self.written[o])
                .collect();
            if !abroad.is_empty() {
                let visited = abroad[self.rng.gen_range(0..abroad.len())];
                self.trip(imei, &sim, visited, 0.9, a, b, rat);
                self.sc
                    .travellers
                    .add(|| format!("IMSI {} on {}", sim.imsi, self.ops[visited].id));
            }
            if a > lo {
                self.trip(imei, &sim, op, p, lo, a - 1, rat);
            }
            if b < hi {
                self.trip(imei, &sim, op, p, b + 1, hi, rat);
            }
        } else {
            self.trip(imei, &sim, op, p, lo, hi, rat);
        }
        if self.chance(0.23) {
            // Another SIM in the same phone: a replaced SIM, a family member's, a data SIM.
            let same_country: Vec<usize> = (0..self.ops.len())
                .filter(|&o| self.ops[o].country == country && (!self.bench || o == op))
                .collect();
            let other = same_country[self.rng.gen_range(0..same_country.len())];
            let sim2 = self.new_sim(other);
            let (a, b) = self.window(2);
            let p2 = self.activity();
            self.trip(imei, &sim2, other, p2, a, b, rat);
            self.sc.shared_devices.add(|| format!("{body:014}"));
        }
        if genuine && self.chance(0.08) {
            // A dual-SIM phone: a second IMEI with the next serial, its own SIM.
            let body2 = body + 1;
            let same_country: Vec<usize> = (0..self.ops.len())
                .filter(|&o| self.ops[o].country == country && (!self.bench || o == op))
                .collect();
            let other = same_country[self.rng.gen_range(0..same_country.len())];
            let sim2 = self.new_sim(other);
            let p2 = self.activity();
            self.trip(Self::imei_field(body2), &sim2, other, p2, 0, n, rat);
            self.devices[country].push(Device {
                body: body2,
                model,
                genuine: true,
            });
            if let Some(tac) = model.map(|_| (body / 1_000_000) as u32) {
                // Keep the next serial free for nobody else.
                if let Some(s) = self.serials.get_mut(&tac) {
                    *s += 1;
                }
            }
            self.sc
                .dual_sim_phones
                .add(|| format!("{body:014}+{body2:014}"));
        }
        if self.chance(0.01) {
            self.pairs[country].push((body, sim));
        }
        self.sc.subscribers += 1;
    }

    /// A cloned IMEI: one genuine-looking IMEI used by `sims` different subscribers.
    fn clone_imei(&mut self, op: usize, sims: u64) {
        let (body, model) = self.new_device();
        let imei = Self::imei_field(body);
        let rat = rat_profile(MODELS[model].generation);
        for _ in 0..sims {
            let sim = self.new_sim(op);
            let (a, b) = self.window(3);
            let p = self.activity();
            self.trip(imei, &sim, op, p, a, b, rat);
        }
        let country = self.ops[op].country;
        self.devices[country].push(Device {
            body,
            model: Some(model),
            genuine: false,
        });
        // A cloned IMEI may be a real official's phone: the golden list keeps it unblocked.
        self.golden[country].push(body);
        self.sc
            .cloned_imeis
            .add(|| format!("{body:014} ({sims} SIMs)"));
    }

    /// A transient IMEI: one device seen with many MSISDNs in arithmetic progression.
    fn transient(&mut self, op: usize) {
        let (body, model) = self.new_device();
        let imei = Self::imei_field(body);
        let rat = rat_profile(MODELS[model].generation);
        // Four or five new numbers a day, every day: enough MSISDN-days for DIRBS's transient
        // rule (an average of 3 a day over its period) in any window within the month.
        let count = u64::from(self.ndays) * self.rng.gen_range(4..=5u64);
        let step = [1u64, 2, 7][self.rng.gen_range(0..3)];
        let base = self.new_sim(op);
        for i in 0..count {
            let mut sim = self.new_sim(op);
            sim.msisdn = base.msisdn + i * step;
            let day = ((i * u64::from(self.ndays)) / count) as u8;
            self.trip(imei, &sim, op, 1.0, day, day, rat);
        }
        let country = self.ops[op].country;
        self.devices[country].push(Device {
            body,
            model: Some(model),
            genuine: false,
        });
        self.sc
            .transient_imeis
            .add(|| format!("{body:014} ({count} MSISDNs, step {step})"));
    }

    /// A visitor from the other country, on `op`'s network for a few days.
    fn visitor(&mut self, op: usize, foreign: usize) {
        let sim = self.new_sim(foreign);
        let (body, model) = self.new_device();
        let len = self.rng.gen_range(2..=9u8).min(self.ndays - 1);
        let a = self.rng.gen_range(0..self.ndays - len);
        self.trip(
            Self::imei_field(body),
            &sim,
            op,
            0.9,
            a,
            a + len,
            rat_profile(MODELS[model].generation),
        );
        self.sc
            .visitors
            .add(|| format!("IMSI {} on {}", sim.imsi, self.ops[op].id));
    }
}

/// A fixed 64-bit mix (SplitMix64's finaliser) for per-row choices.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Generates a month of data into `out`:
/// - `gsma_tac_db.txt`: the catalog (GSMA format);
/// - `<CC>/operators/<operator>_<yyyymmdd>_<yyyymmdd>.csv[.gz]`: one file per operator;
/// - `<CC>/lists/{stolen,registration,pairing,golden,barred,barred_tac,monitoring}.csv`: the
///   DIRBS lists of each country, referring to the generated devices;
/// - `simulation.json`: the configuration, the files and the generated cases.
pub fn simulate(out: &Path, cfg: &SimConfig) -> Result<SimSummary, SimError> {
    let month = cfg.month.month_start();
    let (y, mo, _) = month.ymd();
    let ndays = days_in_month(y, mo) as u8;
    let mut countries = Vec::new();
    for c in &cfg.countries {
        let c = c.to_ascii_uppercase();
        if Region::default_for(&c).is_none() {
            return Err(SimError::Country(c));
        }
        if !countries.contains(&c) {
            countries.push(c);
        }
    }
    if countries.is_empty() {
        return Err(SimError::Config("no country to simulate".into()));
    }
    let bench = cfg.rows.is_some();
    if cfg.rows == Some(0) {
        return Err(SimError::Config("--rows must be at least 1".into()));
    }
    // Both countries always exist as home networks, so travellers and visitors have somewhere to
    // come from; only the selected ones get files.
    let all = ["AZ", "UZ"];
    let mut ops = Vec::new();
    let mut written = Vec::new();
    for (ci, c) in all.iter().enumerate() {
        let Some(region) = Region::default_for(c) else {
            continue;
        };
        for o in &region.operators {
            let mcc_mnc = o.mcc_mnc.first().and_then(|s| s.parse().ok()).unwrap_or(0);
            let cc = region
                .country_codes
                .first()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let selected = countries.iter().any(|x| x == c);
            written.push(if bench {
                selected && !written.contains(&true)
            } else {
                selected
            });
            ops.push(Op {
                id: o.id.clone(),
                country: ci,
                mcc_mnc,
                country_code: cc,
                prefixes: msisdn_prefixes(&o.id),
                next_imsi: 0,
                next_msisdn: 0,
            });
        }
    }
    let mut g = Gen {
        rng: ChaCha8Rng::seed_from_u64(cfg.seed),
        ndays,
        ops,
        written,
        model_tacs: Vec::new(),
        model_weights: MODELS.iter().map(|m| m.weight).collect(),
        counterfeit_tacs: Vec::new(),
        test_tacs: Vec::new(),
        serials: BTreeMap::new(),
        trips: Vec::new(),
        odd: Vec::new(),
        sc: Scenarios::default(),
        devices: vec![Vec::new(), Vec::new()],
        pairs: vec![Vec::new(), Vec::new()],
        golden: vec![Vec::new(), Vec::new()],
        bench,
    };
    for o in &mut g.ops {
        o.next_imsi = g.rng.gen_range(0..1_000_000_000);
        o.next_msisdn = g.rng.gen_range(0..1_000_000);
    }
    // Catalog TACs: reporting bodies 35 (BABT), 86 (TAF) and 01 (CTIA); never a leading 1, which
    // would trip DIRBS's leading-zero check.
    let mut used = HashSet::new();
    for model in MODELS {
        let mut tacs = Vec::new();
        while tacs.len() < TACS_PER_MODEL {
            let rb = if model.brand == "Apple" {
                [35u32, 1][g.rng.gen_range(0..2)]
            } else {
                [35u32, 86][g.rng.gen_range(0..2)]
            };
            let tac = rb * 1_000_000 + g.rng.gen_range(0..1_000_000);
            if used.insert(tac) {
                tacs.push(tac);
            }
        }
        g.model_tacs.push(tacs);
    }
    while g.counterfeit_tacs.len() < 8 {
        let tac = 86_000_000 + g.rng.gen_range(0..1_000_000);
        if used.insert(tac) {
            g.counterfeit_tacs.push(tac);
        }
    }
    while g.test_tacs.len() < 3 {
        // DIRBS's test ranges: 00 10 dd (dd 01 to 17), or 00 44, 00 86, 00 91.
        let tac = match g.rng.gen_range(0..2) {
            0 => 100_000 + g.rng.gen_range(1..=17u32) * 100 + g.rng.gen_range(0..100),
            _ => [440_000, 860_000, 910_000][g.rng.gen_range(0..3)] + g.rng.gen_range(0..10_000),
        };
        if used.insert(tac) {
            g.test_tacs.push(tac);
        }
    }

    // About 1.11 IMEIs per subscriber; the reference month has 0.14 IMEIs per row.
    let subscribers = match (cfg.rows, cfg.imeis) {
        (Some(_), Some(imeis)) => ((imeis as f64) / 1.11).round().max(1.0) as u64,
        (Some(rows), None) => ((rows as f64) * 0.14 / 1.11).round().max(1.0) as u64,
        (None, _) => cfg.subscribers.max(1),
    };
    for op in 0..g.ops.len() {
        if !g.written[op] {
            continue;
        }
        for _ in 0..subscribers {
            g.person(op);
        }
        let clones = (subscribers / 60_000).max(1);
        for _ in 0..clones {
            let sims = (100 + g.rng.gen_range(0..300)).min((subscribers / 10).max(2));
            g.clone_imei(op, sims);
        }
        for _ in 0..(subscribers / 100_000).max(1) {
            g.transient(op);
        }
        let country = g.ops[op].country;
        let foreign: Vec<usize> = (0..g.ops.len())
            .filter(|&o| g.ops[o].country != country)
            .collect();
        let other_written = foreign.iter().any(|&o| g.written[o]);
        if !other_written && !foreign.is_empty() {
            for _ in 0..(subscribers / 200).max(1) {
                let f = foreign[g.rng.gen_range(0..foreign.len())];
                g.visitor(op, f);
            }
        }
    }
    if let Some(rows) = cfg.rows {
        fit_rows(&mut g, rows);
    }
    g.sc.triplets = {
        let mut set: HashSet<(Field, Field, Field, u16)> = HashSet::new();
        for t in &g.trips {
            set.insert((t.imei, t.imsi, t.msisdn, t.op));
        }
        set.len() as u64
    };
    g.sc.imeis = {
        let mut set: HashSet<Field> = HashSet::new();
        for t in &g.trips {
            set.insert(t.imei);
        }
        set.len() as u64
    };

    fs::create_dir_all(out).map_err(io_err(out))?;
    let catalog = write_catalog(out, &g)?;
    let mut operator_files = Vec::new();
    let mut list_files = Vec::new();
    for (ci, c) in all.iter().enumerate() {
        if !countries.iter().any(|x| x == c) {
            continue;
        }
        let dir = out.join(c).join("operators");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        for op in 0..g.ops.len() {
            if g.written[op] && g.ops[op].country == ci {
                operator_files.push(write_operator(&dir, &mut g, op, month, cfg)?);
            }
        }
        let dir = out.join(c).join("lists");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        list_files.extend(write_lists(&dir, &mut g, ci, month)?);
    }
    let summary = SimSummary {
        catalog,
        operator_files,
        list_files,
        scenarios: g.sc.clone(),
    };
    let path = out.join("simulation.json");
    let json = serde_json::json!({
        "month": month.month_label(),
        "countries": countries,
        "seed": cfg.seed,
        "subscribers_per_operator": subscribers,
        "rows_requested": cfg.rows,
        "summary": summary,
    });
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| SimError::Config(format!("cannot encode the summary: {e}")))?;
    fs::write(&path, text + "\n").map_err(io_err(&path))?;
    Ok(summary)
}

/// Clears or sets days until the rows come to exactly `rows`: first scaling every triplet's
/// activity, then one day at a time.
fn fit_rows(g: &mut Gen, rows: u64) {
    let total = |g: &Gen| -> u64 { g.trips.iter().map(|t| u64::from(t.mask.count_ones())).sum() };
    let have = total(g);
    if have > rows {
        // Thin each triplet's days by the same factor, keeping at least one.
        let keep = rows as f64 / have as f64;
        for i in 0..g.trips.len() {
            let t = g.trips[i];
            let mut mask = 0u32;
            for d in t.lo..=t.hi {
                if t.mask & (1 << d) != 0 && g.rng.gen_bool(keep) {
                    mask |= 1 << d;
                }
            }
            if mask == 0 {
                mask = 1 << (t.mask.trailing_zeros());
            }
            g.trips[i].mask = mask;
        }
    }
    let mut have = total(g) as i64;
    let want = rows as i64;
    let n = g.trips.len();
    let mut budget = 64 * (have - want).unsigned_abs() + 1_000_000;
    while have != want && budget > 0 && n > 0 {
        budget -= 1;
        let i = g.rng.gen_range(0..n);
        let t = g.trips[i];
        let d = g.rng.gen_range(t.lo..=t.hi);
        let bit = 1u32 << d;
        if have > want && t.mask & bit != 0 && t.mask.count_ones() > 1 {
            g.trips[i].mask &= !bit;
            have -= 1;
        } else if have < want && t.mask & bit == 0 {
            g.trips[i].mask |= bit;
            have += 1;
        }
    }
}

/// An output file, gzipped or not, deterministic either way (gzip's mtime stays 0).
enum Out {
    Plain(BufWriter<File>),
    Gz(Box<flate2::write::GzEncoder<BufWriter<File>>>),
}

impl Write for Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::Plain(w) => w.write(buf),
            Out::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Out::Plain(w) => w.flush(),
            Out::Gz(w) => w.flush(),
        }
    }
}

impl Out {
    fn create(path: &Path, gzip: bool) -> io::Result<Out> {
        let f = BufWriter::with_capacity(1 << 20, File::create(path)?);
        Ok(if gzip {
            Out::Gz(Box::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::fast(),
            )))
        } else {
            Out::Plain(f)
        })
    }
    fn finish(self) -> io::Result<()> {
        match self {
            Out::Plain(mut w) => w.flush(),
            Out::Gz(w) => w.finish()?.flush(),
        }
    }
}

fn push_num(buf: &mut Vec<u8>, v: u64, width: u8) {
    let mut digits = [b'0'; 20];
    let mut x = v;
    let mut i = 20;
    while x > 0 {
        i -= 1;
        digits[i] = b'0' + (x % 10) as u8;
        x /= 10;
    }
    let start = 20usize.saturating_sub(usize::from(width)).min(i);
    buf.extend_from_slice(&digits[start..]);
}

fn push_field(buf: &mut Vec<u8>, f: Field, odd: &[String]) {
    match f {
        Field::Empty => {}
        Field::Num { v, width } => push_num(buf, v, width),
        Field::Odd(i) => {
            buf.extend_from_slice(odd.get(i as usize).map_or(&b""[..], |s| s.as_bytes()))
        }
    }
}

fn write_operator(
    dir: &Path,
    g: &mut Gen,
    op: usize,
    month: Day,
    cfg: &SimConfig,
) -> Result<SimFile, SimError> {
    let end = month.plus(i32::from(g.ndays) - 1);
    let name = format!(
        "{}_{}_{}.csv{}",
        g.ops[op].id,
        month.compact(),
        end.compact(),
        if cfg.gzip { ".gz" } else { "" }
    );
    let path = dir.join(name);
    let mut out = Out::create(&path, cfg.gzip).map_err(io_err(&path))?;
    let mut buf = Vec::with_capacity(1 << 20);
    buf.extend_from_slice(b"date,imei,imsi,msisdn,rat\n");
    let mut rows = 0u64;
    let op16 = op as u16;
    let seed = mix(cfg.seed ^ (op as u64) << 48);
    for d in 0..g.ndays {
        let date = month.plus(i32::from(d)).compact();
        let bit = 1u32 << d;
        for (i, t) in g.trips.iter().enumerate() {
            if t.op != op16 || t.mask & bit == 0 {
                continue;
            }
            let h = mix(seed ^ ((i as u64) << 5) ^ u64::from(d));
            buf.extend_from_slice(date.as_bytes());
            buf.push(b',');
            push_field(&mut buf, t.imei, &g.odd);
            buf.push(b',');
            push_field(&mut buf, t.imsi, &g.odd);
            buf.push(b',');
            push_field(&mut buf, t.msisdn, &g.odd);
            buf.push(b',');
            if h % 1000 < 3 {
                g.sc.empty_rat_rows += 1;
            } else {
                let profile = RAT_PROFILES[usize::from(t.rat)];
                let mut x = (h >> 16) % 100;
                for (code, w) in profile {
                    if x < *w {
                        buf.extend_from_slice(code.as_bytes());
                        break;
                    }
                    x -= w;
                }
            }
            buf.push(b'\n');
            rows += 1;
            if buf.len() > (1 << 20) - 256 {
                out.write_all(&buf).map_err(io_err(&path))?;
                buf.clear();
            }
        }
    }
    if cfg.bad_dates {
        let first = g.trips.iter().find(|t| t.op == op16).copied();
        if let Some(t) = first {
            for date in [
                month.plus(-1).compact(),
                format!("{}99", &month.compact()[..6]),
            ] {
                buf.extend_from_slice(date.as_bytes());
                buf.push(b',');
                push_field(&mut buf, t.imei, &g.odd);
                buf.push(b',');
                push_field(&mut buf, t.imsi, &g.odd);
                buf.push(b',');
                push_field(&mut buf, t.msisdn, &g.odd);
                buf.extend_from_slice(b",006\n");
                rows += 1;
                g.sc.bad_date_rows += 1;
            }
        }
    }
    out.write_all(&buf).map_err(io_err(&path))?;
    out.finish().map_err(io_err(&path))?;
    Ok(SimFile { path, rows })
}

fn write_catalog(out: &Path, g: &Gen) -> Result<SimFile, SimError> {
    let path = out.join("gsma_tac_db.txt");
    let mut s = String::from(
        "TAC|Marketing Name|Internal Model Name|Manufacturer|Bands|Allocation Date|Country Code|Fixed Code|Manufacturer Code|Radio Interface|Brand Name|Model Name|Operating System|NFC|Bluetooth|WLAN|Device Type\n",
    );
    let mut rows: Vec<(u32, usize)> = g
        .model_tacs
        .iter()
        .enumerate()
        .flat_map(|(m, tacs)| tacs.iter().map(move |t| (*t, m)))
        .collect();
    rows.sort_unstable();
    for (tac, mi) in &rows {
        let m = &MODELS[*mi];
        let smart = m.device_type == "Smartphone" || m.device_type == "Tablet";
        s.push_str(&format!(
            "{tac:08}|{brand} {model}|{code}|{manuf}|{bands}|{alloc}|{cc}|{fixed}|{mcode}|NONE|{brand}|{model}|{os}|{nfc}|Y|{wlan}|{dtype}\n",
            brand = m.brand,
            model = m.model,
            code = m.model.replace(' ', "").to_ascii_uppercase(),
            manuf = m.manufacturer,
            bands = bands(m.generation),
            alloc = m.allocated,
            cc = 0,
            fixed = "",
            mcode = "",
            os = m.os,
            nfc = if smart { "Y" } else { "N" },
            wlan = if smart { "Y" } else { "N" },
            dtype = m.device_type,
        ));
    }
    fs::write(&path, s).map_err(io_err(&path))?;
    Ok(SimFile {
        path,
        rows: rows.len() as u64,
    })
}

/// The DIRBS lists of one country, consistent with its devices.
fn write_lists(
    dir: &Path,
    g: &mut Gen,
    country: usize,
    month: Day,
) -> Result<Vec<SimFile>, SimError> {
    let devices = g.devices[country].clone();
    let pairs = g.pairs[country].clone();
    let imei15 = |b: u64| format!("{b:014}{}", luhn_check_digit(b));
    let mut files = Vec::new();
    let mut write = |name: &str, header: &str, lines: Vec<String>| -> Result<(), SimError> {
        let path = dir.join(name);
        let mut s = String::with_capacity(lines.len() * 40 + header.len() + 1);
        s.push_str(header);
        s.push('\n');
        for l in &lines {
            s.push_str(l);
            s.push('\n');
        }
        fs::write(&path, s).map_err(io_err(&path))?;
        files.push(SimFile {
            path,
            rows: lines.len() as u64,
        });
        Ok(())
    };

    let mut stolen = Vec::new();
    let mut registration = Vec::new();
    let mut barred = Vec::new();
    let mut monitoring = Vec::new();
    let mut golden: Vec<String> = g.golden[country].iter().map(|b| imei15(*b)).collect();
    let reported = month.plus(-20).compact();
    for (i, d) in devices.iter().enumerate() {
        let r: f64 = g.rng.gen();
        if r < 0.004 {
            let status = ["blacklist", "", "blacklist", "pending"][i % 4];
            stolen.push(format!("{},{reported},{status}", imei15(d.body)));
        } else if r < 0.0045 {
            barred.push(imei15(d.body));
        } else if r < 0.0055 {
            monitoring.push(imei15(d.body));
        }
        if d.genuine && g.rng.gen_bool(0.9) {
            if let Some(m) = d.model.map(|m| &MODELS[m]) {
                let status = if g.rng.gen_bool(0.02) {
                    "pending"
                } else {
                    "whitelist"
                };
                registration.push(format!(
                    "{},{},{},{status},{},{},{},{},D{:08}",
                    imei15(d.body),
                    m.manufacturer,
                    m.model,
                    m.model.replace(' ', "").to_ascii_uppercase(),
                    m.brand,
                    m.device_type,
                    bands_short(m.generation),
                    i
                ));
            }
        }
        if golden.len() < g.golden[country].len() + 2 && d.genuine && i % 97 == 3 {
            golden.push(imei15(d.body));
        }
    }
    // Reports of devices never seen on the networks: lists are not limited to observed devices.
    for k in 0..3u64 {
        let tac = u64::from(g.model_tacs[0][0]);
        let body = tac * 1_000_000 + 999_000 + k;
        stolen.push(format!("{},{reported},blacklist", imei15(body)));
    }
    let pairing: Vec<String> = pairs
        .iter()
        .map(|(b, s)| format!("{},{},{}", imei15(*b), s.imsi, s.msisdn))
        .collect();
    let barred_tac = vec![
        format!("{:08}", g.counterfeit_tacs[0]),
        format!("{:08}", g.model_tacs[MODELS.len() - 1][0]),
    ];
    write("stolen.csv", "imei,reporting_date,status", stolen)?;
    write(
        "registration.csv",
        "approved_imei,make,model,status,model_number,brand_name,device_type,radio_interface,device_id",
        registration,
    )?;
    write("pairing.csv", "imei,imsi,msisdn", pairing)?;
    write("golden.csv", "golden_imei", golden)?;
    write("barred.csv", "imei", barred)?;
    write("barred_tac.csv", "tac", barred_tac)?;
    write("monitoring.csv", "imei", monitoring)?;
    Ok(files)
}

fn bands_short(generation: u8) -> &'static str {
    match generation {
        2 => "2G",
        3 => "2G 3G",
        4 => "2G 3G 4G",
        _ => "2G 3G 4G 5G",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::io::Read;

    fn month() -> Day {
        Day::parse_iso("2026-10-01").unwrap()
    }

    fn cfg(countries: &[&str], subscribers: u64) -> SimConfig {
        SimConfig {
            countries: countries.iter().map(|s| (*s).to_string()).collect(),
            month: month(),
            subscribers,
            seed: 7,
            gzip: false,
            rows: None,
            imeis: None,
            bad_dates: false,
        }
    }

    fn read_all(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().display().to_string();
                    out.insert(rel, fs::read(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn same_seed_gives_identical_files_and_another_seed_does_not() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let c = tempfile::tempdir().unwrap();
        let mut conf = cfg(&["AZ", "UZ"], 300);
        conf.gzip = true;
        simulate(a.path(), &conf).unwrap();
        simulate(b.path(), &conf).unwrap();
        let (fa, fb) = (read_all(a.path()), read_all(b.path()));
        assert_eq!(fa.keys().collect::<Vec<_>>(), fb.keys().collect::<Vec<_>>());
        for (k, v) in &fa {
            // simulation.json names its own directory's files.
            if k != "simulation.json" {
                assert!(
                    fb[k] == *v,
                    "{k} differs between two runs with the same seed"
                );
            }
        }
        conf.seed = 8;
        simulate(c.path(), &conf).unwrap();
        let fc = read_all(c.path());
        assert_ne!(
            fa["AZ/operators/azercell_20261001_20261031.csv.gz"],
            fc["AZ/operators/azercell_20261001_20261031.csv.gz"]
        );
        assert_eq!(fa.len(), 1 + 1 + 2 * (4 + 7));
    }

    #[test]
    fn benchmark_shape_has_exactly_the_rows_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let mut conf = cfg(&["AZ"], 1);
        conf.rows = Some(200_000);
        let s = simulate(dir.path(), &conf).unwrap();
        assert_eq!(s.operator_files.len(), 1);
        let text = fs::read_to_string(&s.operator_files[0].path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len() as u64 - 1, 200_000);
        assert_eq!(s.rows(), 200_000);
        let mut imeis = HashSet::new();
        let mut triplets = HashSet::new();
        for l in &lines[1..] {
            let f: Vec<&str> = l.split(',').collect();
            imeis.insert(f[1]);
            triplets.insert((f[1], f[2], f[3]));
        }
        // The reference month: 0.14 IMEIs and 0.17 distinct triplets per row.
        let ipr = imeis.len() as f64 / 200_000.0;
        let tpr = triplets.len() as f64 / 200_000.0;
        assert!((0.12..0.16).contains(&ipr), "IMEIs per row {ipr}");
        assert!((0.15..0.19).contains(&tpr), "triplets per row {tpr}");
    }

    /// Rows of every operator file, as (operator, fields).
    fn rows(s: &SimSummary) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        for f in &s.operator_files {
            let name = f.path.file_name().unwrap().to_string_lossy().to_string();
            let op = name.split('_').next().unwrap().to_string();
            let mut text = String::new();
            if name.ends_with(".gz") {
                flate2::read::GzDecoder::new(File::open(&f.path).unwrap())
                    .read_to_string(&mut text)
                    .unwrap();
            } else {
                text = fs::read_to_string(&f.path).unwrap();
            }
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some("date,imei,imsi,msisdn,rat"));
            let mut n = 0;
            for l in lines {
                out.push((
                    op.clone(),
                    l.split(',').map(str::to_string).collect::<Vec<_>>(),
                ));
                n += 1;
            }
            assert_eq!(n, f.rows);
        }
        out
    }

    #[test]
    fn every_scenario_is_present_in_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = simulate(dir.path(), &cfg(&["AZ", "UZ"], 3000)).unwrap();
        let rows = rows(&s);
        let catalog = crate::read_catalog(&s.catalog.path, &mut |_| {}).unwrap();
        assert_eq!(catalog.format, crate::TacFormat::Gsma);
        let models: HashMap<u32, &ceir_domain::catalog::TacModel> =
            catalog.models.iter().map(|m| (m.tac.get(), m)).collect();
        let mut imsis_per_imei: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut msisdns_per_imei: HashMap<(&str, &str), Vec<u64>> = HashMap::new();
        let (mut counterfeit, mut test_tac, mut malformed, mut inconsistent) = (0, 0, 0, 0);
        let (mut roaming, mut empty_imsi, mut empty_msisdn, mut empty_rat, mut lz) =
            (0, 0, 0, 0, 0);
        let mut unclean_imsi = 0;
        let month = month();
        for (op, f) in &rows {
            let day = Day::parse_yyyymmdd(f[0].as_bytes()).unwrap();
            assert!(day >= month && day < month.next_month_start());
            let imei = f[1].as_str();
            imsis_per_imei.entry(imei).or_default().insert(&f[2]);
            if let Ok(m) = f[3].parse::<u64>() {
                msisdns_per_imei.entry((imei, op)).or_default().push(m);
            }
            if ceir_domain::observe::imei_leading_zero_suspect(imei.as_bytes()) {
                lz += 1;
            }
            match ceir_domain::observe::ImeiNorm::parse(imei.as_bytes()) {
                Some(ceir_domain::observe::ImeiNorm::Body(b)) => {
                    let tac = (b / 1_000_000) as u32;
                    if tac < 200_000 {
                        test_tac += 1;
                    } else if let Some(m) = models.get(&tac) {
                        if m.radios == ceir_domain::catalog::RadioSet::G2 && f[4] == "006" {
                            inconsistent += 1;
                        }
                    } else {
                        counterfeit += 1;
                    }
                }
                _ => malformed += 1,
            }
            let home = if ["azercell", "bakcell", "nar", "naxtel"].contains(&op.as_str()) {
                "400"
            } else {
                "434"
            };
            if !f[2].is_empty() && !f[2].starts_with(home) {
                roaming += 1;
            }
            empty_imsi += usize::from(f[2].is_empty());
            // Readable (DIRBS's schema: 1 to 15 digits), some of them unclean (not 14 or 15).
            assert!(
                f[2].len() <= 15 && f[2].bytes().all(|b| b.is_ascii_digit()),
                "{f:?}"
            );
            unclean_imsi += usize::from(!f[2].is_empty() && f[2].len() < 14);
            empty_msisdn += usize::from(f[3].is_empty());
            empty_rat += usize::from(f[4].is_empty());
        }
        let n = rows.len();
        // Every row fits DIRBS's operator schema (OperatorImportSchema_v2), which refuses a
        // whole file over one row; only the thresholds may judge what is left.
        let digits = |s: &str, max: usize| s.len() <= max && s.bytes().all(|b| b.is_ascii_digit());
        for (_, f) in &rows {
            let date = Day::parse_yyyymmdd(f[0].as_bytes()).is_some() && f[0].starts_with("20");
            assert!(date, "date {:?}", f[0]);
            assert!(
                f[1].len() <= 16
                    && f[1]
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b'*' || b == b'#'),
                "imei {:?}",
                f[1]
            );
            assert!(digits(&f[2], 15), "imsi {:?}", f[2]);
            assert!(digits(&f[3], 15), "msisdn {:?}", f[3]);
            assert!(
                f[4].is_empty()
                    || ceir_domain::observe::RatSet::parse_dirbs(f[4].as_bytes()).is_some(),
                "rat {:?}",
                f[4]
            );
        }
        assert!(
            imsis_per_imei.values().any(|s| s.len() >= 100),
            "a cloned IMEI"
        );
        assert!(counterfeit > 0 && test_tac > 0 && malformed > 0 && inconsistent > 0);
        assert!(roaming > 0 && empty_imsi > 0 && empty_msisdn > 0 && empty_rat > 0 && lz > 0);
        assert!(unclean_imsi > 0);
        // Transient: some IMEI has 12+ MSISDNs on one operator forming a progression.
        let transient = msisdns_per_imei.values().any(|v| {
            let mut v = v.clone();
            v.sort_unstable();
            v.dedup();
            v.len() >= 12 && {
                let step = v[1] - v[0];
                v.windows(2).all(|w| w[1] - w[0] == step)
            }
        });
        assert!(transient, "a transient IMEI");
        // Below every DIRBS default threshold.
        for (what, count, limit) in [
            ("null IMSI", empty_imsi, 0.05),
            ("null MSISDN", empty_msisdn, 0.05),
            ("null RAT", empty_rat, 0.05),
            ("unclean IMEI", malformed, 0.05),
            ("unclean IMSI", unclean_imsi, 0.05),
            ("out of region", roaming, 0.1),
        ] {
            assert!((count as f64) < limit * n as f64, "{what}: {count} of {n}");
        }
        let leading_one = rows.iter().filter(|(_, f)| f[1].starts_with('1')).count();
        let leading_zero = rows.iter().filter(|(_, f)| f[1].starts_with('0')).count();
        assert!(leading_one <= leading_zero);
        let sc = &s.scenarios;
        for (name, e) in [
            ("dual-SIM", &sc.dual_sim_phones),
            ("SIM swap", &sc.sim_swaps),
            ("shared", &sc.shared_devices),
            ("travellers", &sc.travellers),
            ("clones", &sc.cloned_imeis),
            ("transient", &sc.transient_imeis),
        ] {
            assert!(e.count > 0, "{name}");
        }
    }

    #[test]
    fn lists_refer_to_generated_devices_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let s = simulate(dir.path(), &cfg(&["UZ"], 3000)).unwrap();
        let seen: HashSet<String> = rows(&s)
            .into_iter()
            .filter_map(|(_, f)| {
                ceir_domain::observe::ImeiNorm::parse(f[1].as_bytes()).map(|i| i.to_string())
            })
            .collect();
        assert_eq!(s.list_files.len(), 7);
        for f in &s.list_files {
            assert!(f.rows > 0, "{} is empty", f.path.display());
        }
        let reg = s
            .list_files
            .iter()
            .find(|f| f.path.ends_with("registration.csv"))
            .unwrap();
        let text = fs::read_to_string(&reg.path).unwrap();
        let on_network = text
            .lines()
            .skip(1)
            .filter(|l| seen.contains(&l[..14]))
            .count();
        assert!(on_network as f64 > 0.8 * reg.rows as f64);
        // Visitors from Azerbaijan, since only Uzbekistan is written.
        assert!(s.scenarios.visitors.count > 0);
        assert!(s.scenarios.travellers.count == 0);
    }

    #[test]
    fn the_benchmark_shape_takes_rows_and_imeis() {
        let dir = tempfile::tempdir().unwrap();
        let mut conf = cfg(&["AZ"], 1);
        conf.rows = Some(40_000);
        conf.imeis = Some(12_000);
        let s = simulate(dir.path(), &conf).unwrap();
        assert_eq!(s.rows(), 40_000);
        let imeis = s.scenarios.imeis as f64;
        assert!((10_800.0..=13_200.0).contains(&imeis), "{imeis} IMEIs");
    }

    #[test]
    fn bad_dates_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let mut conf = cfg(&["AZ"], 50);
        conf.bad_dates = true;
        let s = simulate(dir.path(), &conf).unwrap();
        assert_eq!(s.scenarios.bad_date_rows, 8);
        assert!(simulate(dir.path(), &cfg(&["FR"], 5)).is_err());
    }
}
