//! The fraud rules raised in the refusing hop's own transaction (the USSD service calls them where
//! it refuses a code), so an alert exists exactly when the attempt that caused it committed:
//!
//! - wrong-code bursts per phone: once the phone's unknown codes reach
//!   `business.redemption.wrongCodeFlagThreshold` within a day (the customer is flagged then), each
//!   further one counts on the same open alert;
//! - one real code tried from many phones, and many phones trying (used, expired, blocked) codes of
//!   one batch: the refusal is noted in `fraud_code_tries` and distinct phones counted over the last
//!   hour through its indexes;
//! - a customer above the redemption rules (refused for their prize limit).
//!
//! Only refusals reach here: a successful redemption costs nothing more.

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;

use crate::access::Permission;
use crate::alerts::{raise, NewAlert, Severity};
use crate::telemetry::mask_phone;

/// Distinct phones trying one refused code within [`TRY_WINDOW`] that raise `fraud.code_many_phones`.
pub const CODE_PHONES: i64 = 3;
/// Distinct phones trying refused codes of one batch within [`TRY_WINDOW`] that raise
/// `fraud.batch_many_phones`.
pub const BATCH_PHONES: i64 = 10;
/// How far back the distinct phones are counted.
pub const TRY_WINDOW: Duration = Duration::hours(1);

/// The wrong-code alert of `phone`, counted once per wrong code at or past the threshold.
pub async fn wrong_code_burst(
    conn: &mut PgConnection,
    phone: &str,
    wrong_today: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let alert = NewAlert::new(
        "fraud.wrong_code_burst",
        Severity::Warning,
        Permission::FraudAlertsView,
        format!("Wrong-code burst from {}", mask_phone(phone)),
    )
    .body(format!(
        "{wrong_today} unknown codes within a day from this phone; the customer is flagged for review. \
         Each further wrong code counts on this alert."
    ))
    .subject("customer_phone", phone)
    .dedupe(format!("fraud.wrong_code_burst:{phone}"));
    raise(conn, &alert, now).await
}

/// Notes that `phone` tried the real code `code` and was refused (`outcome`), then raises the
/// many-phones alerts when the distinct phones reach their thresholds.
pub async fn refused_code(
    conn: &mut PgConnection,
    code: &str,
    phone: &str,
    outcome: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let found: Option<(uuid::Uuid, uuid::Uuid, String)> = sqlx::query_as(
        "with c as (select id, batch_id from promo_codes where code = $1), \
              noted as (insert into fraud_code_tries (promo_code_id, batch_id, phone_number, outcome, created_at) \
                        select id, batch_id, $2, $3, $4 from c) \
         select c.id, c.batch_id, b.name from c join batches b on b.id = c.batch_id",
    )
    .bind(code)
    .bind(phone)
    .bind(outcome)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((code_id, batch_id, batch)) = found else {
        return Ok(());
    };
    // this hop's phone counts even if the insert above noted nothing new
    let (code_phones, batch_phones): (i64, i64) = sqlx::query_as(
        "select (select count(distinct p) from (select phone_number p from fraud_code_tries \
                   where promo_code_id = $1 and created_at > $3 union select $4) x), \
                (select count(distinct p) from (select phone_number p from fraud_code_tries \
                   where batch_id = $2 and created_at > $3 union select $4) y)",
    )
    .bind(code_id)
    .bind(batch_id)
    .bind(now - TRY_WINDOW)
    .bind(phone)
    .fetch_one(&mut *conn)
    .await?;
    if code_phones >= CODE_PHONES {
        let masked = crate::ussd::views::mask_code(code);
        let alert = NewAlert::new(
            "fraud.code_many_phones",
            Severity::Warning,
            Permission::FraudAlertsView,
            format!("Code {masked} tried from {code_phones} phones"),
        )
        .body(format!(
            "The code of batch {batch} was tried from {code_phones} different phones within an hour (last: {outcome}). \
             It may have been shared or leaked."
        ))
        .subject("promo_code", code_id)
        .dedupe(format!("fraud.code_many_phones:{code_id}"));
        raise(conn, &alert, now).await?;
    }
    if batch_phones >= BATCH_PHONES {
        let alert = NewAlert::new(
            "fraud.batch_many_phones",
            Severity::Warning,
            Permission::FraudAlertsView,
            format!("Batch {batch}: {batch_phones} phones trying refused codes"),
        )
        .body(format!(
            "{batch_phones} different phones tried codes of this batch that were already used, expired or blocked \
             within an hour. Someone may be guessing or replaying its codes."
        ))
        .subject("batch", batch_id)
        .dedupe(format!("fraud.batch_many_phones:{batch_id}"));
        raise(conn, &alert, now).await?;
    }
    Ok(())
}

/// The customer was refused for their prize limit (`business.redemption` rules): one open alert
/// per phone, counting each refusal.
pub async fn over_redemption_rules(
    conn: &mut PgConnection,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let alert = NewAlert::new(
        "fraud.customer_over_limit",
        Severity::Info,
        Permission::FraudAlertsView,
        format!("{} keeps redeeming above the redemption rules", mask_phone(phone)),
    )
    .body("The customer was refused for their prize limit and tried again. Each refusal counts on this alert.")
    .subject("customer_phone", phone)
    .dedupe(format!("fraud.customer_over_limit:{phone}"));
    raise(conn, &alert, now).await
}

/// The fraud rules of a refusal other than an unknown code.
pub async fn on_refusal(
    conn: &mut PgConnection,
    phone: &str,
    code: &str,
    refusal: crate::redemption::Refusal,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    use crate::redemption::Refusal::*;
    match refusal {
        AlreadyRedeemed | Expired | Blocked | CampaignClosed => {
            refused_code(conn, code, phone, refusal.outcome(), now).await
        }
        CustomerLimit => over_redemption_rules(conn, phone, now).await.map(|_| ()),
        // A barred phone was already reviewed by a person: its refusals raise nothing new.
        UnknownCode | CoolingDown | TooManyAttempts(_) | Mistyped | Barred => Ok(()),
    }
}
