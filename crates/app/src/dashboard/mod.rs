//! The dashboard (issue #21, decision 0040): `/` and `GET /api/v1/admin/reports/dashboard`.
//!
//! One use case, [`build`], makes a typed [`Dashboard`] for the caller: the API serialises it, the
//! page renders it, and the page's script refreshes from the API every
//! `analytics.dashboard.refreshIntervalSeconds`. Every staff member reaches it; each part is
//! there only when the caller's permissions allow it (money needs `disbursements.read`, sign-ins
//! and role changes in the feed need `audit.logs.read`, …). Figures come from the rollups
//! (`crate::stats`), the per-batch code counts, open alerts and small indexed reads — never from
//! counting a big table — and each links to the list it counts, filtered the same way.

mod cards;
mod charts;
pub mod draw;
mod feed;
mod health;
mod links;
mod remembered;
mod totals;
mod view;
pub mod web;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::Permission;
use crate::error::AppError;
use crate::web::AppState;

pub use cards::{Alerts, Balance, BalanceState, Campaign, Money, Redemptions};
pub use feed::Item as FeedItem;
pub use health::System;

/// Which parts a view shows (`analytics.dashboard.defaultView`, or `?view=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardView)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The cards, the two main charts (redemptions per hour, payouts by state), the newest
    /// activity and the quick actions.
    Overview,
    /// Everything: the cards, every chart and the longer activity feed.
    Detailed,
    /// The parts the person picked (`?sections=`), remembered for them on the server once
    /// they keep it (decision 0048).
    Custom,
}

impl View {
    pub fn parse(s: &str) -> Option<View> {
        Some(match s {
            "overview" => View::Overview,
            "detailed" => View::Detailed,
            "custom" => View::Custom,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            View::Overview => "overview",
            View::Detailed => "detailed",
            View::Custom => "custom",
        }
    }
}

/// A part of the dashboard a view shows or leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[schema(as = DashboardSection)]
#[serde(rename_all = "camelCase")]
pub enum Section {
    Redemptions,
    Money,
    Campaign,
    Alerts,
    System,
    /// Redemptions per hour and payouts by state.
    Charts,
    /// The other charts: per day, top batches, networks, languages, wrong codes.
    MoreCharts,
    Feed,
    Actions,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Redemptions,
        Section::Money,
        Section::Campaign,
        Section::Alerts,
        Section::System,
        Section::Charts,
        Section::MoreCharts,
        Section::Feed,
        Section::Actions,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Section::Redemptions => "redemptions",
            Section::Money => "money",
            Section::Campaign => "campaign",
            Section::Alerts => "alerts",
            Section::System => "system",
            Section::Charts => "charts",
            Section::MoreCharts => "moreCharts",
            Section::Feed => "feed",
            Section::Actions => "actions",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Section::Redemptions => "Redemptions",
            Section::Money => "Money",
            Section::Campaign => "Batches and codes",
            Section::Alerts => "Alerts",
            Section::System => "System",
            Section::Charts => "Main charts",
            Section::MoreCharts => "More charts",
            Section::Feed => "Activity",
            Section::Actions => "Quick actions",
        }
    }

    pub fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|x| x.key() == s)
    }
}

/// What the caller asked to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub view: View,
    /// For [`View::Custom`]: the parts picked (none picked: the overview's).
    pub sections: Vec<Section>,
}

impl Choice {
    /// The parts this choice shows.
    pub fn sections(&self) -> Vec<Section> {
        match self.view {
            View::Detailed => Section::ALL.to_vec(),
            View::Custom if !self.sections.is_empty() => {
                let set: BTreeSet<Section> = self.sections.iter().copied().collect();
                set.into_iter().collect()
            }
            _ => Section::ALL.into_iter().filter(|s| *s != Section::MoreCharts).collect(),
        }
    }

    /// How many feed items it shows.
    pub fn feed_len(&self) -> i64 {
        match self.view {
            View::Overview => 8,
            _ => 20,
        }
    }
}

/// A count, and the list it counts (none when the caller may not open that list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardFigure)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub value: i64,
    pub href: Option<String>,
}

/// Payouts and their sum in RWF, and the list they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardMoneyFigure)]
#[serde(rename_all = "camelCase")]
pub struct MoneyFigure {
    pub count: i64,
    pub amount: i64,
    pub href: Option<String>,
}

/// How a chart is drawn (`analytics.dashboard.redemptionsChart`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardChartKind)]
#[serde(rename_all = "lowercase")]
pub enum ChartKind {
    Line,
    Bar,
    Pie,
}

impl ChartKind {
    pub fn parse(s: &str) -> ChartKind {
        match s {
            "line" => ChartKind::Line,
            "pie" => ChartKind::Pie,
            _ => ChartKind::Bar,
        }
    }
}

/// One point of a chart: its label, value (as drawn), the value as shown, and the list it counts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = DashboardPoint)]
#[serde(rename_all = "camelCase")]
pub struct Point {
    pub label: String,
    pub value: f64,
    pub shown: String,
    pub href: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = DashboardChart)]
#[serde(rename_all = "camelCase")]
pub struct Chart {
    /// Stable: `redemptionsHourly`, `redemptionsDaily`, `payoutsByState`, `topBatches`,
    /// `byNetwork`, `byLanguage`, `wrongCodesHourly`.
    pub id: &'static str,
    pub title: String,
    pub kind: ChartKind,
    pub section: Section,
    /// At most `analytics.dashboard.maxDataPoints` (neighbours are added together beyond it).
    pub points: Vec<Point>,
    pub drawing: draw::Drawing,
}

