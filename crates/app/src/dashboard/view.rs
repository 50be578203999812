//! The dashboard's cards as the page lays them out: tiles of a label, a value as shown and the
//! list it opens. Each tile names where its value sits in the API's answer (`path`) and how it is
//! written (`fmt`), so the page's script refreshes it from the same answer without knowing the
//! cards.

use super::health::{human, Breaker, Sms};
use super::{BalanceState, Dashboard, Figure, MoneyFigure};

fn n(v: i64) -> String {
    crate::codes::pages::thousands(v)
}

/// One figure on a card.
#[derive(Debug, Clone)]
pub struct Tile {
    /// The element's id (`fig-` and the path with dashes).
    pub id: String,
    pub label: &'static str,
    pub shown: String,
    pub href: Option<String>,
    /// Where the value is in the API's answer, dot-separated.
    pub path: String,
    /// `n`, `money`, `pct`, `secs`, `ms`, `human`, `balance`, `workers` or `text`.
    pub fmt: &'static str,
}

/// A card: its heading and tiles.
#[derive(Debug, Clone)]
pub struct Card {
    pub id: &'static str,
    pub title: &'static str,
    pub tiles: Vec<Tile>,
}

fn tile(path: &str, label: &'static str, shown: String, href: Option<String>, fmt: &'static str) -> Tile {
    Tile {
        id: format!("fig-{}", path.replace('.', "-")),
        label,
        shown,
        href,
        path: path.to_owned(),
        fmt,
    }
}

fn count(path: &str, label: &'static str, f: &Figure) -> Tile {
    tile(path, label, n(f.value), f.href.clone(), "n")
}

pub fn money_text(f: &MoneyFigure) -> String {
    format!("{} RWF · {}", n(f.amount), n(f.count))
}

fn money(path: &str, label: &'static str, f: &MoneyFigure) -> Tile {
    tile(path, label, money_text(f), f.href.clone(), "money")
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("—".to_owned(), |v| format!("{v:.1} {unit}"))
}

/// The cards `d` holds, in the page's order.
pub fn cards(d: &Dashboard) -> Vec<Card> {
    let mut out = Vec::new();
    if let Some(r) = &d.redemptions {
        out.push(Card {
            id: "card-redemptions",
            title: "Redemptions",
            tiles: vec![
                count("redemptions.today", "Today", &r.today),
                count("redemptions.thisWeek", "This week", &r.this_week),
                count("redemptions.all", "In all", &r.all),
                count(
                    "redemptions.newCustomersToday",
                    "New customers today",
                    &r.new_customers_today,
                ),
                count("redemptions.returningToday", "Returning today", &r.returning_today),
                count("redemptions.customersAll", "Customers in all", &r.customers_all),
                count("redemptions.returningAll", "Returning in all", &r.returning_all),
            ],
        });
    }
    if let Some(m) = &d.money {
        let judged = match m.balance.state {
            BalanceState::Ok => format!("not low (threshold {} RWF)", n(m.balance.threshold)),
            BalanceState::Low => m
                .balance
                .reading
                .clone()
                .unwrap_or_else(|| format!("low: {} payout(s) wait for money", n(m.balance.held_for_money))),
        };
        // the last reading first, when the worker has made one (it reads while payouts flow)
        let balance = match (m.balance.available, &m.balance.currency) {
            (Some(a), Some(c)) => format!("{} {c} · {judged}", n(a)),
            _ => judged,
        };
        out.push(Card {
            id: "card-money",
            title: "Money (RWF · payouts)",
            tiles: vec![
                money("money.paidToday", "Paid today", &m.paid_today),
                money("money.paidAll", "Paid in all", &m.paid_all),
                money("money.pending", "Pending", &m.pending),
                money("money.held", "Held", &m.held),
                money("money.awaitingApproval", "Awaiting approval", &m.awaiting_approval),
                money("money.failed", "Failed", &m.failed),
                money("money.payeeInvalid", "No MoMo wallet", &m.payee_invalid),
                tile(
                    "money.successRateLastHour",
                    "Success, last hour",
                    opt(m.success_rate_last_hour, "%"),
                    m.last_hour_href.clone(),
                    "pct",
                ),
                tile(
                    "money.medianSecondsLastHour",
                    "Redemption to money, median last hour",
                    opt(m.median_seconds_last_hour, "s"),
                    Some("/admin/disbursements?status=completed".into()),
                    "secs",
                ),
                tile(
                    "money.balance",
                    "MoMo balance",
                    balance,
                    Some("/admin/disbursements#alerts".into()),
                    "balance",
                ),
            ],
        });
    }
    if let Some(c) = &d.campaign {
        let mut tiles = Vec::new();
        if let Some(f) = &c.active_batches {
            tiles.push(count("campaign.activeBatches", "Active batches", f));
        }
        if let Some(f) = &c.unredeemed_codes {
            tiles.push(count("campaign.unredeemedCodes", "Codes not yet redeemed", f));
        }
        if let Some(f) = &c.codes {
            tiles.push(count("campaign.codes", "Codes in all", f));
        }
        out.push(Card {
            id: "card-campaign",
            title: "Batches and codes",
            tiles,
        });
    }
    if let Some(a) = &d.alerts {
        out.push(Card {
            id: "card-alerts",
            title: "Open alerts",
            tiles: vec![
                count("alerts.critical", "Critical", &a.critical),
                count("alerts.warning", "Warning", &a.warning),
                count("alerts.info", "Info", &a.info),
            ],
        });
    }
    if let Some(s) = &d.system {
        let workers = if s.workers.is_empty() {
            "none".to_owned()
        } else {
            s.workers
                .iter()
                .map(|w| {
                    format!(
                        "{}: {}",
                        w.id,
                        if w.stale {
                            format!("stale ({} ago)", human(w.last_beat_seconds))
                        } else {
                            format!("beat {} ago", human(w.last_beat_seconds))
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let status = Some(s.href.to_owned());
        out.push(Card {
            id: "card-system",
            title: "System",
            tiles: vec![
                Tile {
                    // the id the home page's status always had
                    id: "system-status".into(),
                    ..tile(
                        "system.status",
                        "Status",
                        s.status.as_str().to_owned(),
                        status.clone(),
                        "text",
                    )
                },
                tile(
                    "system.databaseLatencyMs",
                    "Database",
                    if s.database_reachable {
                        format!("{:.1} ms", s.database_latency_ms)
                    } else {
                        "unreachable".into()
                    },
                    status.clone(),
                    "ms",
                ),
                tile("system.workers", "Workers", workers, status.clone(), "workers"),
                tile(
                    "system.oldestQueuedJobSeconds",
                    "Oldest queued job",
                    s.oldest_queued_job_seconds.map_or("none".into(), human),
                    status.clone(),
                    "human",
                ),
                tile(
                    "system.momoBreaker",
                    "MoMo circuit breaker",
                    match s.momo_breaker {
                        Breaker::Closed => "closed".into(),
                        Breaker::Open => "open".into(),
                    },
                    status.clone(),
                    "text",
                ),
                tile(
                    "system.sms",
                    "SMS",
                    match s.sms {
                        Sms::Ok => "ok",
                        Sms::Off => "off",
                        Sms::Unconfigured => "unconfigured",
                        Sms::Failing => "failing",
                    }
                    .into(),
                    status.clone(),
                    "text",
                ),
                tile(
                    "system.uptimeSeconds",
                    "Uptime",
                    human(s.uptime_seconds),
                    status,
                    "human",
                ),
            ],
        });
    }
    out
}
