//! The unit of work every state-changing use case runs in, and the acting context it runs for.
//!
//! A handler (API or page), a job or the CLI does the same three steps:
//!
//! ```ignore
//! let mut unit = state.unit().await?;              // begin
//! let out = ops::approve(&mut unit, cmd, &acting).await?; // the use case, in the transaction
//! unit.commit().await?;                            // commit, then the after-commit wake-ups
//! ```
//!
//! A use case that needs something woken once its changes are visible (the payout worker after a
//! redemption or an approval) asks the unit with [`Unit::wake`]; the wake-up happens only after a
//! successful commit, never inside the transaction (a notifying commit takes a global lock,
//! decision 0013) and never for a rolled-back unit. Dropping a unit without committing rolls it
//! back.
//!
//! [`Acting`] is who acts, from where and when — the three things every audited change needs —
//! so that service signatures take one `&Acting` instead of `actor, meta, now`.

use std::ops::{Deref, DerefMut};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::audit::{Action, Actor, AuditEvent, RequestMeta};
use crate::error::AppError;

/// Who acts, from where, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub actor: Actor,
    pub meta: RequestMeta,
    pub now: DateTime<Utc>,
}

impl Acting {
    pub fn new(actor: Actor, meta: RequestMeta, now: DateTime<Utc>) -> Self {
        Self { actor, meta, now }
    }

    /// The system itself (the worker, a scheduled job): no request behind it.
    pub fn system(now: DateTime<Utc>) -> Self {
        Self::new(Actor::System, RequestMeta::default(), now)
    }

    /// The acting person's user id, when a person (or their API key) acts.
    pub fn user_id(&self) -> Option<Uuid> {
        self.actor.user_id()
    }

    /// An audit event by this actor with this request's metadata.
    pub fn audit(&self, action: Action, entity_type: &'static str, entity_id: impl ToString) -> AuditEvent {
        AuditEvent::new(self.actor, action, entity_type, entity_id).meta(self.meta.clone())
    }
}

/// What a unit wakes once it has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The payout worker: a payout became due (redemption, approval, retry, new payee).
    Payouts,
}

/// One transaction, and the wake-ups to run after it commits.
pub struct Unit {
    tx: Transaction<'static, Postgres>,
    pool: PgPool,
    wakes: Vec<Wake>,
}

impl Unit {
    pub async fn begin(pool: &PgPool) -> Result<Self, AppError> {
        Ok(Self {
            tx: pool.begin().await?,
            pool: pool.clone(),
            wakes: Vec::new(),
        })
    }

    /// Asks for `wake` once this unit has committed.
    pub fn wake(&mut self, wake: Wake) {
        if !self.wakes.contains(&wake) {
            self.wakes.push(wake);
        }
    }

    /// Commits, then runs the wake-ups the use case asked for.
    pub async fn commit(self) -> Result<(), AppError> {
        let Unit { tx, pool, wakes } = self;
        tx.commit().await?;
        for wake in wakes {
            match wake {
                Wake::Payouts => crate::redemption::wake_payouts(&pool),
            }
        }
        Ok(())
    }
}

impl Deref for Unit {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for Unit {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}
