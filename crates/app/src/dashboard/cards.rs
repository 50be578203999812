//! The dashboard's cards: redemptions, money, batches and codes, open alerts, and what waits for
//! the person. Counts and sums come from the rollups ([`crate::stats`]) and the per-batch code
//! counts; the rest from small indexed reads (open alerts, held payouts, the last hour's paid
//! payouts).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::links::{self, day, time};
use super::totals::RedemptionTotals;
use super::{Figure, MoneyFigure, Notice, Viewer};
use crate::access::Permission;
use crate::codes::lifecycle::CodeStatus;
use crate::disbursement::ops::query::Customer;
use crate::disbursement::state::PayoutStatus;
use crate::error::AppError;
use crate::stats::{self, Bucket, Dim, Fact, Query};

/// Redemptions made today, this week (from Monday) and in all (Kigali days), and how many came
/// from new customers (their first redemption) or returning ones.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardRedemptions)]
#[serde(rename_all = "camelCase")]
pub struct Redemptions {
    pub today: Figure,
    pub this_week: Figure,
    pub all: Figure,
    /// Customers who redeemed for the first time today.
    pub new_customers_today: Figure,
    /// Today's redemptions by customers who had redeemed before.
    pub returning_today: Figure,
    /// Every customer who ever redeemed.
    pub customers_all: Figure,
    /// Redemptions by customers who had redeemed before, in all.
    pub returning_all: Figure,
}

/// The payout money, in RWF.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardMoney)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    /// Payouts made today that are paid.
    pub paid_today: MoneyFigure,
    pub paid_all: MoneyFigure,
    /// Queued, being sent or waiting to be retried (held ones included).
    pub pending: MoneyFigure,
    /// Queued but held back (low balance, limits, MoMo configuration).
    pub held: MoneyFigure,
    pub awaiting_approval: MoneyFigure,
    pub failed: MoneyFigure,
    pub payee_invalid: MoneyFigure,
    /// Of the payouts made this hour and the last one that have finished, the share paid (%).
    pub success_rate_last_hour: Option<f64>,
    pub finished_last_hour: i64,
    /// The payouts made since the start of the last hour.
    pub last_hour_href: Option<String>,
    /// The median time from redemption to money of the payouts paid in the last 60 minutes.
    pub median_seconds_last_hour: Option<f64>,
    pub paid_last_hour: i64,
    pub balance: Balance,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardBalanceState)]
#[serde(rename_all = "lowercase")]
pub enum BalanceState {
    /// No low reading is open and nothing is held for money.
    Ok,
    /// The last reading was under the threshold, or payouts wait for money.
    Low,
}

/// The MoMo disbursement account's float as the payout worker last judged it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardBalance)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    pub state: BalanceState,
    /// `payments.lowBalanceThreshold`.
    pub threshold: i64,
    /// The payout worker's last reading of the available balance (whole units of `currency`).
    pub available: Option<i64>,
    pub currency: Option<String>,
    /// The open `momo.low_balance` alert's words, when there is one.
    pub reading: Option<String>,
    /// When the worker last read the balance (it reads it while payouts flow).
    pub read_at: Option<DateTime<Utc>>,
    /// Payouts held until the account can cover them.
    pub held_for_money: i64,
}

/// Batches and codes.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardCampaign)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    /// `batches.read`.
    pub active_batches: Option<Figure>,
    /// `promo-codes.read`: codes in status `active` (nobody has used them).
    pub unredeemed_codes: Option<Figure>,
    pub codes: Option<Figure>,
}

/// Open alerts the caller is an audience of, by severity.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DashboardAlerts)]
#[serde(rename_all = "camelCase")]
pub struct Alerts {
    pub critical: Figure,
    pub warning: Figure,
    pub info: Figure,
}

fn n_of(rows: &[stats::Row], pick: impl Fn(&stats::Row) -> bool) -> (i64, i64) {
    rows.iter()
        .filter(|r| pick(r))
        .fold((0, 0), |(n, a), r| (n + r.n, a + r.amount))
}

