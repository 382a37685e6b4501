//! [`ImportStore`] on SQLite and PostgreSQL.

use super::{corrupt, i, new_id, placeholders, u, Pool, SqlStore, CHUNK};
use crate::imports::{DaySketch, ImportJob, ImportStore, Verdict};
use crate::Result;
use ceir_domain::observe::Day;
use ceir_domain::Timestamp;

const COLS: &str =
    "id, kind, file, sha256, operator, period_start, period_end, rows_read, triplets, \
                    verdict, checks, daily, message, started_at, finished_at";

type JobRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    i64,
    i64,
);

fn job_of(r: JobRow) -> Result<ImportJob> {
    let (
        id,
        kind,
        file,
        sha256,
        operator,
        ps,
        pe,
        rows,
        triplets,
        verdict,
        checks,
        daily,
        message,
        s,
        f,
    ) = r;
    let day = |v: i64| {
        i32::try_from(v)
            .map(Day)
            .map_err(|e| corrupt("import period", e))
    };
    let period = match (ps, pe) {
        (Some(a), Some(b)) => Some((day(a)?, day(b)?)),
        _ => None,
    };
    Ok(ImportJob {
        id,
        kind,
        file,
        sha256,
        operator,
        period,
        rows: u(rows),
        triplets: u(triplets),
        verdict: Verdict::parse(&verdict).ok_or_else(|| corrupt("import verdict", &verdict))?,
        checks,
        daily,
        message,
        started_at: Timestamp(s),
        finished_at: Timestamp(f),
    })
}

#[async_trait::async_trait]
impl ImportStore for SqlStore {
    async fn record_import(&self, job: &ImportJob) -> Result<String> {
        self.record_operator_import(job, &[]).await
    }

    async fn record_operator_import(&self, job: &ImportJob, days: &[DaySketch]) -> Result<String> {
        let id = new_id();
        let is_pg = matches!(self.pool, Pool::Postgres(_));
        let operator = job.operator.as_deref().unwrap_or_default();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin().await?;
            sqlx::query(&format!(
                "INSERT INTO import_job ({COLS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            ))
            .bind(&id)
            .bind(&job.kind)
            .bind(&job.file)
            .bind(&job.sha256)
            .bind(job.operator.as_deref())
            .bind(job.period.map(|p| i64::from(p.0 .0)))
            .bind(job.period.map(|p| i64::from(p.1 .0)))
            .bind(i(job.rows))
            .bind(i(job.triplets))
            .bind(job.verdict.as_str())
            .bind(&job.checks)
            .bind(&job.daily)
            .bind(job.message.as_deref())
            .bind(job.started_at.0)
            .bind(job.finished_at.0)
            .execute(&mut *tx)
            .await?;
            // Seven text and number columns a row: well under both engines' bound parameters.
            for part in days.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO import_job_day (job_id, operator, day, complete_rows, imei_hll, imsi_hll, msisdn_hll) VALUES {}",
                    placeholders(part.len(), 7, is_pg)
                );
                let mut q = sqlx::query(&sql);
                for d in part {
                    q = q
                        .bind(id.as_str())
                        .bind(operator)
                        .bind(i64::from(d.day.0))
                        .bind(i(d.complete_rows))
                        .bind(d.imei.as_str())
                        .bind(d.imsi.as_str())
                        .bind(d.msisdn.as_str());
                }
                q.execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(id)
    }

    async fn operator_day_sketches(&self, operator: &str, days: u32) -> Result<Vec<DaySketch>> {
        let rows: Vec<(i64, i64, String, String, String)> = on_pool!(&self.pool, p => {
            sqlx::query_as(
                "SELECT day, complete_rows, imei_hll, imsi_hll, msisdn_hll FROM import_job_day \
                 WHERE operator = $1 AND day IN (SELECT day FROM import_job_day WHERE operator = $1 \
                 GROUP BY day HAVING SUM(complete_rows) > 0 ORDER BY day DESC LIMIT $2) \
                 ORDER BY day DESC, job_id",
            )
            .bind(operator)
            .bind(i64::from(days))
            .fetch_all(p)
            .await?
        });
        rows.into_iter()
            .map(|(day, complete, imei, imsi, msisdn)| {
                Ok(DaySketch {
                    day: i32::try_from(day)
                        .map(Day)
                        .map_err(|e| corrupt("sketch day", e))?,
                    complete_rows: u(complete),
                    imei,
                    imsi,
                    msisdn,
                })
            })
            .collect()
    }

    async fn import_jobs(
        &self,
        kind: Option<&str>,
        operator: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ImportJob>> {
        let rows: Vec<JobRow> = on_pool!(&self.pool, p => {
            sqlx::query_as(&format!(
                "SELECT {COLS} FROM import_job \
                 WHERE ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR operator = $2) \
                 ORDER BY finished_at DESC, started_at DESC, id DESC LIMIT $3"
            ))
            .bind(kind)
            .bind(operator)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(job_of).collect()
    }
}
