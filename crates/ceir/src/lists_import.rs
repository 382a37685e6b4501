//! `ceir import stolen|registration|pairing|golden|barred|barred-tac|monitoring FILE [--delta]`:
//! the DIRBS lists, each file applied to the registry in one transaction as the importing
//! organisation's entries (see `ceir_ingest::dirbs_lists` for the checks and the mapping).

use anyhow::{Context, Result};
use ceir_domain::audit::AuditContext;
use ceir_domain::lists::Country;
use ceir_domain::{Clock, SystemClock, Timestamp};
use ceir_ingest::dirbs_lists::{
    plan, plan_golden, read_list, DirbsList, Held, KeptRow, ListKey, SizeThreshold,
};
use ceir_store::{DirbsListImport, DirbsRow, ListChange, Store};
use clap::Subcommand;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// The list file: CSV with a header (plain, .gz or .zip).
    file: PathBuf,
    /// The file is a delta with a change_type column (add, remove; update for stolen and
    /// registration) rather than the complete list.
    #[arg(long)]
    delta: bool,
    /// Import even if the list would shrink past its import size threshold
    /// (`[import.lists.<list>]`, by default DIRBS's).
    #[arg(long)]
    force: bool,
    /// Import as this registered organisation (default: the node's own regulator).
    #[arg(long = "as-org")]
    org: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ListImportCmd {
    /// DIRBS stolen list (imei, reporting_date, status): blocked, reason stolen.
    Stolen(ListArgs),
    /// DIRBS registration list (approved_imei, …, status, device_id): permitted, reason registered.
    Registration(ListArgs),
    /// DIRBS pairing list (imei, imsi, msisdn): exceptions, reason paired.
    Pairing(ListArgs),
    /// DIRBS golden list (golden_imei, in clear or MD5): IMEIs never to be blocked.
    Golden(ListArgs),
    /// DIRBS barred list (imei): blocked, reason other, reference "barred".
    Barred(ListArgs),
    /// DIRBS barred TAC list (tac): barred TACs.
    BarredTac(ListArgs),
    /// DIRBS monitoring list (imei): tracked, reason investigation.
    Monitoring(ListArgs),
}

impl ListImportCmd {
    fn split(self) -> (DirbsList, ListArgs) {
        match self {
            ListImportCmd::Stolen(a) => (DirbsList::Stolen, a),
            ListImportCmd::Registration(a) => (DirbsList::Registration, a),
            ListImportCmd::Pairing(a) => (DirbsList::Pairing, a),
            ListImportCmd::Golden(a) => (DirbsList::Golden, a),
            ListImportCmd::Barred(a) => (DirbsList::Barred, a),
            ListImportCmd::BarredTac(a) => (DirbsList::BarredTac, a),
            ListImportCmd::Monitoring(a) => (DirbsList::Monitoring, a),
        }
    }
}

pub async fn run(cfg: &crate::config::Config, cmd: ListImportCmd) -> Result<()> {
    let (list, a) = cmd.split();
    let size = cfg.import.lists.threshold(list)?;
    let store = crate::open_store(cfg).await?;
    let by = AuditContext::local(crate::local_actor(store.as_ref(), a.org.as_deref()).await?);
    let opts = ListOptions {
        delta: a.delta,
        size: (!a.force).then_some(size),
    };
    let summary = import(
        store.as_ref(),
        list,
        &a.file,
        &opts,
        &by,
        cfg.country()?,
        SystemClock.now(),
    )
    .await?;
    println!("{summary}");
    Ok(())
}

/// What an import did, for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub text: String,
    pub added: u64,
    pub updated: u64,
    pub removed: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// How a list file is imported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ListOptions {
    /// The file is a delta (`--delta`).
    pub delta: bool,
    /// The import size threshold; `None` with `--force`.
    pub size: Option<SizeThreshold>,
}

impl ListOptions {
    /// A full file with DIRBS's default threshold for `list`.
    pub fn full(list: DirbsList) -> ListOptions {
        ListOptions {
            delta: false,
            size: Some(list.threshold()),
        }
    }
}

