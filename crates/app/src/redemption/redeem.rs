//! The redemption transaction (DESIGN.md §4): one code pays once.
//!
//! In the caller's transaction: take the code (`UPDATE … WHERE status = 'active' RETURNING`, which
//! waits at most the lock timeout for a concurrent redeemer), lock the customer and check their
//! limits, insert the redemption (unique per code and per idempotency key) and its disbursement,
//! audit, and wake the payout worker. MoMo is never called here. A refusal rolls back with the
//! transaction and leaves nothing but the interaction log.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::customers::Locked;
use super::limits::{Limited, LimitedSql};
use crate::audit::{Action, Actor, AuditEvent};
use crate::batches::BatchStatus;
use crate::codes::format::PromoCode;
use crate::codes::lifecycle::{CodeStatus, TakeSql};
use crate::settings::model::{PaymentSettings, RedemptionRules, UssdSettings};
use crate::sql::{Binder, Params, Slot};

/// A redemption that was accepted (or had already been accepted for the same request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redeemed {
    pub redemption_id: Uuid,
    pub disbursement_id: Uuid,
    pub amount: i64,
    pub currency: String,
    /// The payout waits for a Financial Administrator (amount above the approval threshold).
    pub awaiting_approval: bool,
}

/// Why a code was not redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UnknownCode,
    AlreadyRedeemed,
    Expired,
    /// The code is blocked or reported.
    Blocked,
    /// Its batch is blocked, expired or completed.
    CampaignClosed,
    /// The customer's daily or monthly prize limit, or their one prize when only one is allowed.
    CustomerLimit,
    /// The customer's last prize is more recent than settings
    /// `business.redemption.cooldownPeriodMinutes`.
    CoolingDown,
    /// The phone's attempt limits (settings `ussd`): this attempt crossed one, or the phone is
    /// inside the block an earlier crossing started.
    TooManyAttempts(Limited),
    /// No such code, and its check character is wrong while some batch's codes carry one: a
    /// typing mistake rather than a guess (the customer is asked to type it again).
    Mistyped,
    /// A person blocked this phone after a fraud review (`review`).
    Barred,
}

impl Refusal {
    /// The interaction-log outcome.
    pub fn outcome(self) -> &'static str {
        match self {
            Refusal::UnknownCode => "unknown_code",
            Refusal::AlreadyRedeemed => "already_redeemed",
            Refusal::Expired => "expired",
            Refusal::Blocked => "blocked",
            Refusal::CampaignClosed => "campaign_closed",
            Refusal::CustomerLimit => "customer_limit",
            Refusal::CoolingDown => "cooling_down",
            Refusal::TooManyAttempts(Limited::Crossed) => "rate_limited",
            Refusal::TooManyAttempts(Limited::Blocked) => "phone_blocked",
            Refusal::Mistyped => "typo",
            Refusal::Barred => "phone_barred",
        }
    }
}

pub struct Attempt<'a> {
    pub customer: &'a Locked,
    pub code: &'a PromoCode,
    /// One per gateway request (`ussd:<sessionId>:<text>`): a repeated request finds its redemption.
    pub idempotency_key: &'a str,
    /// The code's check character does not match (see [`look`]).
    pub check_fails: bool,
    pub ussd_session_id: Option<&'a str>,
    /// The network the gateway named for this dial, frozen on the redemption (the rollups group by it).
    pub network_code: Option<&'a str>,
    /// The language the customer is served in, frozen on the redemption likewise.
    pub language: &'a str,
    /// The phone's attempt limits, checked in the same statement.
    pub limits: &'a UssdSettings,
    /// How long after its expiry date a code may still be redeemed (settings
    /// `business.expiration.gracePeriodHours`; the batch refresh waits as long).
    pub grace: Duration,
    pub now: DateTime<Utc>,
}

/// What a code is worth now, for "check a code" (no state change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeState {
    pub amount: i64,
    pub currency: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The redemption statement's one row: the attempt limits, and what it took if it took the code.
#[derive(sqlx::FromRow)]
struct Taken {
    limited: Option<String>,
    barred: bool,
    redemption_id: Option<Uuid>,
    disbursement_id: Option<Uuid>,
    amount: Option<i64>,
    currency: Option<String>,
    status: Option<String>,
    promo_code_id: Option<Uuid>,
    batch_id: Option<Uuid>,
}

