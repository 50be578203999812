//! What the rollup tests share: USSD dials naming their network, running one job, and the two
//! sides of the comparison — the rollups as stored, and a recount written independently as
//! GROUP BY over the base tables.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mbelyco::jobs::NewJob;
use mbelyco::stats::{self, Dim, Fact};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{now, TestApp, USSD_SECRET};

/// One row of the rollups or of the recount: the key, then n, amount, ms.
pub(crate) type Key = (DateTime<Utc>, String, Option<Uuid>, String, String, String, String);
pub(crate) type Counted = (Key, i64, i64, i64);
/// The same, flat, as a query returns it.
pub(crate) type Flat = (
    DateTime<Utc>,
    String,
    Option<Uuid>,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
);

/// One hop as the gateway posts it, naming the network it came through (`""`: none).
pub(crate) async fn dial(app: &TestApp, session: &str, phone: &str, network: &str, text: &str) -> String {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/ussd/handle?secret={USSD_SECRET}")))
        .form(&[
            ("sessionId", session),
            ("serviceCode", "*789#"),
            ("phoneNumber", phone),
            ("networkCode", network),
            ("text", text),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Dials, enters the menu and types `code` (menu 1 redeems, 2 checks).
pub(crate) async fn code_hop(
    app: &TestApp,
    session: &str,
    phone: &str,
    network: &str,
    menu: &str,
    code: &str,
) -> String {
    dial(app, session, phone, network, "").await;
    dial(app, session, phone, network, menu).await;
    dial(app, session, phone, network, &format!("{menu}*{code}")).await
}

/// Chooses English for `phone` (menu 3, then 2).
pub(crate) async fn english(app: &TestApp, phone: &str, network: &str) {
    let s = format!("lang-{phone}");
    dial(app, &s, phone, network, "").await;
    dial(app, &s, phone, network, "3").await;
    let home = dial(app, &s, phone, network, "3*2").await;
    assert!(home.contains("Redeem a code"), "{home}");
}

/// Runs one job of `kind` through the app's job worker.
pub(crate) async fn run_job(app: &TestApp, kind: &'static str) {
    let mut conn = app.pool.acquire().await.unwrap();
    let job = NewJob {
        kind,
        payload: json!({}),
        run_at: None,
        priority: 0,
        max_attempts: 1,
        unique_key: None,
        created_by: None,
    };
    mbelyco::jobs::enqueue(&mut conn, &job, now()).await.unwrap();
    app.worker(&format!("w-{kind}")).drain().await.unwrap();
    let failed: i64 = sqlx::query_scalar("select count(*) from jobs where kind = $1 and status <> 'succeeded'")
        .bind(kind)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(failed, 0, "{kind} ran");
}

/// The rollups, summed per key (folded rows and deltas alike).
pub(crate) async fn rollups(app: &TestApp) -> Vec<Counted> {
    let rows: Vec<Flat> = sqlx::query_as(
        "select hour, fact, batch_id, state, network, language, segment, \
                    sum(n)::int8, sum(amount)::int8, sum(ms)::int8 \
             from stats_hourly where hour > '-infinity' group by 1, 2, 3, 4, 5, 6, 7 \
             having sum(n) <> 0 or sum(amount) <> 0 or sum(ms) <> 0",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    sorted(rows)
}

/// The same figures counted again from the base tables, written without the triggers' help: the
/// first redemption of a customer by a window, hours by converting to UTC wall time.
pub(crate) async fn recount(app: &TestApp) -> Vec<Counted> {
    let rows = sqlx::query_as(
        "with ranked as (select r.*, row_number() over (partition by r.user_id order by r.created_at, r.id) as nth \
                    from redemptions r) \
         select hour, fact, batch_id, state, network, language, segment, n::int8, amount::int8, ms::int8 from ( \
         select date_trunc('hour', created_at at time zone 'UTC') at time zone 'UTC' as hour, 'redemption' as fact, \
                batch_id, '' as state, coalesce(network_code, '') as network, coalesce(language, '') as language, \
                case when nth = 1 then 'new' else 'returning' end as segment, \
                count(*)::int8 as n, sum(amount)::int8 as amount, 0::int8 as ms \
         from ranked group by 1, 3, 5, 6, 7 \
         union all \
         select date_trunc('hour', created_at at time zone 'UTC') at time zone 'UTC', 'redemption_state', batch_id, \
                status, '', '', '', count(*), sum(amount), 0 \
         from redemptions group by 1, 3, 4 \
         union all \
         select date_trunc('hour', d.created_at at time zone 'UTC') at time zone 'UTC', 'payout', r.batch_id, \
                d.status, '', '', '', count(*), sum(d.amount), 0 \
         from disbursements d join redemptions r on r.id = d.redemption_id group by 1, 3, 4 \
         union all \
         select date_trunc('hour', d.disbursed_at at time zone 'UTC') at time zone 'UTC', 'paid', r.batch_id, \
                '', '', '', '', count(*), sum(d.amount), \
                sum(round(extract(epoch from d.disbursed_at - r.created_at) * 1000))::int8 \
         from disbursements d join redemptions r on r.id = d.redemption_id where d.status = 'completed' \
         group by 1, 3 \
         union all \
         select date_trunc('hour', created_at at time zone 'UTC') at time zone 'UTC', 'attempt', null::uuid, \
                outcome, coalesce(network_code, ''), '', '', count(*), 0, 0 \
         from ussd_interactions where outcome = any ($1) group by 1, 4, 5 \
         union all \
         select date_trunc('hour', v.decided_at at time zone 'UTC') at time zone 'UTC', 'reversal', r.batch_id, \
                '', '', '', '', count(*), sum(r.amount), 0 \
         from redemption_reversals v join redemptions r on r.id = v.redemption_id where v.status = 'approved' \
         group by 1, 3) u",
    )
    .bind(stats::ATTEMPT_OUTCOMES)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    sorted(rows)
}

pub(crate) fn sorted(rows: Vec<Flat>) -> Vec<Counted> {
    let mut out: Vec<Counted> = rows
        .into_iter()
        .map(|r| ((r.0, r.1, r.2, r.3, r.4, r.5, r.6), r.7, r.8, r.9))
        .collect();
    out.sort();
    out
}

/// "In all" as the reading API gives it (the all-time tier and the deltas not folded yet), every
/// fact by every dimension.
pub(crate) async fn in_all(app: &TestApp) -> BTreeMap<Key, (i64, i64, i64)> {
    let mut conn = app.pool.acquire().await.unwrap();
    let every = [Dim::Batch, Dim::State, Dim::Network, Dim::Language, Dim::Segment];
    let mut out = BTreeMap::new();
    for fact in Fact::ALL {
        for r in stats::since_beginning(&mut conn, fact, &every, None).await.unwrap() {
            let s = |v: Option<String>| v.unwrap();
            let key = (
                DateTime::<Utc>::MIN_UTC,
                fact.as_str().to_owned(),
                r.batch_id,
                s(r.state),
                s(r.network),
                s(r.language),
                s(r.segment),
            );
            out.insert(key, (r.n, r.amount, r.ms));
        }
    }
    out
}

/// The recount summed over the hours.
pub(crate) fn over_all_hours(rows: &[Counted]) -> BTreeMap<Key, (i64, i64, i64)> {
    let mut out: BTreeMap<Key, (i64, i64, i64)> = BTreeMap::new();
    for (k, n, amount, ms) in rows {
        let key = (
            DateTime::<Utc>::MIN_UTC,
            k.1.clone(),
            k.2,
            k.3.clone(),
            k.4.clone(),
            k.5.clone(),
            k.6.clone(),
        );
        let e = out.entry(key).or_default();
        *e = (e.0 + n, e.1 + amount, e.2 + ms);
    }
    out.retain(|_, v| *v != (0, 0, 0));
    out
}

/// The total of one fact in the recount, by a key's part.
pub(crate) fn total(rows: &[Counted], fact: &str, pick: impl Fn(&Key) -> bool) -> (i64, i64) {
    rows.iter()
        .filter(|r| r.0 .1 == fact && pick(&r.0))
        .fold((0, 0), |(n, a), r| (n + r.1, a + r.2))
}

pub(crate) async fn code_counts_agree(app: &TestApp) {
    let kept: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "select batch_id, status, sum(codes)::int8, sum(amount)::int8 from batch_code_counts \
         group by 1, 2 having sum(codes) <> 0 order by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let counted: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "select batch_id, status, count(*)::int8, sum(amount)::int8 from promo_codes group by 1, 2 order by 1, 2",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(kept, counted, "batch_code_counts against a recount");
}
