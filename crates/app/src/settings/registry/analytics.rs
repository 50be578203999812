//! The analytics settings as the console shows them. Issue #21 (dashboard and reports) applies
//! them; until then the page says so beside every key.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

/// The hourly retention job of the rollups and the raw logs.
const RETENTION: &str = "stats/retention.rs";
const CHARTS: &[&str] = &["line", "bar", "pie"];
/// The scheduled reports' outbox: the built-in schedule's runs.
const SCHEDULE: super::Effect = Applied {
    by: &["reports/schedule_run.rs"],
};
/// The dashboard's readers of its settings.
const DASHBOARD: &str = "dashboard/mod.rs";
const DASHBOARD_WEB: &str = "dashboard/web.rs";
const DASHBOARD_CHARTS: &str = "dashboard/charts.rs";

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Analytics,
    title: "Analytics",
    summary: "The dashboard's charts and refresh, the reports and their schedule, and how long analytics data is kept.",
    sections: &[
        Section {
            title: "Dashboard",
            keys: &[
                key!(
                    "defaultView",
                    "Default view",
                    "The dashboard view a person sees first.",
                    Select(&["overview", "detailed", "custom"]),
                    Applied { by: &[DASHBOARD_WEB] }
                ),
                key!(
                    "refreshIntervalSeconds",
                    "Refresh every",
                    "How often the dashboard's figures refresh.",
                    Number {
                        min: 5,
                        max: 3600,
                        unit: "seconds"
                    },
                    Applied { by: &[DASHBOARD] }
                ),
                key!(
                    "maxDataPoints",
                    "Points per chart",
                    "The most points a chart draws; longer series are grouped.",
                    Number {
                        min: 10,
                        max: 10_000,
                        unit: ""
                    },
                    Applied {
                        by: &[DASHBOARD_CHARTS]
                    }
                ),
                key!(
                    "redemptionsChart",
                    "Redemptions chart",
                    "How redemptions over time are drawn.",
                    Select(CHARTS),
                    Applied {
                        by: &[DASHBOARD_CHARTS]
                    }
                ),
                key!(
                    "disbursementsChart",
                    "Payouts chart",
                    "How payouts over time are drawn.",
                    Select(CHARTS),
                    Applied {
                        by: &[DASHBOARD_CHARTS]
                    }
                ),
                key!(
                    "batchesChart",
                    "Batches chart",
                    "How batches are compared.",
                    Select(CHARTS),
                    Applied {
                        by: &[DASHBOARD_CHARTS]
                    }
                ),
            ],
        },
        Section {
            title: "Reports",
            keys: &[
                key!(
                    "reportDefaultFormat",
                    "Report format",
                    "The format a report is made in unless another is chosen.",
                    Select(&["pdf", "csv"]),
                    Applied {
                        by: &["reports/export/input.rs"]
                    }
                ),
                key!(
                    "reportIncludeCharts",
                    "Include charts",
                    "Reports carry the charts as well as the tables.",
                    Toggle,
                    Applied {
                        by: &[
                            "reports/api.rs",
                            "reports/custom_api.rs",
                            "reports/pages.rs",
                            "reports/export/job.rs",
                            "reports/pdf/look.rs"
                        ]
                    }
                ),
                key!(
                    "reportIncludeRawData",
                    "Include raw data",
                    "Reports carry every row, not only the totals.",
                    Toggle,
                    Applied {
                        by: &["reports/api.rs", "reports/export/job.rs"]
                    }
                ),
                key!(
                    "reportBranding",
                    "Branded reports",
                    "Reports carry the company's name, logo and colours.",
                    Toggle,
                    Applied {
                        by: &["reports/pdf/look.rs"]
                    }
                ),
                key!(
                    "scheduleDaily",
                    "Daily report",
                    "Sends yesterday's batch, financial and engagement reports every morning (06:00 Kigali) to the recipients below.",
                    Toggle,
                    SCHEDULE
                ),
                key!(
                    "scheduleWeekly",
                    "Weekly report",
                    "Sends last week's reports every Monday morning to the recipients below.",
                    Toggle,
                    SCHEDULE
                ),
                key!(
                    "scheduleMonthly",
                    "Monthly report",
                    "Sends last month's reports on the morning of the 1st to the recipients below.",
                    Toggle,
                    SCHEDULE
                ),
                key!(
                    "scheduleRecipients",
                    "Report recipients",
                    "Who receives the scheduled reports.",
                    List {
                        item: Item::Email,
                        max: 50
                    },
                    SCHEDULE
                ),
            ],
        },
        Section {
            title: "Data kept",
            keys: &[
                key!(
                    "rawDataDays",
                    "Raw data",
                    "How long each event behind the charts is kept.",
                    Number {
                        min: 30,
                        max: 36_500,
                        unit: "days"
                    },
                    Applied { by: &[RETENTION] }
                ),
                key!(
                    "aggregatedDataDays",
                    "Totals",
                    "How long daily totals are kept; at least as long as the raw data.",
                    Number {
                        min: 30,
                        max: 36_500,
                        unit: "days"
                    },
                    Applied { by: &[RETENTION] }
                ),
                key!(
                    "reportDataDays",
                    "Reports",
                    "How long generated reports are kept.",
                    Number {
                        min: 1,
                        max: 36_500,
                        unit: "days"
                    },
                    Applied {
                        by: &["reports/export/mod.rs"]
                    }
                ),
                key!(
                    "autoCleanup",
                    "Clean up automatically",
                    "Deletes the raw USSD logs older than their period above, every hour (never money or audit rows).",
                    Toggle,
                    Applied { by: &[RETENTION] }
                ),
            ],
        },
    ],
};