/// The redemption statement, assembled once: the phone's attempt limits ([`LimitedSql`]), the
/// code's move to `used` ([`TakeSql`], the code lifecycle's), and its own parameters.
struct RedeemSql {
    sql: String,
    limited: LimitedSql,
    take: TakeSql,
    own: Slot,
    params: usize,
}

static REDEEM: LazyLock<RedeemSql> = LazyLock::new(|| {
    let mut p = Params::new();
    let limited = LimitedSql::new(&mut p);
    let take = TakeSql::new(&mut p, "c");
    let (
        own,
        [code, user, customer, day, month, once, per_day, cooldown, day_limit, month_limit, key, session, msisdn, manual, threshold, attempts, valid_after, network, language],
    ) = p.take::<19>();
    let (phone, now) = (&limited.phone, &limited.now);
    let sql = format!(
        r#"with limited as ({limited_query}),
           barred as (select exists (select 1 from customers where id = {customer} and blocked_at is not null) as barred),
           sums as (
             select coalesce(sum(amount) filter (where created_at >= {day} and status <> 'reversed'), 0)::int8 as today,
                    coalesce(sum(amount) filter (where created_at >= {month} and status <> 'reversed'), 0)::int8 as month,
                    count(*) filter (where created_at >= {day} and status <> 'reversed') as today_count,
                    count(*) filter (where status <> 'reversed') as ever,
                    max(created_at) filter (where status <> 'reversed') as last,
                    count(*) > 0 as returning_customer
             from redemptions where user_id = {user}),
           code as (
             update promo_codes c set {set}
             from batches b, sums s, limited l, barred x
             where c.code = {code} and {guard}
               and b.id = c.batch_id and b.status = 'active' and b.expiration_date > {valid_after}
               and l.limited is null and not x.barred
               and not ({once} and s.ever > 0)
               and not ({per_day} > 0 and s.today_count >= {per_day})
               and (s.last is null or s.last + make_interval(mins => {cooldown}) <= {now})
               and s.today + c.amount <= {day_limit} and s.month + c.amount <= {month_limit}
             returning c.id, c.batch_id, c.amount, c.currency),
           r as (
             insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, currency,
                                      idempotency_key, ussd_session_id, network_code, language, returning_customer,
                                      created_at)
             select {user}, {customer}, code.id, code.batch_id, {phone}, code.amount, code.currency, {key}, {session},
                    {network}, {language}, s.returning_customer, {now} from code, sums s
             returning id, amount, currency, promo_code_id, batch_id),
           d as (
             insert into disbursements (redemption_id, msisdn, amount, currency, status, max_attempts,
                                        next_attempt_at, created_at, updated_at)
             select r.id, {msisdn}, r.amount, r.currency,
                    case when {manual} and r.amount > {threshold} then 'awaiting_approval' else 'queued' end, {attempts}, {now}, {now}, {now}
             from r
             returning id, status)
         select l.limited, x.barred, r.id as redemption_id, d.id as disbursement_id, r.amount, r.currency, d.status,
                r.promo_code_id, r.batch_id
         from limited l cross join barred x left join (r cross join d) on true"#,
        limited_query = limited.query,
        set = take.set,
        guard = take.guard,
    );
    RedeemSql {
        sql,
        limited,
        take,
        own,
        params: p.count(),
    }
});

