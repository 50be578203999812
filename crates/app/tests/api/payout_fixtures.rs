//! Payouts written straight into the tables (batch, code, customer, redemption, disbursement,
//! attempts), in any state and at any time, for the payout operations and read-model tests; and
//! API keys held by distinct people (the reversal needs two).

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{now, TestApp};

#[derive(Debug, Clone, Copy)]
pub struct Payout {
    pub id: Uuid,
    pub redemption_id: Uuid,
    pub code_id: Uuid,
}

/// A batch (active, expiring in 90 days) named `name`.
pub async fn batch(pool: &PgPool, name: &str, amount: i64) -> Uuid {
    sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
         values ($1, 100, $2, now() + interval '90 days', now(), now()) returning id",
    )
    .bind(name)
    .bind(amount)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// An active code in `batch` worth `amount`; returns (id, code).
pub async fn code(pool: &PgPool, batch: Uuid, amount: i64) -> (Uuid, String) {
    let hex = Uuid::new_v4().simple().to_string().to_uppercase();
    let code = format!("{}-{}-{}-{}", &hex[0..4], &hex[4..8], &hex[8..12], &hex[12..16]);
    let id = sqlx::query_scalar(
        "insert into promo_codes (code, batch_id, serial, amount, created_at, expires_at) \
         values ($1, $2, (select coalesce(max(serial), 0) + 1 from promo_codes where batch_id = $2), $3, now(), \
           now() + interval '90 days') returning id",
    )
    .bind(&code)
    .bind(batch)
    .bind(amount)
    .fetch_one(pool)
    .await
    .unwrap();
    (id, code)
}

/// The customer with this phone (`+2507…`), created on first use.
async fn customer(pool: &PgPool, phone: &str) -> (Uuid, Uuid) {
    if let Some(row) = sqlx::query_as("select id, user_id from customers where msisdn = $1")
        .bind(phone)
        .fetch_optional(pool)
        .await
        .unwrap()
    {
        return row;
    }
    let user: Uuid = sqlx::query_scalar(
        "insert into users (kind, phone_number, created_at, updated_at) values ('customer', $1, now(), now()) \
         returning id",
    )
    .bind(phone)
    .fetch_one(pool)
    .await
    .unwrap();
    let id = sqlx::query_scalar(
        "insert into customers (user_id, msisdn, first_seen_at, last_seen_at) values ($1, $2, now(), now()) \
         returning id",
    )
    .bind(user)
    .bind(phone)
    .fetch_one(pool)
    .await
    .unwrap();
    (id, user)
}

/// What a payout looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    pub phone: &'static str,
    pub amount: i64,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    /// Seconds from redemption to payout, for completed ones.
    pub paid_after_secs: i64,
    pub error_code: Option<&'static str>,
    pub momo_tx: Option<String>,
    pub attempts: i32,
}

impl Spec {
    pub fn new(phone: &'static str, amount: i64, status: &'static str) -> Self {
        Spec {
            phone,
            amount,
            status,
            created_at: now() - Duration::minutes(5),
            paid_after_secs: 30,
            error_code: match status {
                "failed" => Some("NOT_ENOUGH_FUNDS"),
                "payee_invalid" => Some("payee_invalid"),
                _ => None,
            },
            momo_tx: None,
            attempts: match status {
                "failed" => 4,
                "completed" => 1,
                _ => 0,
            },
        }
    }

    pub fn at(mut self, t: DateTime<Utc>) -> Self {
        self.created_at = t;
        self
    }

    pub fn paid_after(mut self, secs: i64) -> Self {
        self.paid_after_secs = secs;
        self
    }

    pub fn error(mut self, code: &'static str) -> Self {
        self.error_code = Some(code);
        self
    }

    pub fn tx(mut self, id: &str) -> Self {
        self.momo_tx = Some(id.to_owned());
        self
    }
}

