//! `TokenGuard`: the Durable Object that holds one single-use token to the event it authorized.
//!
//! Some signatures do not cover the content an event is read from (a Vonage voice `GET`: its
//! JWT does not cover the query), so the token must authorize one event only
//! (`switchboard_core::Provider::single_use_token`). One object per token, named by the token's
//! id: the tokens of different requests never meet in one object, so no object is hot however
//! many webhooks arrive. The object remembers the ids of the events its token first authorized;
//! the same events again (a provider's retry of the same request) are allowed, any other
//! events are refused. Its alarm erases it once the token has expired and could not verify
//! anyway.

use serde::Deserialize;
use switchboard_core::protocol::token_guard::{Claim, ClaimAnswer};
use worker::js_sys::{Date, Object};
use worker::{
    durable_object, DurableObject, Env, Request, Response, Result, SqlStorage, State, Storage,
};

/// How long after a token's expiry its object is erased: clocks of the worker and the object
/// may differ by a little.
const ERASE_MARGIN_MS: i64 = 60_000;

#[durable_object]
pub struct TokenGuard {
    storage: Storage,
    sql: SqlStorage,
}

impl DurableObject for TokenGuard {
    fn new(state: State, _env: Env) -> Self {
        let storage = state.storage();
        Self {
            sql: storage.sql(),
            storage,
        }
    }

    /// A [`Claim`]: held when the token is new or already holds exactly these events, refused
    /// as replayed when it authorized other events.
    async fn fetch(&self, request: Request) -> Result<Response> {
        let Some(Claim { events, expires_ms }) =
            Claim::parse(request.method().as_ref(), &request.inner().url())
        else {
            return answer(ClaimAnswer::Invalid);
        };
        self.sql.exec(
            "CREATE TABLE IF NOT EXISTS claim (events TEXT NOT NULL)",
            None,
        )?;
        #[derive(Deserialize)]
        struct Row {
            events: String,
        }
        let rows: Vec<Row> = self
            .sql
            .exec("SELECT events FROM claim", None)?
            .to_array()?;
        match rows.first() {
            Some(row) if row.events == events => answer(ClaimAnswer::Held),
            Some(_) => answer(ClaimAnswer::Replayed),
            None => {
                self.sql.exec(
                    "INSERT INTO claim (events) VALUES (?)",
                    vec![events.as_ref().into()],
                )?;
                let at = Date::new(&((expires_ms + ERASE_MARGIN_MS) as f64).into());
                let _ = self.storage.as_raw().set_alarm(at, Object::new())?;
                answer(ClaimAnswer::Held)
            }
        }
    }

    async fn alarm(&self) -> Result<Response> {
        self.storage.delete_all().await?;
        Response::empty()
    }
}

fn answer(answer: ClaimAnswer) -> Result<Response> {
    Ok(Response::empty()?.with_status(answer.status()))
}