/// Redeems in the caller's transaction. Nothing changes unless the redemption is accepted, so a
/// refusal needs no rollback; an error (a lock timeout, say) aborts the caller's transaction. The
/// audit event is pushed to `audit`, for the caller to record before it commits.
///
/// One statement: the customer's row is already locked by this transaction ([`Locked`]), so two
/// redemptions by one customer cannot both fit the limits; the statement, whose snapshot is taken
/// after that lock was granted, counts the phone's attempts (its attempt limits), sums the prize
/// limits over every committed redemption, takes the code only if the code, its batch and all
/// those limits allow it, and inserts the redemption and its disbursement. The redemption carries
/// what the rollups group it by, frozen (decision 0039): the hop's network and language, and
/// whether the customer had redeemed before (from the same sums). The caller wakes the payout
/// worker after committing ([`super::wake_payouts`]).
pub async fn redeem(
    conn: &mut PgConnection,
    a: &Attempt<'_>,
    pay: &PaymentSettings,
    rules: &RedemptionRules,
    audit: &mut Vec<AuditEvent>,
) -> Result<Result<Redeemed, Refusal>, sqlx::Error> {
    let (day_start, month_start) = kigali_day_and_month(a.now);
    let RedeemSql {
        sql,
        limited,
        take,
        own,
        params,
    } = &*REDEEM;
    let b = Binder::new(sqlx::query_as(sql.as_str()));
    let b = limited.bind(b, &a.customer.msisdn, a.now, a.limits);
    let valid_after = a.now - a.grace;
    let b = take.bind_with_grace(b, a.now, valid_after);
    let b = b.at(*own, |b| {
        b.bind(a.code.as_str())
            .bind(a.customer.user_id)
            .bind(a.customer.id)
            .bind(day_start)
            .bind(month_start)
            .bind(!rules.allow_multiple_redemptions)
            .bind(rules.max_redemptions_per_user as i32)
            .bind(rules.cooldown_period_minutes as i32)
            .bind(pay.per_user_daily_limit)
            .bind(pay.per_user_monthly_limit)
            .bind(a.idempotency_key)
            .bind(a.ussd_session_id)
            .bind(a.customer.msisdn.trim_start_matches('+'))
            .bind(pay.manual_approval_required)
            .bind(pay.approval_threshold)
            .bind((pay.max_retry_attempts.min(5) + 1) as i32)
            .bind(valid_after)
            .bind(a.network_code)
            .bind(a.language)
    });
    let t: Taken = b.finish(*params).fetch_one(&mut *conn).await?;
    if t.barred {
        return Ok(Err(Refusal::Barred));
    }
    if let Some(limited) = Limited::parse(t.limited.as_deref()) {
        return Ok(Err(Refusal::TooManyAttempts(limited)));
    }
    let (
        Some(redemption_id),
        Some(disbursement_id),
        Some(amount),
        Some(currency),
        Some(status),
        Some(code_id),
        Some(batch_id),
    ) = (
        t.redemption_id,
        t.disbursement_id,
        t.amount,
        t.currency,
        t.status,
        t.promo_code_id,
        t.batch_id,
    )
    else {
        return refusal(conn, a, rules).await;
    };
    audit.push(
        AuditEvent::new(
            Actor::Customer {
                user_id: a.customer.user_id,
            },
            Action::RedemptionCreated,
            "redemption",
            redemption_id,
        )
        .after(json!({
            "promoCodeId": code_id,
            "codeStatus": "used",
            "batchId": batch_id,
            "amount": amount,
            "currency": currency,
            "disbursementId": disbursement_id,
            "disbursementStatus": status,
            "ussdSessionId": a.ussd_session_id,
        })),
    );
    Ok(Ok(Redeemed {
        redemption_id,
        disbursement_id,
        amount,
        currency,
        awaiting_approval: status == "awaiting_approval",
    }))
}

/// Why the code could not be taken — or, for a repeated request, the redemption it already made.
async fn refusal(
    conn: &mut PgConnection,
    a: &Attempt<'_>,
    rules: &RedemptionRules,
) -> Result<Result<Redeemed, Refusal>, sqlx::Error> {
    let again: Option<(Uuid, Uuid, i64, String, String)> = sqlx::query_as(
        r#"select r.id, d.id, r.amount, r.currency, d.status from redemptions r
           join disbursements d on d.redemption_id = r.id where r.idempotency_key = $1"#,
    )
    .bind(a.idempotency_key)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((redemption_id, disbursement_id, amount, currency, status)) = again {
        return Ok(Ok(Redeemed {
            redemption_id,
            disbursement_id,
            amount,
            currency,
            awaiting_approval: status == "awaiting_approval",
        }));
    }
    Ok(Err(match look(conn, a.code, a.check_fails, a.now, a.grace).await? {
        // the code could be redeemed: the customer's limits stopped it — the wait between prizes
        // when that is what is left to wait for
        Ok(_) if cooling_down(conn, a, rules).await? => Refusal::CoolingDown,
        Ok(_) => Refusal::CustomerLimit,
        Err(r) => r,
    }))
}

