//! Attempt limits per phone, counted from the interaction log (DESIGN.md §1: no second store).
//!
//! An attempt is a well-formed code: one that reached the database (a guess, a typo told by its
//! check character after the lookup, or a redemption), or one with a character no code has
//! (answered without a lookup, but still typed at the code prompt; issue 17, item 14). Menu hops
//! and keypad slips (a `*`, a wrong length) are not. Crossing the minute, hour or day limit refuses the attempt and
//! starts a block of `blockDurationMinutes`, which further attempts inside it do not extend.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::settings::model::UssdSettings;
use crate::sql::{Bind, Binder, Params, Slot};

/// Interaction outcomes that count as attempts.
pub const ATTEMPTS: &[&str] = &[
    "redeemed",
    "code_valid",
    "unknown_code",
    "already_redeemed",
    "expired",
    "blocked",
    "campaign_closed",
    "customer_limit",
    "cooling_down",
    "typo",
    "not_a_code",
];

/// Why an attempt is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// This attempt crossed a limit (outcome `rate_limited`, starts the block).
    Crossed,
    /// Inside the block started by an earlier crossing (outcome `phone_blocked`).
    Blocked,
}

/// The attempt limits of one phone as a query of one row and one column, `limited`: `'blocked'`,
/// `'crossed'` or null. The redemption statement runs it as a `with` item, and so refuses in the
/// same round trip; its placeholders for the phone and the time are public, for the statement
/// around it to use too.
#[derive(Debug, Clone)]
pub struct LimitedSql {
    slot: Slot,
    pub query: String,
    /// The phone's placeholder (E.164).
    pub phone: String,
    /// The time's placeholder.
    pub now: String,
}

impl LimitedSql {
    /// Takes seven placeholders.
    pub fn new(p: &mut Params) -> Self {
        let (slot, [phone, now, attempts, block, minute, hour, day]) = p.take::<7>();
        let query = format!(
            r#"select case
                    when max(created_at) filter (where outcome = 'rate_limited') + make_interval(mins => {block}) > {now}
                      then 'blocked'
                    when count(*) filter (where created_at > {now} - interval '1 minute' and outcome = any({attempts})) >= {minute}
                      or count(*) filter (where created_at > {now} - interval '1 hour' and outcome = any({attempts})) >= {hour}
                      or count(*) filter (where outcome = any({attempts})) >= {day}
                      then 'crossed'
                  end as limited
           from ussd_interactions
           where phone_number = {phone} and created_at > {now} - interval '1 day'"#
        );
        LimitedSql {
            slot,
            query,
            phone,
            now,
        }
    }

    /// Binds the phone (E.164), the time and the settings' limits at the fragment's slot.
    pub fn bind<'q, Q: Bind<'q>>(
        &self,
        b: Binder<Q>,
        phone: &'q str,
        now: DateTime<Utc>,
        s: &UssdSettings,
    ) -> Binder<Q> {
        b.at(self.slot, |b| {
            b.bind(phone)
                .bind(now)
                .bind(ATTEMPTS)
                .bind(s.block_duration_minutes as i32)
                .bind(i64::from(s.max_attempts_per_minute))
                .bind(i64::from(s.max_attempts_per_hour))
                .bind(i64::from(s.max_attempts_per_day))
        })
    }
}

impl Limited {
    /// The value of [`LimitedSql`]'s column.
    pub(crate) fn parse(limited: Option<&str>) -> Option<Limited> {
        match limited? {
            "blocked" => Some(Limited::Blocked),
            _ => Some(Limited::Crossed),
        }
    }
}

pub async fn check(
    conn: &mut PgConnection,
    phone: &str,
    now: DateTime<Utc>,
    s: &UssdSettings,
) -> Result<Option<Limited>, sqlx::Error> {
    static SQL: LazyLock<(LimitedSql, usize)> = LazyLock::new(|| {
        let mut p = Params::new();
        (LimitedSql::new(&mut p), p.count())
    });
    let (sql, params) = &*SQL;
    let limited: Option<String> = sql
        .bind(Binder::new(sqlx::query_scalar(sql.query.as_str())), phone, now, s)
        .finish(*params)
        .fetch_one(conn)
        .await?;
    Ok(Limited::parse(limited.as_deref()))
}
