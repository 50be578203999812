//! `/admin/disbursements/stats`: the period's payout figures (counts, success rate, median and
//! p95 time to payout, amounts) and the three charts, each with a table of its numbers.

use crate::web::extract::Query;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::{charts, html, money};
use crate::clock::{local_display, local_display_or};
use crate::disbursement::ops::query::{Kind, ListQuery};
use crate::disbursement::ops::stats;
use crate::error::AppError;
use crate::web::auth::Principal;
use crate::web::pages::refusal_message;
use crate::web::shell::Shell;
use crate::web::AppState;

struct Counter {
    label: &'static str,
    value: String,
    id: &'static str,
}

#[derive(Template)]
#[template(path = "disbursement_stats.html")]
struct StatsPage {
    shell: Shell,
    error: Option<String>,
    from: String,
    to: String,
    period: String,
    counters: Vec<Counter>,
    by_status: Vec<(String, i64, String)>,
    days: charts::DayChart,
    day_rows: Vec<(String, i64, i64, i64, String)>,
    failures: charts::HChart,
    timing: charts::HChart,
}

fn seconds(s: Option<f64>) -> String {
    match s {
        None => "—".to_owned(),
        Some(s) if s < 120.0 => format!("{s:.1} s"),
        Some(s) if s < 7200.0 => format!("{:.1} min", s / 60.0),
        Some(s) => format!("{:.1} h", s / 3600.0),
    }
}

pub(super) async fn stats_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut status = StatusCode::OK;
    let mut error = None;
    let period = match q.filter(Kind::Payouts) {
        Ok(f) => stats::period(f.from, f.to, now),
        Err(e) => Err(e),
    };
    let (from, to) = match period {
        Ok(p) => p,
        Err(e) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            error = Some(refusal_message(&e).ok_or(e)?);
            stats::period(None, None, now)?
        }
    };
    let mut conn = state.pool.acquire().await?;
    let s = stats::stats(&mut conn, from, to).await?;
    let currency = settings.0.payments.currency.clone();
    let counters = vec![
        Counter {
            label: "Payouts",
            value: s.total.to_string(),
            id: "stat-total",
        },
        Counter {
            label: "Success rate",
            value: s
                .success_rate
                .map_or_else(|| "—".to_owned(), |r| format!("{:.1} %", r * 100.0)),
            id: "stat-success",
        },
        Counter {
            label: "Median time to payout",
            value: seconds(s.median_seconds_to_payout),
            id: "stat-median",
        },
        Counter {
            label: "p95 time to payout",
            value: seconds(s.p95_seconds_to_payout),
            id: "stat-p95",
        },
        Counter {
            label: "Paid",
            value: money(s.amount_paid, &currency),
            id: "stat-paid",
        },
        Counter {
            label: "Pending",
            value: money(s.amount_pending, &currency),
            id: "stat-pending",
        },
        Counter {
            label: "Failed",
            value: money(s.amount_failed, &currency),
            id: "stat-failed",
        },
    ];
    let page = StatsPage {
        shell: Shell::new(&who, "/admin/disbursements", &settings.0.branding.company_name),
        error,
        from: crate::clock::local_input(from)[..10].to_owned(),
        to: crate::clock::local_input(to - chrono::Duration::microseconds(1))[..10].to_owned(),
        period: format!("{} to {}", local_display(from), local_display_or(Some(to), "")),
        counters,
        by_status: s
            .by_status
            .iter()
            .map(|b| (b.status.to_string(), b.count, money(b.amount, &currency)))
            .collect(),
        days: charts::per_day(&s.per_day),
        day_rows: s
            .per_day
            .iter()
            .map(|d| {
                (
                    d.day.format("%Y-%m-%d").to_string(),
                    d.completed,
                    d.failed,
                    d.pending,
                    money(d.paid_amount, &currency),
                )
            })
            .collect(),
        failures: charts::failures(&s.failures_by_reason),
        timing: charts::time_to_payout(&s.time_to_payout),
    };
    html(status, &page)
}