/// Whether the customer may win again, but not yet: more prizes are allowed and their last one is
/// within the cool-down.
async fn cooling_down(conn: &mut PgConnection, a: &Attempt<'_>, rules: &RedemptionRules) -> Result<bool, sqlx::Error> {
    if !rules.allow_multiple_redemptions || rules.cooldown_period_minutes == 0 {
        return Ok(false);
    }
    sqlx::query_scalar(
        "select coalesce(max(created_at) + make_interval(mins => $2) > $3, false) from redemptions \
         where user_id = $1 and status <> 'reversed'",
    )
    .bind(a.customer.user_id)
    .bind(rules.cooldown_period_minutes as i32)
    .bind(a.now)
    .fetch_one(conn)
    .await
}

/// The code's state without changing it: what it is worth, or why it cannot be redeemed.
///
/// A code that does not exist is [`Refusal::Mistyped`] when its check character is wrong
/// (`check_fails`) and some batch's codes carry check characters (a batch records that when it is
/// made, migration 23): typo detection applies only to such codes, so switching the setting on
/// never turns a code printed before into a "typo". Asked in the same round trip. A code is
/// still good for `grace` after its expiry date (the redemption's rule).
pub async fn look(
    conn: &mut PgConnection,
    code: &PromoCode,
    check_fails: bool,
    now: DateTime<Utc>,
    grace: Duration,
) -> Result<Result<CodeState, Refusal>, sqlx::Error> {
    let valid_after = now - grace;
    type Row = (
        Option<CodeStatus>,
        Option<DateTime<Utc>>,
        Option<i64>,
        Option<String>,
        Option<BatchStatus>,
        Option<DateTime<Utc>>,
        bool,
    );
    let row: Row = sqlx::query_as(
        r#"select f.*, $2 and exists (select 1 from batches where check_character) as mistyped
           from (select 1) one left join (
             select c.status, c.expires_at, c.amount, c.currency, b.status as batch_status, b.expiration_date
             from promo_codes c join batches b on b.id = c.batch_id where c.code = $1) f on true"#,
    )
    .bind(code.as_str())
    .bind(check_fails)
    .fetch_one(conn)
    .await?;
    let mistyped = row.6;
    let (Some(status), expires_at, Some(amount), Some(currency), Some(batch_status), Some(batch_expiry), _) = row
    else {
        return Ok(Err(if mistyped {
            Refusal::Mistyped
        } else {
            Refusal::UnknownCode
        }));
    };
    let refusal = match status {
        CodeStatus::Used | CodeStatus::Redeemed => Some(Refusal::AlreadyRedeemed),
        CodeStatus::Expired => Some(Refusal::Expired),
        CodeStatus::Blocked | CodeStatus::Reported => Some(Refusal::Blocked),
        CodeStatus::Active if expires_at.is_some_and(|e| e <= valid_after) => Some(Refusal::Expired),
        CodeStatus::Active if batch_status == BatchStatus::Expired || batch_expiry <= valid_after => {
            Some(Refusal::Expired)
        }
        CodeStatus::Active if batch_status != BatchStatus::Active => Some(Refusal::CampaignClosed),
        CodeStatus::Active => None,
    };
    Ok(match refusal {
        Some(r) => Err(r),
        None => Ok(CodeState {
            amount,
            currency,
            expires_at: expires_at.or(Some(batch_expiry)),
        }),
    })
}

/// The start of today and of this month in Kigali, as instants.
fn kigali_day_and_month(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let tz = crate::clock::kigali();
    let local = now.with_timezone(&tz).date_naive();
    let start = |d: chrono::NaiveDate| {
        tz.from_local_datetime(&d.and_time(NaiveTime::MIN))
            .single()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now - Duration::days(1))
    };
    let month = local.with_day(1).unwrap_or(local);
    (start(local), start(month))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kigali_days_start_at_local_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 23, 30, 0).single().expect("time");
        // 01:30 on the 26th in Kigali
        let (day, month) = kigali_day_and_month(now);
        assert_eq!(
            day,
            Utc.with_ymd_and_hms(2026, 11, 25, 22, 0, 0).single().expect("time")
        );
        assert_eq!(
            month,
            Utc.with_ymd_and_hms(2026, 10, 31, 22, 0, 0).single().expect("time")
        );
    }
}
