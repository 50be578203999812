//! A campaign under way, written fast into a scratch database for the dashboard and report
//! benchmarks: batches, codes, customers, redemptions, their payouts and wrong-code attempts.
//!
//! Everything goes through the real tables in set-based statements (`generate_series`), so the
//! statement-level triggers keep `batch_code_counts` and the hourly rollups as the application's
//! own writes would; the rollups are folded at the end, as the fold job would. Sizes are flags,
//! so the same seeder fills a small database in a test or a debug run and the full campaign
//! (10,000,000 codes, 1,000,000 redemptions and payouts) for the release figures.

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// How much to write.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub batches: i64,
    pub codes: i64,
    pub redemptions: i64,
    /// Distinct phones the redemptions come from.
    pub customers: i64,
    /// Wrong-code attempts in the USSD interaction log.
    pub wrong_attempts: i64,
    /// The redemptions are spread over this many days before `now`.
    pub days: i64,
}

impl Sizes {
    /// The issue's figure: 10,000,000 codes, 1,000,000 redemptions and 1,000,000 payouts.
    pub fn full() -> Self {
        Self {
            batches: 40,
            codes: 10_000_000,
            redemptions: 1_000_000,
            customers: 400_000,
            wrong_attempts: 200_000,
            days: 60,
        }
    }

