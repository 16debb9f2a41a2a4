//! `Source`: the Durable Object that keeps one provider's health (`switchboard_core::sources`),
//! named by the provider. It is never on a webhook's path: isolates send it their batches at
//! most every few seconds, after the webhooks they counted were answered (`src/sources.rs`), so
//! it takes a few requests per isolate per minute however many webhooks arrive.
//!
//! Storage (SQLite): `counts`, one row per minute and outcome (`accepted`, `duplicates`,
//! `refused:{code}`), kept for a day; `samples`, the last refused requests; `keeper`, in the
//! `vonage-business` object only, what the VIS keeper last saw and did (`src/vis_keeper.rs`),
//! which it runs here, one run at a time.

use std::cell::{Cell, RefCell};

use serde::Deserialize;
use switchboard_core::protocol::source::Request as SourceRequest;
use switchboard_core::providers::vonage_business::keeper::{AccessToken, KeeperState};
use switchboard_core::sources::{
    oldest_kept_bucket, Counts, Health, ProviderBatch, RefusalSample, MAX_SAMPLES,
};
use switchboard_core::Timestamp;
use worker::js_sys::Date;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS counts (
        bucket INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (bucket, outcome)
    );
    CREATE TABLE IF NOT EXISTS samples (at INTEGER NOT NULL, sample TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS keeper (id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL)";

const REFUSED: &str = "refused:";

#[durable_object]
pub struct Source {
    sql: SqlStorage,
    env: Env,
    /// The VIS API's access token, in memory only: an evicted object gets a new one.
    token: RefCell<Option<AccessToken>>,
    /// A keeper run is under way: a second request answers what the first will record.
    running: Cell<bool>,
}

impl DurableObject for Source {
    fn new(state: State, env: Env) -> Self {
        Self {
            sql: state.storage().sql(),
            env,
            token: RefCell::new(None),
            running: Cell::new(false),
        }
    }

    async fn fetch(&self, mut request: Request) -> Result<Response> {
        self.sql.exec(SCHEMA, None)?;
        match SourceRequest::parse(request.method().as_ref(), &request.inner().url()) {
            Some(SourceRequest::Record) => {
                let batch: ProviderBatch = serde_json::from_str(&request.text().await?)?;
                self.record(&batch)?;
                Ok(Response::empty()?.with_status(204))
            }
            Some(SourceRequest::Health) => Response::from_json(&self.health()?),
            Some(SourceRequest::Maintain) => self.maintain().await,
            None => Ok(Response::empty()?.with_status(404)),
        }
    }
}

/// Clears the running flag when a run ends, also when its request goes away mid-run.
struct Running<'a>(&'a Cell<bool>);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Source {
    /// Runs the VIS keeper now (409 while a run is under way, 503 while it is not configured)
    /// and answers the state it recorded.
    async fn maintain(&self) -> Result<Response> {
        let Ok(config) = crate::load_config(&self.env) else {
            return Ok(Response::empty()?.with_status(503));
        };
        let Some(keeper) = config.vis_keeper.as_ref() else {
            return Ok(Response::empty()?.with_status(503));
        };
        if self.running.replace(true) {
            return Ok(Response::empty()?.with_status(409));
        }
        let _running = Running(&self.running);
        let mut state = self.keeper_state()?.unwrap_or_default();
        let now = Timestamp::from_millis(Date::now() as i64);
        crate::vis_keeper::run(
            &self.env,
            &config,
            keeper,
            &self.token,
            &mut state,
            self.last_accepted_minute()?,
            now,
        )
        .await;
        self.sql.exec(
            "INSERT INTO keeper (id, state) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state",
            vec![serde_json::to_string(&state)?.into()],
        )?;
        Response::from_json(&state)
    }