/// A redeemed code and its payout in the state `spec` says, with its redemption and code in the
/// matching states.
pub async fn payout(pool: &PgPool, batch: Uuid, spec: Spec) -> Payout {
    let (code_id, _) = code(pool, batch, spec.amount).await;
    let (customer_id, user_id) = customer(pool, spec.phone).await;
    let paid_at = spec.created_at + Duration::seconds(spec.paid_after_secs);
    let (code_status, r_status) = match spec.status {
        "completed" => ("redeemed", "completed"),
        "failed" => ("used", "failed"),
        _ => ("used", "pending"),
    };
    sqlx::query("update promo_codes set status = $2, used_at = $3 where id = $1")
        .bind(code_id)
        .bind(code_status)
        .bind(spec.created_at)
        .execute(pool)
        .await
        .unwrap();
    let completed = spec.status == "completed";
    let momo_tx = spec
        .momo_tx
        .clone()
        .or_else(|| completed.then(|| format!("{}", 10_000_000 + rand_u32() % 89_999_999)));
    let redemption_id: Uuid = sqlx::query_scalar(
        "insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, status, \
           idempotency_key, error_code, created_at, completed_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning id",
    )
    .bind(user_id)
    .bind(customer_id)
    .bind(code_id)
    .bind(batch)
    .bind(spec.phone)
    .bind(spec.amount)
    .bind(r_status)
    .bind(format!("test:{}", Uuid::new_v4()))
    .bind(if spec.status == "failed" { spec.error_code } else { None })
    .bind(spec.created_at)
    .bind(completed.then_some(paid_at))
    .fetch_one(pool)
    .await
    .unwrap();
    let id: Uuid = sqlx::query_scalar(
        "insert into disbursements (redemption_id, msisdn, amount, status, attempts, max_attempts, next_attempt_at, \
           momo_transaction_id, error_code, error_message, disbursed_at, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, 4, $6, $7, $8, $9, $10, $6, $11) returning id",
    )
    .bind(redemption_id)
    .bind(spec.phone.trim_start_matches('+'))
    .bind(spec.amount)
    .bind(spec.status)
    .bind(spec.attempts)
    .bind(spec.created_at)
    .bind(&momo_tx)
    .bind(spec.error_code)
    .bind(spec.error_code.map(|c| format!("MoMo said {c}")))
    .bind(completed.then_some(paid_at))
    .bind(if completed { paid_at } else { spec.created_at })
    .fetch_one(pool)
    .await
    .unwrap();
    Payout {
        id,
        redemption_id,
        code_id,
    }
}

fn rand_u32() -> u32 {
    Uuid::new_v4().as_u128() as u32
}

/// One attempt row with MoMo's answer.
pub async fn attempt(
    pool: &PgPool,
    payout: Uuid,
    no: i32,
    status: &str,
    momo_reason: Option<&str>,
    response: Value,
) -> Uuid {
    sqlx::query_scalar(
        "insert into disbursement_attempts (disbursement_id, attempt_no, reference_id, callback_secret_hash, status, \
           http_status, momo_status, momo_reason, response, polls, callback_count, created_at, sent_at, resolved_at) \
         values ($1, $2, $3, '\\x00ff', $4, 202, upper($4), $5, $6, 2, 1, now(), now(), now()) returning reference_id",
    )
    .bind(payout)
    .bind(no)
    .bind(Uuid::new_v4())
    .bind(status)
    .bind(momo_reason)
    .bind(response)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A staff member with `role` and an API key of theirs acting with that role: (user id, key).
pub async fn person_with_key(app: &TestApp, email: &str, role: &str) -> (Uuid, String) {
    let mut tx = app.pool.begin().await.unwrap();
    let new = mbelyco::identity::NewStaff {
        email,
        full_name: email.split('@').next().unwrap(),
        password: None,
        roles: &[role],
    };
    let user = mbelyco::identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(now()))
        .await
        .unwrap();
    let role_id = mbelyco::access::role_id(&mut tx, role).await.unwrap().unwrap();
    let key = mbelyco::identity::api_keys::create(
        &mut tx,
        user,
        &format!("{email} key"),
        role_id,
        now() + Duration::days(30),
        &mbelyco::unit::Acting::system(now()),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    (user, key.key)
}

/// The status of a disbursement.
pub async fn status_of(pool: &PgPool, id: Uuid) -> String {
    sqlx::query_scalar("select status from disbursements where id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many audit rows with `action` there are.
pub async fn audits(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_logs where action = $1")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}