    /// The same shape with every count divided by `by` (at least one batch and one of each).
    pub fn scaled(by: i64) -> Self {
        let f = Self::full();
        let d = |n: i64| (n / by.max(1)).max(1);
        Self {
            batches: f.batches.min(d(f.codes)).clamp(1, 40),
            codes: d(f.codes),
            redemptions: d(f.redemptions),
            customers: d(f.customers),
            wrong_attempts: d(f.wrong_attempts),
            days: f.days,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct Seeded {
    /// Oldest first.
    pub batches: Vec<Uuid>,
    pub codes: i64,
    pub redemptions: i64,
    pub disbursements: i64,
    /// The moment the seed counts back from.
    pub now: DateTime<Utc>,
}

/// How the payouts end, per thousand (the rest complete): the queued ones wait in the queue as
/// the worker would find them.
const FAILED: i64 = 25;
const PAYEE_INVALID: i64 = 8;
const RETRY: i64 = 10;
const AWAITING: i64 = 7;
const QUEUED: i64 = 10;

/// Fills `pool`'s database (migrated, otherwise empty of campaign data) with `s`.
pub async fn seed(pool: &PgPool, s: &Sizes, now: DateTime<Utc>) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let mut conn = pool.acquire().await?;
    // the customers' role, as start-up seeds it
    crate::access::seed(&mut conn, now).await?;
    let redemptions = s.redemptions.min(s.codes);
    let per_batch = (s.codes / s.batches.max(1)).max(1);
    let batches_n = s.batches.max(1);
    let span_secs = s.days.max(1) * 86_400;
    let start = now - chrono::Duration::seconds(span_secs);

    // batches: older ones first, each redeemed in proportion to its rank (so redemption rates
    // differ and "top batches" means something); some money per code varies too
    let weights: Vec<i64> = (1..=batches_n).collect();
    let total_w: i64 = weights.iter().sum();
    let mut redeemed_per: Vec<i64> = weights
        .iter()
        .map(|w| (redemptions * w / total_w).min(per_batch))
        .collect();
    // whatever rounding left over goes to the batches with room
    let mut left = redemptions - redeemed_per.iter().sum::<i64>();
    for r in redeemed_per.iter_mut().rev() {
        let room = (per_batch - *r).min(left);
        *r += room;
        left -= room;
    }
    let redemptions = redeemed_per.iter().sum::<i64>();

    println!("seeding: {batches_n} batches of {per_batch} codes, {redemptions} redemptions and their payouts …");
    let mut ids = Vec::new();
    for (b, redeemed) in redeemed_per.iter().enumerate() {
        let amount = [500i64, 1000, 2000, 5000][b % 4];
        let created = start + chrono::Duration::seconds(b as i64 * 60);
        let id: Uuid = sqlx::query_scalar(
            "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
             values ($1, $2, $3, $4 + interval '180 days', $4, $4) returning id",
        )
        .bind(format!("campaign {:02}", b + 1))
        .bind(per_batch as i32)
        .bind(amount)
        .bind(created)
        .fetch_one(&mut *conn)
        .await?;
        // code k (unique over the seed) is 8 hex digits of a hash and 8 of k itself; a redeemed
        // code's time spreads over the period after its batch was made, denser towards now
        sqlx::query(
            "insert into promo_codes (id, code, batch_id, serial, amount, currency, status, created_at, expires_at, used_at) \
             select gen_random_uuid(), \
                    substr(h, 1, 4) || '-' || substr(h, 5, 4) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4), \
                    $1, g, $2, 'RWF', case when g <= $3 then 'used' else 'active' end, $4, $4 + interval '180 days', \
                    case when g <= $3 then $5 - make_interval(secs => ($6 * power(((g::int8 * 7919) % nullif($3, 0))::float8 / $3, 2))) end \
             from generate_series(1, $7::int) g, \
                  lateral (select upper(substr(md5((($8::int8 * $7) + g)::text), 1, 8) || lpad(to_hex(($8::int8 * $7) + g), 8, '0')) as h) x",
        )
        .bind(id)
        .bind(amount)
        .bind(*redeemed as i32)
        .bind(created)
        .bind(now)
        .bind((now - created).num_seconds() as f64)
        .bind(per_batch as i32)
        .bind(b as i64)
        .execute(&mut *conn)
        .await
        .context("codes")?;
        ids.push(id);
        if (b + 1) % 10 == 0 || b + 1 == redeemed_per.len() {
            println!(
                "  {} batches of {per_batch} codes, {:.0} s so far",
                b + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }

    // customers: phones +25078nnnnnnn, two networks, both languages
    sqlx::query(
        r#"with u as (
             insert into users (kind, phone_number, is_verified, created_at, updated_at)
             select 'customer', '+25078' || lpad(g::text, 7, '0'), true, $2, $2
             from generate_series(1, $1::int8) g
             returning id, phone_number),
           c as (
             insert into customers (user_id, msisdn, language, network_code, first_seen_at, last_seen_at)
             select id, phone_number,
                    case when right(phone_number, 1) in ('0', '3', '7') then 'en' else 'rw' end,
                    case when right(phone_number, 2)::int % 5 = 0 then '63513' else '63510' end, $2, $3
             from u)
         insert into user_role_assignments (user_id, role_id, created_at)
         select u.id, r.id, $2 from u, roles r where r.name = $4"#,
    )
    .bind(s.customers.max(1))
    .bind(start)
    .bind(now)
    .bind(crate::access::CUSTOMER)
    .execute(&mut *conn)
    .await
    .context("customers")?;
    println!(
        "  {} customers, {:.0} s so far",
        s.customers.max(1),
        started.elapsed().as_secs_f64()
    );

    // redemptions, each from customer (n mod customers), so early phones come back; how its
    // payout ends is drawn from the code's id, so the payout below agrees with it. Written in
    // time order, as the application appends them: the last hour's rows sit together
    sqlx::query(
        "create temp table seed_customers as \
         select (row_number() over (order by msisdn)) - 1 as n, id, user_id, msisdn, network_code, language from customers",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query("create index on seed_customers (n)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "insert into redemptions (user_id, customer_id, promo_code_id, batch_id, phone_number, amount, currency, status, \
                                  idempotency_key, error_code, created_at, completed_at, network_code, language) \
         select c.user_id, c.id, p.id, p.batch_id, c.msisdn, p.amount, p.currency, \
                case when o.o < $3 then 'failed' when o.o < $4 then 'pending' else 'completed' end, \
                'seed-' || p.id, \
                case when o.o < $2 then 'INTERNAL_PROCESSING_ERROR' when o.o < $3 then 'PAYEE_NOT_FOUND' end, \
                p.used_at, \
                case when o.o >= $4 then p.used_at + make_interval(secs => 2 + o.o % 40) end, \
                c.network_code, c.language \
         from (select id, batch_id, amount, currency, used_at, row_number() over (order by serial, batch_id) as n \
               from promo_codes where status = 'used') p \
         cross join lateral (select abs(hashtext(p.id::text)) % 1000 as o) o \
         join seed_customers c on c.n = (p.n * 104729) % $1 \
         order by p.used_at",
    )
    .bind(s.customers.max(1))
    .bind(FAILED)
    .bind(FAILED + PAYEE_INVALID)
    .bind(FAILED + PAYEE_INVALID + RETRY + AWAITING + QUEUED)
    .execute(&mut *conn)
    .await
    .context("redemptions")?;
    println!(
        "  {redemptions} redemptions, {:.0} s so far",
        started.elapsed().as_secs_f64()
    );

    // one payout per redemption, as the redemption statement writes it, moved on to its end
    sqlx::query(
        "insert into disbursements (redemption_id, msisdn, amount, currency, status, attempts, max_attempts, next_attempt_at, \
                                    momo_transaction_id, disbursed_at, error_code, created_at, updated_at) \
         select r.id, substr(r.phone_number, 2), r.amount, r.currency, x.status, \
                case when x.status in ('awaiting_approval', 'queued') then 0 else 1 end, 3, r.created_at, \
                case when x.status = 'completed' then 'seed-' || r.id end, \
                r.completed_at, r.error_code, r.created_at, coalesce(r.completed_at, r.created_at) \
         from redemptions r \
         cross join lateral (select case \
             when r.status = 'completed' then 'completed' \
             when r.error_code = 'INTERNAL_PROCESSING_ERROR' then 'failed' \
             when r.error_code = 'PAYEE_NOT_FOUND' then 'payee_invalid' \
             when abs(hashtext(r.promo_code_id::text)) % 1000 < $1 then 'retry_scheduled' \
             when abs(hashtext(r.promo_code_id::text)) % 1000 < $2 then 'awaiting_approval' \
             else 'queued' end as status) x \
         order by r.created_at",
    )
    .bind(FAILED + PAYEE_INVALID + RETRY)
    .bind(FAILED + PAYEE_INVALID + RETRY + AWAITING)
    .execute(&mut *conn)
    .await
    .context("payouts")?;
    println!(
        "  {redemptions} payouts, {:.0} s so far",
        started.elapsed().as_secs_f64()
    );

    // wrong codes typed at the USSD menu
    sqlx::query(
        "insert into ussd_interactions (session_id, phone_number, network_code, service_code, input, response, outcome, latency_ms, created_at) \
         select 'ATUid_seed' || g, c.msisdn, case when g % 5 = 0 then '63513' else '63510' end, '*789#', '1*****', 'END …', \
                (array['unknown_code', 'typo', 'not_a_code'])[1 + g % 3], 5, \
                $2 - make_interval(secs => ($3 * power(((g * 7919) % $1)::float8 / $1, 2))) \
         from generate_series(1, $1::int8) g join seed_customers c on c.n = (g * 15485863) % $4",
    )
    .bind(s.wrong_attempts.max(1))
    .bind(now)
    .bind(span_secs as f64)
    .bind(s.customers.max(1))
    .execute(&mut *conn)
    .await
    .context("wrong attempts")?;
    sqlx::query("drop table seed_customers").execute(&mut *conn).await?;

    crate::batches::compact_counts(&mut conn, 1).await?;
    fold(&mut conn).await?;
    sqlx::query("vacuum analyze").execute(&mut *conn).await?;
    println!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    Ok(Seeded {
        batches: ids,
        codes: per_batch * batches_n,
        redemptions,
        disbursements: redemptions,
        now,
    })
}

/// Folds the rollups' delta rows, as the `stats.fold` job would.
async fn fold(conn: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    let rows = crate::stats::fold::fold(conn).await?;
    println!("  rollups folded: {rows} rows in stats_hourly");
    Ok(())
}