    /// The keeper's recorded state; `None` before its first run.
    fn keeper_state(&self) -> Result<Option<KeeperState>> {
        #[derive(Deserialize)]
        struct Row {
            state: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec("SELECT state FROM keeper WHERE id = 1", None)?
            .to_array()?;
        Ok(rows
            .first()
            .and_then(|row| serde_json::from_str(&row.state).ok()))
    }

    /// The last minute an accepted webhook was counted in.
    fn last_accepted_minute(&self) -> Result<Option<i64>> {
        #[derive(Deserialize)]
        struct Row {
            bucket: Option<i64>,
        }
        let rows: Vec<Row> = self
            .sql
            .exec(
                "SELECT MAX(bucket) AS bucket FROM counts WHERE outcome = 'accepted'",
                None,
            )?
            .to_array()?;
        Ok(rows.first().and_then(|row| row.bucket))
    }

    /// Adds a batch, and forgets counts older than a day and samples beyond the last
    /// [`MAX_SAMPLES`].
    fn record(&self, batch: &ProviderBatch) -> Result<()> {
        for (bucket, counts) in &batch.buckets {
            let outcomes = [
                ("accepted".to_owned(), counts.accepted),
                ("duplicates".to_owned(), counts.duplicates),
            ]
            .into_iter()
            .chain(
                counts
                    .refused
                    .iter()
                    .map(|(code, n)| (format!("{REFUSED}{code}"), *n)),
            )
            .filter(|(_, n)| *n > 0);
            for (outcome, n) in outcomes {
                self.sql.exec(
                    "INSERT INTO counts (bucket, outcome, n) VALUES (?, ?, ?)
                     ON CONFLICT (bucket, outcome) DO UPDATE SET n = n + excluded.n",
                    vec![(*bucket).into(), outcome.into(), (n as i64).into()],
                )?;
            }
        }
        for sample in &batch.samples {
            self.sql.exec(
                "INSERT INTO samples (at, sample) VALUES (?, ?)",
                vec![
                    sample.at.millis().into(),
                    serde_json::to_string(sample)?.into(),
                ],
            )?;
        }
        let now = Timestamp::from_millis(Date::now() as i64);
        self.sql.exec(
            "DELETE FROM counts WHERE bucket < ?",
            vec![oldest_kept_bucket(now).into()],
        )?;
        if !batch.samples.is_empty() {
            self.sql.exec(
                "DELETE FROM samples WHERE rowid NOT IN (SELECT rowid FROM samples ORDER BY at DESC LIMIT ?)",
                vec![(MAX_SAMPLES as i64).into()],
            )?;
        }
        Ok(())
    }

    fn health(&self) -> Result<Health> {
        #[derive(Deserialize)]
        struct CountRow {
            bucket: i64,
            outcome: String,
            n: i64,
        }
        #[derive(Deserialize)]
        struct SampleRow {
            sample: String,
        }
        let rows: Vec<CountRow> = self
            .sql
            .exec(
                "SELECT bucket, outcome, n FROM counts ORDER BY bucket",
                None,
            )?
            .to_array()?;
        let mut buckets: Vec<(i64, Counts)> = Vec::new();
        for row in rows {
            if buckets
                .last()
                .is_none_or(|(bucket, _)| *bucket != row.bucket)
            {
                buckets.push((row.bucket, Counts::default()));
            }
            let Some((_, counts)) = buckets.last_mut() else {
                continue;
            };
            let n = u64::try_from(row.n).unwrap_or_default();
            match row.outcome.as_str() {
                "accepted" => counts.accepted += n,
                "duplicates" => counts.duplicates += n,
                outcome => {
                    if let Some(code) = outcome.strip_prefix(REFUSED) {
                        *counts.refused.entry(code.to_owned()).or_default() += n;
                    }
                }
            }
        }
        let samples: Vec<RefusalSample> = self
            .sql
            .exec("SELECT sample FROM samples", None)?
            .to_array::<SampleRow>()?
            .iter()
            .filter_map(|row| serde_json::from_str(&row.sample).ok())
            .collect();
        let now = Timestamp::from_millis(Date::now() as i64);
        let mut health = Health::from_stored(&buckets, &samples, now);
        health.keeper = self.keeper_state()?;
        Ok(health)
    }
}
