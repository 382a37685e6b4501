//! Test support: a fresh store of either engine. PostgreSQL tests find their server through
//! `CEIR_TEST_POSTGRES` (default: the local server); without one they are skipped loudly, unless
//! `CEIR_REQUIRE_POSTGRES=1` (as in CI) makes that a failure.

use crate::{SqlStore, StoreConfig, StoreError};

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The test server's URL. Statements and lock waits are bounded, so a test that would wait
/// forever fails instead.
pub fn pg_url() -> String {
    let url = std::env::var("CEIR_TEST_POSTGRES").unwrap_or_else(|_| DEFAULT_PG.to_owned());
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20statement_timeout%3D120s%20-c%20lock_timeout%3D60s")
}

/// A fresh SQLite store in a temporary directory (kept alive by the returned guard).
pub async fn sqlite() -> Result<(SqlStore, tempfile::TempDir), StoreError> {
    let dir = tempfile::tempdir()
        .map_err(|e| StoreError::NotFound(format!("a temporary directory ({e})")))?;
    let store = SqlStore::open(&StoreConfig::Sqlite {
        path: dir.path().join("ceir.db"),
    })
    .await?;
    Ok((store, dir))
}

/// A unique schema name for one test.
pub fn schema_name(test: &str) -> String {
    let clean: String = test
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(30)
        .collect();
    format!("t_{clean}_{}_{}", std::process::id(), rand::random::<u32>())
}

/// A fresh PostgreSQL store in its own schema, or `None` (with a loud message) when no server
/// answers and none is required.
pub async fn postgres(test: &str) -> Option<(SqlStore, String)> {
    let schema = schema_name(test);
    let url = pg_url();
    match SqlStore::open(&StoreConfig::Postgres {
        url: url.clone(),
        schema: Some(schema.clone()),
    })
    .await
    {
        Ok(s) => Some((s, schema)),
        Err(e) => {
            if std::env::var("CEIR_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                eprintln!("PostgreSQL is required (CEIR_REQUIRE_POSTGRES=1) but {url} failed: {e}");
                std::process::exit(101);
            }
            eprintln!("\n*** SKIPPED PostgreSQL test {test}: no server at {url} ({e}). Set CEIR_TEST_POSTGRES to run it. ***\n");
            None
        }
    }
}

/// Opens a second handle on an existing PostgreSQL schema (another "process").
pub async fn postgres_again(schema: &str) -> Result<SqlStore, StoreError> {
    SqlStore::open(&StoreConfig::Postgres {
        url: pg_url(),
        schema: Some(schema.to_owned()),
    })
    .await
}

/// Closes the store and drops its schema; bounded so a stuck connection cannot hang a test run.
pub async fn drop_postgres(store: SqlStore, schema: &str) {
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), store.close()).await;
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        SqlStore::drop_schema(&pg_url(), schema),
    )
    .await;
}

/// What every storage test must leave true, on either engine: the lists, history and feed agree
/// (`Store::integrity_check`) and the audit chain verifies against its head.
pub async fn problems(s: &SqlStore) -> Result<Vec<String>, StoreError> {
    use crate::{AuditStore, Store};
    let mut problems = s.integrity_check().await?.problems;
    if let Err(b) = s.audit_verify().await? {
        problems.push(format!("audit chain broken at record {}: {b}", b.seq()));
    }
    Ok(problems)
}

/// Runs each named `async fn(&SqlStore)` as two tests, on SQLite and on PostgreSQL, each ending
/// with [`problems`] empty: one suite, both engines, and an integrity check after every test.
#[macro_export]
macro_rules! both_engines {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let (s, _dir) = $crate::testkit::sqlite().await.unwrap();
                    super::$name(&s).await;
                    let problems = $crate::testkit::problems(&s).await.unwrap();
                    assert!(problems.is_empty(), "integrity: {problems:?}");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some((s, schema)) = $crate::testkit::postgres(stringify!($name)).await else {
                        return;
                    };
                    super::$name(&s).await;
                    let problems = $crate::testkit::problems(&s).await.unwrap();
                    assert!(problems.is_empty(), "integrity: {problems:?}");
                    $crate::testkit::drop_postgres(s, &schema).await;
                }
            )*
        }
    };
}

/// The audit records of one action, oldest first (tests check that an action was recorded).
pub async fn audited(
    store: &dyn crate::AuditStore,
    action: &str,
) -> Result<Vec<ceir_domain::audit::AuditRecord>, StoreError> {
    let filter = crate::AuditFilter {
        action: Some(action.to_owned()),
        ..Default::default()
    };
    store.audit_page(&filter, 0, 1000).await
}