/// Reads, checks and applies one list file in one transaction.
pub async fn import(
    store: &dyn Store,
    list: DirbsList,
    file: &Path,
    opts: &ListOptions,
    by: &AuditContext,
    country: Country,
    now: Timestamp,
) -> Result<Summary> {
    let ListOptions { delta, size } = *opts;
    let path = file.to_owned();
    let parsed = tokio::task::spawn_blocking(move || read_list(&path, list, delta)).await??;
    let mode = if delta { "delta" } else { "full" };
    let rows = parsed.rows.len();
    let source = file.display().to_string();
    let Some((kind, _)) = list.target() else {
        let current = store.golden_imeis().await?;
        let (set, gp) = plan_golden(&parsed, &current, size)?;
        if gp.added == 0 && gp.removed == 0 {
            return Ok(Summary {
                text: format!(
                    "{source}: {rows} rows ({mode} golden list); no change, {} golden IMEIs",
                    gp.after
                ),
                ..Summary::default()
            });
        }
        let r = store.replace_golden(&set, &source, by, now).await?;
        return Ok(Summary {
            text: format!(
                "{source}: {rows} rows ({mode} golden list); {} added, {} removed: {} golden IMEIs (was {})",
                r.added, r.removed, r.total, r.previous
            ),
            added: r.added,
            removed: r.removed,
            updated: 0,
        });
    };
    let org = by.actor.org.as_str();
    let held: Vec<Held> = store
        .list_source(kind, org)
        .await?
        .into_iter()
        .map(|e| Held {
            subject: e.subject,
            reference: e.reference,
            note: e.note,
        })
        .collect();
    let kept = store
        .dirbs_rows(list.name(), kind, org)
        .await?
        .into_iter()
        .map(|r| KeptRow::from_stored(list, r.subject, r.msisdn, &r.fields))
        .collect::<Result<Vec<KeptRow>, String>>()
        .map_err(|e| anyhow::anyhow!("the store's {list} list of {org}: {e}"))?;
    let p = plan(&parsed, &kept, &held, country, now, size)?;
    let mut notes = Vec::new();
    if p.unchanged > 0 {
        notes.push(format!("{} unchanged", p.unchanged));
    }
    if p.inactive > 0 {
        notes.push(format!("{} with a status that lists nothing", p.inactive));
    }
    if p.duplicates > 0 {
        notes.push(format!("{} repeated", p.duplicates));
    }
    if p.held_elsewhere > 0 {
        notes.push(format!(
            "{} already on the {kind} list from another source of {org}, left as they are",
            p.held_elsewhere
        ));
    }
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join(", "))
    };
    if p.is_empty() {
        return Ok(Summary {
            text: format!(
                "{source}: {rows} rows ({mode} {list} list); no change{notes}; {} rows on the {list} list of {org}",
                p.after
            ),
            ..Summary::default()
        });
    }
    let mut changes: Vec<ListChange> = p.add.iter().cloned().map(ListChange::Add).collect();
    let note = format!("not on the {list} list {}", file.display());
    changes.extend(p.remove.iter().map(|s| ListChange::Remove {
        list: kind,
        subject: *s,
        owner: Some(by.actor.org.clone()),
        note: Some(note.clone()),
    }));
    let stored = |k: &ListKey| {
        k.subject()
            .map(|s| (s, k.msisdn().cloned()))
            .with_context(|| format!("{source}: a {list} row without a registry subject"))
    };
    let upsert = p
        .upsert
        .iter()
        .map(|r| {
            let (subject, msisdn) = stored(&r.key)?;
            Ok(DirbsRow {
                subject,
                msisdn,
                fields: r.fields(list),
            })
        })
        .collect::<Result<Vec<DirbsRow>>>()?;
    let delete = p.delete.iter().map(stored).collect::<Result<Vec<_>>>()?;
    let import = DirbsListImport {
        list: list.name(),
        kind,
        changes: &changes,
        upsert: &upsert,
        delete: &delete,
    };
    let r = store
        .apply_dirbs_list(&import, by, now)
        .await
        .with_context(|| format!("{source}: nothing was imported"))?;
    Ok(Summary {
        text: format!(
            "{source}: {rows} rows ({mode} {list} list); {} rows on the {list} list of {org} (was {}); \
             on the {kind} list {} added, {} updated, {} removed{notes}; feed at {}",
            p.after, p.before, r.added, r.updated, r.removed, r.last_seq
        ),
        added: r.added,
        updated: r.updated,
        removed: r.removed,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use ceir_domain::authz::{Actor, OrgKind, Role};
    use ceir_domain::lists::{ListKind, Reason, Subject};
    use ceir_domain::Imei;
    use ceir_store::{AuditStore, DirbsListStore, SqlStore};

    const NOW: Timestamp = Timestamp(1_790_000_000_000);

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../ceir-ingest/tests/fixtures/dirbs")
            .join(name)
    }

    fn regulator() -> AuditContext {
        AuditContext::local(Actor {
            org: "az-regulator".into(),
            org_kind: OrgKind::Regulator,
            user: "officer".into(),
            role: Role::Admin,
            scopes: ceir_domain::scope::ScopeSet::ALL,
        })
    }

    async fn go(s: &SqlStore, list: DirbsList, name: &str, delta: bool) -> Result<Summary> {
        let opts = ListOptions {
            delta,
            ..ListOptions::full(list)
        };
        import(
            s,
            list,
            &fixture(name),
            &opts,
            &regulator(),
            Country::AZ,
            NOW,
        )
        .await
    }

    fn imei(body: u64) -> Subject {
        Subject::Imei(Imei::from_body(body).unwrap())
    }

    async fn stolen_full_twice_then_delta_twice(s: &SqlStore) {
        let r = go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (2, 0, 0), "{r}");
        let blocked = s.list_subjects(ListKind::Blocked).await.unwrap();
        assert_eq!(
            blocked,
            vec![
                (imei(35_693_803_564_380), Reason::Stolen),
                (imei(49_015_420_323_751), Reason::Stolen)
            ]
        );
        let feed = s.feed_position().await.unwrap();
        let audit = s.audit_head().await.unwrap();
        // The same file again changes nothing, not even the audit log.
        let r = go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (0, 0, 0));
        assert!(
            r.text.contains(
                "no change (3 unchanged, 1 with a status that lists nothing, 1 repeated)"
            ),
            "{r}"
        );
        assert_eq!(s.feed_position().await.unwrap(), feed);
        assert_eq!(s.audit_head().await.unwrap(), audit);
        // The delta: one confirmed (pending to blacklist: added), one updated (new reporting
        // date), one removed, one reported (pending: kept on the stolen list, blocking nothing).
        let r = go(s, DirbsList::Stolen, "stolen_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.updated, r.removed), (1, 1, 1), "{r}");
        let rows = s
            .dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        assert_eq!(
            rows.iter()
                .map(|r| (r.subject, r.fields.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (
                    imei(35_209_900_176_148),
                    r#"{"reporting_date":"20260910","status":"blacklist"}"#
                ),
                (
                    imei(35_693_803_564_380),
                    r#"{"reporting_date":"20260902","status":"Blacklist"}"#
                ),
                (
                    imei(86_011_204_080_570),
                    r#"{"reporting_date":"20260912","status":"pending"}"#
                ),
            ]
        );
        let entries = s
            .list_source(ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].note.as_deref(), Some("reported 2026-09-10"));
        assert_eq!(entries[0].reference.as_deref(), Some("stolen"));
        assert_eq!(entries[1].note.as_deref(), Some("reported 2026-09-02"));
        let feed = s.feed_position().await.unwrap();
        let e = go(s, DirbsList::Stolen, "stolen_delta.csv", true)
            .await
            .unwrap_err();
        let e = format!("{e:#}");
        assert!(
            e.contains("line 2, imei \"490154203237518\": remove: not on the stolen list")
                && e.contains("line 5, imei \"860112040805708\": add: already on the stolen list"),
            "{e}"
        );
        assert_eq!(s.feed_position().await.unwrap(), feed);
        assert_eq!(
            s.dirbs_rows("stolen", ListKind::Blocked, "az-regulator")
                .await
                .unwrap(),
            rows
        );
    }

    async fn every_list_maps_to_its_registry_list(s: &SqlStore) {
        for (list, full, delta, kind) in [
            (
                DirbsList::Registration,
                "registration_full.csv",
                "registration_delta.csv",
                ListKind::Permitted,
            ),
            (
                DirbsList::Pairing,
                "pairing_full.csv",
                "pairing_delta.csv",
                ListKind::Exception,
            ),
            (
                DirbsList::BarredTac,
                "barred_tac_full.csv",
                "barred_tac_delta.csv",
                ListKind::BarredTac,
            ),
            (
                DirbsList::Monitoring,
                "monitoring_full.csv",
                "monitoring_delta.csv",
                ListKind::Tracked,
            ),
        ] {
            go(s, list, full, false).await.unwrap();
            let r = go(s, list, full, false).await.unwrap();
            assert_eq!((r.added, r.updated, r.removed), (0, 0, 0), "{list}: {r}");
            let r = go(s, list, delta, true).await.unwrap();
            assert!(r.added + r.removed > 0, "{list}: {r}");
            let entries = s.list_source(kind, "az-regulator").await.unwrap();
            assert!(entries
                .iter()
                .all(|e| e.reference.as_deref() == Some(list.name())));
        }
        assert_eq!(s.list_subjects(ListKind::Permitted).await.unwrap().len(), 3);
        assert_eq!(s.list_subjects(ListKind::Exception).await.unwrap().len(), 3);
        // The pairings keep their MSISDNs: one pair has two.
        let pairings: Vec<String> = s
            .exception_pairings()
            .await
            .unwrap()
            .into_iter()
            .map(|p| format!("{},{},{}", p.imei, p.imsi, p.msisdn.unwrap()))
            .collect();
        assert_eq!(
            pairings,
            vec![
                "352099001761481,400041234567893,994701234567",
                "356938035643809,400011234567890,994501234567",
                "356938035643809,400011234567890,994501234568",
                "490154203237518,434051234567892,998901234567",
            ]
        );
        assert_eq!(s.list_subjects(ListKind::BarredTac).await.unwrap().len(), 2);
        assert_eq!(
            s.list_subjects(ListKind::Tracked).await.unwrap(),
            vec![(imei(49_015_420_323_751), Reason::Investigation)]
        );
    }

    async fn barred_and_stolen_share_the_blocked_list(s: &SqlStore) {
        go(s, DirbsList::Stolen, "stolen_full.csv", false)
            .await
            .unwrap();
        // Both IMEIs of the barred list are already blocked as stolen by the same organisation.
        let r = go(s, DirbsList::Barred, "barred_full.csv", false)
            .await
            .unwrap();
        assert!(
            r.text
                .contains("2 already on the blocked list from another source"),
            "{r}"
        );
        // The barred list keeps both rows, as DIRBS does, so its delta may remove B; C, which the
        // stolen list only holds as pending, is blocked as barred.
        let r = go(s, DirbsList::Barred, "barred_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (1, 0), "{r}");
        let kept: Vec<Subject> = s
            .dirbs_rows("barred", ListKind::Blocked, "az-regulator")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.subject)
            .collect();
        assert_eq!(
            kept,
            vec![imei(35_209_900_176_148), imei(35_693_803_564_380)]
        );
        let entries = s
            .list_source(ListKind::Blocked, "az-regulator")
            .await
            .unwrap();
        let refs: Vec<&str> = entries
            .iter()
            .filter_map(|e| e.reference.as_deref())
            .collect();
        assert_eq!(refs, vec!["barred", "stolen", "stolen"]);
    }

    async fn golden_list_twice_and_bad_files(s: &SqlStore) {
        let r = go(s, DirbsList::Golden, "golden_full.csv", false)
            .await
            .unwrap();
        assert_eq!(r.added, 2);
        let audit = s.audit_head().await.unwrap();
        let r = go(s, DirbsList::Golden, "golden_full.csv", false)
            .await
            .unwrap();
        assert!(r.text.contains("no change"), "{r}");
        assert_eq!(s.audit_head().await.unwrap(), audit);
        let r = go(s, DirbsList::Golden, "golden_delta.csv", true)
            .await
            .unwrap();
        assert_eq!((r.added, r.removed), (1, 1));
        assert_eq!(s.golden_imeis().await.unwrap().len(), 2);
        // A bad file changes nothing.
        let feed = s.feed_position().await.unwrap();
        let e = go(s, DirbsList::Stolen, "stolen_bad.csv", false)
            .await
            .unwrap_err();
        assert!(format!("{e:#}").contains("5 bad rows"), "{e:#}");
        assert_eq!(s.feed_position().await.unwrap(), feed);
    }

    ceir_store::both_engines!(
        stolen_full_twice_then_delta_twice,
        every_list_maps_to_its_registry_list,
        barred_and_stolen_share_the_blocked_list,
        golden_list_twice_and_bad_files,
    );
}