/// Something waiting for this person (a registration, a role change, few backup codes left).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardNotice)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    pub id: &'static str,
    pub text: String,
    pub href: String,
}

/// A shortcut the caller may take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardAction)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub id: &'static str,
    pub label: &'static str,
    pub href: &'static str,
}

/// The dashboard as one caller may see it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    pub generated_at: DateTime<Utc>,
    pub view: View,
    /// The parts shown, in order.
    pub sections: Vec<Section>,
    /// `analytics.dashboard.refreshIntervalSeconds`: how often the page asks again.
    pub refresh_seconds: u32,
    pub notices: Vec<Notice>,
    /// `redemptions.read`.
    pub redemptions: Option<Redemptions>,
    /// `disbursements.read`.
    pub money: Option<Money>,
    /// `batches.read` or `promo-codes.read`.
    pub campaign: Option<Campaign>,
    /// Open alerts of the audiences the caller reads (`*.alerts.view`).
    pub alerts: Option<Alerts>,
    /// Every staff member: no customer or amount in it.
    pub system: Option<System>,
    pub charts: Vec<Chart>,
    /// Newest first, Kigali times on the page.
    pub feed: Option<Vec<FeedItem>>,
    pub actions: Vec<Action>,
}

/// Who is asking: their permissions (and who they are, for their own notices).
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub user_id: uuid::Uuid,
    pub permissions: &'a BTreeSet<Permission>,
}

impl Viewer<'_> {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }
}

/// Builds the dashboard `viewer` may see, as `choice` asks. The parts read on their own pooled
/// connections at the same time; each reads a few hundred rows at most.
pub async fn build(state: &AppState, viewer: Viewer<'_>, choice: &Choice) -> Result<Dashboard, AppError> {
    let now = state.clock.now();
    let settings = state.settings.get();
    let analytics = &settings.0.analytics;
    let sections = choice.sections();
    let has = |s: Section| sections.contains(&s);
    let pool = &state.pool;

    // the long-range sums first: the cards and the charts share them
    let reads = viewer.can(Permission::RedemptionsRead);
    let pays = viewer.can(Permission::DisbursementsRead);
    let (rt, pt) = tokio::try_join!(
        async {
            match reads && (has(Section::Redemptions) || has(Section::MoreCharts)) {
                true => totals::redemptions(pool, now).await.map(Some),
                false => Ok(None),
            }
        },
        async {
            match pays && (has(Section::Money) || has(Section::Charts)) {
                true => totals::payouts(pool).await.map(Some),
                false => Ok(None),
            }
        }
    )?;
    let notices = cards::notices(pool, viewer);
    let redemptions = async {
        match (has(Section::Redemptions), &rt) {
            (true, Some(t)) => cards::redemptions(pool, now, t).await.map(Some),
            _ => Ok(None),
        }
    };
    let money = async {
        match (has(Section::Money), &pt) {
            (true, Some(t)) => cards::money(pool, now, settings.0.payments.low_balance_threshold, t)
                .await
                .map(Some),
            _ => Ok(None),
        }
    };
    let campaign = async {
        match has(Section::Campaign) && (viewer.can(Permission::BatchesRead) || viewer.can(Permission::PromoCodesRead))
        {
            true => cards::campaign(pool, viewer).await.map(Some),
            false => Ok(None),
        }
    };
    let alerts = async {
        let audiences = crate::alerts::audiences(viewer.permissions.iter());
        match has(Section::Alerts) && !audiences.is_empty() {
            true => cards::alerts(pool, &audiences, viewer, now).await.map(Some),
            false => Ok(None),
        }
    };
    let system = async {
        match has(Section::System) {
            true => health::system(state, &settings.0).await.map(Some),
            false => Ok(None),
        }
    };
    let charts = charts::build(pool, viewer, &sections, analytics, now, rt.as_ref(), pt.as_deref());
    let feed = async {
        match has(Section::Feed) {
            true => feed::recent(pool, viewer, choice.feed_len()).await.map(Some),
            false => Ok(None),
        }
    };
    let (notices, redemptions, money, campaign, alerts, system, charts, feed) =
        tokio::try_join!(notices, redemptions, money, campaign, alerts, system, charts, feed)?;
    Ok(Dashboard {
        generated_at: now,
        view: choice.view,
        sections: sections.clone(),
        refresh_seconds: analytics.refresh_interval_seconds,
        notices,
        redemptions,
        money,
        campaign,
        alerts,
        system,
        charts,
        feed,
        actions: if has(Section::Actions) {
            actions(viewer)
        } else {
            Vec::new()
        },
    })
}

/// The quick actions the caller may take.
fn actions(viewer: Viewer<'_>) -> Vec<Action> {
    let all = [
        (
            Permission::BatchesCreate,
            "create-batch",
            "Create a batch",
            "/admin/batches#create-batch",
        ),
        (
            Permission::UsersCreate,
            "add-user",
            "Add a user",
            "/admin/users#add-user",
        ),
        (
            Permission::DisbursementsRetry,
            "retry-failed",
            "Retry failed payouts",
            "/admin/disbursements?status=failed",
        ),
        (
            Permission::DisbursementsReconcile,
            "reconcile",
            "Run reconciliation",
            "/admin/disbursements/reconcile",
        ),
    ];
    all.into_iter()
        .filter(|(p, ..)| viewer.can(*p))
        .map(|(_, id, label, href)| Action { id, label, href })
        .collect()
}