pub async fn redemptions(pool: &PgPool, now: DateTime<Utc>, t: &RedemptionTotals) -> Result<Redemptions, AppError> {
    let mut conn = pool.acquire().await?;
    let (start, end) = stats::kigali_today(now);
    let today = stats::kigali_date(now);
    let (_, monday, _) = super::totals::ranges(now);
    let todays = stats::series(
        &mut conn,
        &Query::new(Fact::Redemption, start, end).group(&[Dim::Segment]),
    )
    .await?;
    let all = &t.by_segment;
    let segment = |rows: &[stats::Row], s: &str| n_of(rows, |r| r.segment.as_deref() == Some(s)).0;
    let on_today = |c| links::redemptions(Some(day(today)), Some(day(today)), c);
    let in_all = |c| links::redemptions(None, None, c);
    let fig = |value, href: String| Figure {
        value,
        href: Some(href),
    };
    // a customer is counted once, by their first redemption: "customers" are the new ones
    Ok(Redemptions {
        today: fig(n_of(&todays, |_| true).0, on_today(None)),
        this_week: fig(t.week, links::redemptions(Some(day(monday)), Some(day(today)), None)),
        all: fig(n_of(all, |_| true).0, in_all(None)),
        new_customers_today: fig(segment(&todays, "new"), on_today(Some(Customer::New))),
        returning_today: fig(segment(&todays, "returning"), on_today(Some(Customer::Returning))),
        customers_all: fig(segment(all, "new"), in_all(Some(Customer::New))),
        returning_all: fig(segment(all, "returning"), in_all(Some(Customer::Returning))),
    })
}

const PENDING: [&str; 3] = [
    PayoutStatus::Queued.as_str(),
    PayoutStatus::Processing.as_str(),
    PayoutStatus::RetryScheduled.as_str(),
];

pub async fn money(pool: &PgPool, now: DateTime<Utc>, threshold: i64, all: &[stats::Row]) -> Result<Money, AppError> {
    let mut conn = pool.acquire().await?;
    let (start, end) = stats::kigali_today(now);
    let today = day(stats::kigali_date(now));
    let by_state = [Dim::State];
    let todays = stats::series(&mut conn, &Query::new(Fact::Payout, start, end).group(&by_state)).await?;
    let hour = stats::hour_start(now) - Duration::hours(1);
    let recent = stats::series(
        &mut conn,
        &Query::new(Fact::Payout, hour, now + Duration::hours(1))
            .bucket(Bucket::All)
            .group(&by_state),
    )
    .await?;
    let is = |r: &stats::Row, s: &[&str]| r.state.as_deref().is_some_and(|x| s.contains(&x));
    let figure = |rows: &[stats::Row], s: &[&str], href: String| {
        let (count, amount) = n_of(rows, |r| is(r, s));
        MoneyFigure {
            count,
            amount,
            href: Some(href),
        }
    };
    let completed = [PayoutStatus::Completed.as_str()];
    let (held_n, held_amount, held_for_money): (i64, i64, i64) = sqlx::query_as(
        "select count(*), coalesce(sum(amount), 0)::int8, \
                count(*) filter (where held_reason in ('low_balance', 'insufficient_funds')) \
         from disbursements where status = 'queued' and held_reason is not null",
    )
    .fetch_one(&mut *conn)
    .await?;
    // exact: the payouts paid in the last 60 minutes, through the index on disbursed_at. A
    // payout is created in the redemption's own statement, with its time, so created_at is the
    // moment of the redemption and no join is needed
    let (median_s, paid_last_hour): (Option<f64>, i64) = sqlx::query_as(
        "select percentile_cont(0.5) within group (order by extract(epoch from disbursed_at - created_at)), count(*) \
         from disbursements where disbursed_at >= $1 and disbursed_at <= $2",
    )
    .bind(now - Duration::hours(1))
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    let low: Option<(String, DateTime<Utc>)> = sqlx::query_as(
        "select title, last_seen_at from alerts where status <> 'resolved' and dedupe_key = 'momo.low_balance'",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let last: Option<(Option<i64>, String, DateTime<Utc>)> =
        sqlx::query_as("select available, currency, read_at from momo_balance")
            .fetch_optional(&mut *conn)
            .await?;
    let available = last.as_ref().and_then(|l| l.0);
    let finished = [
        PayoutStatus::Completed.as_str(),
        PayoutStatus::Failed.as_str(),
        PayoutStatus::PayeeInvalid.as_str(),
    ];
    let (done, _) = n_of(&recent, |r| is(r, &finished));
    let (paid, _) = n_of(&recent, |r| is(r, &completed));
    let one = |s: PayoutStatus| figure(all, &[s.as_str()], links::payouts(&[s.as_str()], None, None));
    Ok(Money {
        paid_today: figure(
            &todays,
            &completed,
            links::payouts(&completed, Some(today.clone()), Some(today)),
        ),
        paid_all: one(PayoutStatus::Completed),
        pending: figure(all, &PENDING, links::payouts(&PENDING, None, None)),
        held: MoneyFigure {
            count: held_n,
            amount: held_amount,
            href: Some(links::held_payouts()),
        },
        awaiting_approval: one(PayoutStatus::AwaitingApproval),
        failed: one(PayoutStatus::Failed),
        payee_invalid: one(PayoutStatus::PayeeInvalid),
        success_rate_last_hour: (done > 0).then(|| (paid as f64 * 1000.0 / done as f64).round() / 10.0),
        finished_last_hour: done,
        last_hour_href: Some(links::payouts(&[], Some(time(hour)), None)),
        median_seconds_last_hour: median_s.map(|s| (s * 10.0).round() / 10.0),
        paid_last_hour,
        balance: Balance {
            state: if low.is_some() || held_for_money > 0 || available.is_some_and(|a| a < threshold) {
                BalanceState::Low
            } else {
                BalanceState::Ok
            },
            threshold,
            available,
            currency: last.as_ref().map(|l| l.1.clone()),
            reading: low.as_ref().map(|l| l.0.clone()),
            read_at: last.map(|l| l.2).or(low.map(|l| l.1)),
            held_for_money,
        },
    })
}

pub async fn campaign(pool: &PgPool, viewer: Viewer<'_>) -> Result<Campaign, AppError> {
    let mut conn = pool.acquire().await?;
    let s = crate::codes::stats::code_stats(&mut conn, None).await?;
    let active = s
        .batches
        .iter()
        .filter(|b| b.batch_status == crate::batches::lifecycle::BatchStatus::Active)
        .count() as i64;
    let unredeemed = s
        .by_status
        .iter()
        .filter(|c| c.status == CodeStatus::Active)
        .map(|c| c.codes)
        .sum();
    let codes = viewer.can(Permission::PromoCodesRead);
    Ok(Campaign {
        active_batches: viewer.can(Permission::BatchesRead).then(|| Figure {
            value: active,
            href: Some("/admin/batches?status=active".into()),
        }),
        unredeemed_codes: codes.then(|| Figure {
            value: unredeemed,
            href: Some("/admin/codes?status=active".into()),
        }),
        codes: codes.then(|| Figure {
            value: s.codes,
            href: Some("/admin/codes".into()),
        }),
    })
}

pub async fn alerts(
    pool: &PgPool,
    audiences: &[&str],
    viewer: Viewer<'_>,
    now: DateTime<Utc>,
) -> Result<Alerts, AppError> {
    let mut conn = pool.acquire().await?;
    // unresolved and not snoozed: what the shell's badge counts
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "select severity, count(*) from alerts where status <> 'resolved' and audience = any($1) \
         and (snoozed_until is null or snoozed_until <= $2) group by severity",
    )
    .bind(audiences)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    // the alerts console, on its unresolved alerts
    let href = viewer
        .can(Permission::AlertsRead)
        .then(|| "/admin/alerts?state=active".to_owned());
    let of = |s: &str| Figure {
        value: rows.iter().find(|r| r.0 == s).map_or(0, |r| r.1),
        href: href.clone(),
    };
    Ok(Alerts {
        critical: of("critical"),
        warning: of("warning"),
        info: of("info"),
    })
}

