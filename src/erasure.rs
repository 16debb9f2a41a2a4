//! What a subject's erasure still owes the KV index, kept in the subject's own storage until it
//! is done: the `erasure` table, one row per key to delete (its list, status, alias and number
//! keys, its failed-delivery keys) or to write (a delivery failed as `expired`, listed as such).
//!
//! The rows are written in the same transaction that drops the subject's tables, so an erasure
//! is never half recorded; the alarm then makes the changes, [`MAX_CHANGES_PER_ALARM`] at a time,
//! and drops the table once they are all made. A KV call that fails leaves its rows for the next
//! alarm.

use serde::Deserialize;
use worker::{Env, Result, SqlStorage};

use crate::index::{self, KeyChange};
use crate::subject::table_exists;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS erasure (
        key TEXT PRIMARY KEY,
        entry TEXT,
        ttl_seconds INTEGER
    )";

/// The most KV calls one alarm makes for an erasure (an alarm that makes any does nothing else),
/// within the 50 subrequests of a Free-plan invocation.
const MAX_CHANGES_PER_ALARM: usize = 40;

/// Records `changes` as owed (a key named twice keeps its last change).
pub fn record(sql: &SqlStorage, changes: &[KeyChange]) -> Result<()> {
    sql.exec(SCHEMA, None)?;
    for change in changes {
        sql.exec(
            "INSERT OR REPLACE INTO erasure (key, entry, ttl_seconds) VALUES (?, ?, ?)",
            vec![
                change.key.as_str().into(),
                change.entry.as_deref().into(),
                change.ttl_seconds.into(),
            ],
        )?;
    }
    Ok(())
}

/// Whether changes are owed.
pub fn owed(sql: &SqlStorage) -> Result<bool> {
    table_exists(sql, "erasure")
}

/// Where an erasure's changes stand after [`run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owed {
    /// None were owed.
    Nothing,
    /// Some are left for the next alarm.
    More,
    /// The last ones are made now, and the table is gone.
    Done,
}

/// Makes up to [`MAX_CHANGES_PER_ALARM`] of the changes owed. The table goes once none are left.
pub async fn run(env: &Env, sql: &SqlStorage) -> Result<Owed> {
    if !owed(sql)? {
        return Ok(Owed::Nothing);
    }
    #[derive(Deserialize)]
    struct Row {
        key: String,
        entry: Option<String>,
        ttl_seconds: Option<i64>,
    }
    let rows: Vec<Row> = sql
        .exec(
            "SELECT key, entry, ttl_seconds FROM erasure ORDER BY key LIMIT ?",
            vec![(MAX_CHANGES_PER_ALARM as i64).into()],
        )?
        .to_array()?;
    let changes: Vec<KeyChange> = rows
        .into_iter()
        .map(|row| KeyChange {
            key: row.key,
            entry: row.entry,
            ttl_seconds: row.ttl_seconds,
        })
        .collect();
    index::change(env, &changes).await?;
    for change in &changes {
        sql.exec(
            "DELETE FROM erasure WHERE key = ? AND entry IS ?",
            vec![change.key.as_str().into(), change.entry.as_deref().into()],
        )?;
    }
    #[derive(Deserialize)]
    struct Count {
        n: i64,
    }
    let left: Vec<Count> = sql
        .exec("SELECT COUNT(*) AS n FROM erasure", None)?
        .to_array()?;
    if left.first().is_some_and(|count| count.n > 0) {
        return Ok(Owed::More);
    }
    sql.exec("DROP TABLE erasure", None)?;
    Ok(Owed::Done)
}