/// What waits for this person: registrations and role changes to approve, few backup codes.
pub async fn notices(pool: &PgPool, viewer: Viewer<'_>) -> Result<Vec<super::Notice>, AppError> {
    let mut conn = pool.acquire().await?;
    let mut out = Vec::new();
    if viewer.can(Permission::UsersRegistrationApprove) {
        let n = crate::identity::users::pending_count(&mut conn).await?;
        if n > 0 {
            out.push(Notice {
                id: "pending-registrations",
                text: format!("{n} registration(s) wait for your approval"),
                href: "/admin/registrations".into(),
            });
        }
    }
    if viewer.can(Permission::UsersRolesAssign) {
        let n: i64 = sqlx::query_scalar(
            "select count(*) from role_change_requests where status = 'pending' and requested_by_user_id <> $1",
        )
        .bind(viewer.user_id)
        .fetch_one(&mut *conn)
        .await?;
        if n > 0 {
            out.push(Notice {
                id: "pending-role-requests",
                text: format!("{n} role change(s) wait for a second Super Administrator"),
                href: "/admin/role-requests".into(),
            });
        }
    }
    let left = crate::identity::mfa::backup_codes_left(&mut conn, viewer.user_id).await?;
    if left < 3 {
        out.push(Notice {
            id: "low-backup-codes",
            text: "You have few backup codes left. Set up two-factor sign-in again from My account to get new ones."
                .into(),
            href: "/account".into(),
        });
    }
    Ok(out)
}
