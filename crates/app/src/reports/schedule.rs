//! Scheduled reports (issue #21 item 4): a built-in report or a saved custom one e-mailed every
//! day, week or month to a list of recipients, as CSV or PDF, attached or as a link. The
//! analytics settings (`reports.schedule.{daily,weekly,monthly,recipients}`) are the built-in
//! schedule, with no row. Each period's e-mail is a `report_runs` row written before anything is
//! sent (the outbox, [`super::schedule_run`]); the row's unique key sends a period once.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::DayRange;
use crate::audit::{self, Action};
use crate::clock::kigali;
use crate::error::AppError;
use crate::unit::Acting;

pub use super::schedule_input::{is_email, NewSchedule, ScheduleInput};

/// Hours after a period's last Kigali midnight that its report is due ("every morning").
pub const DUE_HOUR: i64 = 6;
/// The most recipients a schedule has.
pub const MAX_RECIPIENTS: usize = 50;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident => $s:literal,)* }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
        #[serde(rename_all = "lowercase")]
        #[sqlx(type_name = "text", rename_all = "lowercase")]
        $(#[$m])*
        pub enum $name { $($v,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$v,)*];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s,)* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// How often a schedule sends.
    #[schema(as = ReportFrequency)]
    Frequency { Daily => "daily", Weekly => "weekly", Monthly => "monthly", }
);
text_enum!(
    /// The file's format.
    #[schema(as = ReportFormat)]
    Format { Csv => "csv", Pdf => "pdf", }
);
text_enum!(
    /// The file attached to the e-mail, or a link to download it.
    #[schema(as = ReportDelivery)]
    Delivery { Attach => "attach", Link => "link", }
);
text_enum!(
    /// `report_runs.status`: written `queued`, then `sent`, or `failed` (retried with backoff
    /// until the job gives up; a later attempt that succeeds makes it `sent`).
    #[schema(as = ReportRunStatus)]
    RunStatus { Queued => "queued", Sent => "sent", Failed => "failed", }
);

impl Frequency {
    /// The latest period whose report is due at `now`: yesterday, last week (Monday to
    /// Sunday) or last month, once it is [`DUE_HOUR`] in Kigali on the day after it.
    pub fn latest_due(self, now: DateTime<Utc>) -> DayRange {
        let today = (now.with_timezone(&kigali()) - Duration::hours(DUE_HOUR)).date_naive();
        match self {
            Frequency::Daily => {
                let d = today.pred_opt().unwrap_or(today);
                DayRange { from: d, to: d }
            }
            Frequency::Weekly => {
                let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
                DayRange {
                    from: monday - Duration::days(7),
                    to: monday - Duration::days(1),
                }
            }
            Frequency::Monthly => {
                let first = today.with_day(1).unwrap_or(today);
                let last = first.pred_opt().unwrap_or(first);
                DayRange {
                    from: last.with_day(1).unwrap_or(last),
                    to: last,
                }
            }
        }
    }
}

/// A schedule someone made.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportSchedule)]
pub struct ScheduleView {
    pub id: Uuid,
    /// `batches`, `financial`, `engagement`, or `custom` (with `customReportId`).
    pub report_kind: String,
    pub custom_report_id: Option<Uuid>,
    /// The custom report's name, or the built-in report's.
    pub report_name: String,
    pub frequency: Frequency,
    pub recipients: Vec<String>,
    pub format: Format,
    pub delivery: Delivery,
    pub owner_id: Uuid,
    pub owner_name: String,
    pub created_at: DateTime<Utc>,
}

/// One period's e-mail of a schedule.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
#[schema(as = ReportRun)]
pub struct RunView {
    pub id: Uuid,
    /// The schedule's id, or `builtin:daily|weekly|monthly` for the analytics settings'.
    pub schedule_key: String,
    pub schedule_id: Option<Uuid>,
    pub frequency: Frequency,
    /// First Kigali day of the period.
    pub period_from: NaiveDate,
    /// Last Kigali day of the period (included).
    pub period_to: NaiveDate,
    pub status: RunStatus,
    pub attempts: i32,
    /// The last failure, in words.
    pub error: Option<String>,
    pub recipients: Vec<String>,
    pub format: Format,
    pub delivery: Delivery,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Inserts a schedule as the acting person's. Audited.
pub async fn create(conn: &mut PgConnection, new: &NewSchedule, acting: &Acting) -> Result<Uuid, AppError> {
    let owner = acting.user_id().ok_or(AppError::Unauthorized)?;
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into report_schedules (id, owner_user_id, report_kind, custom_report_id, frequency, recipients, format, delivery, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(owner)
    .bind(new.kind.as_str())
    .bind(new.custom_report_id)
    .bind(new.frequency)
    .bind(&new.recipients)
    .bind(new.format)
    .bind(new.delivery)
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::ReportScheduleCreated, "report_schedule", id)
            .after(serde_json::json!({
                "report": new.kind.as_str(),
                "customReportId": new.custom_report_id,
                "frequency": new.frequency,
                "recipients": new.recipients,
                "format": new.format,
                "delivery": new.delivery,
            })),
        acting.now,
    )
    .await?;
    Ok(id)
}

const SCHEDULE: &str = "select s.id, s.report_kind, s.custom_report_id, \
     coalesce(c.name, initcap(s.report_kind) || ' report') as report_name, s.frequency, s.recipients, \
     s.format, s.delivery, s.owner_user_id as owner_id, u.full_name as owner_name, s.created_at \
     from report_schedules s join users u on u.id = s.owner_user_id \
     left join custom_reports c on c.id = s.custom_report_id";

/// The keyset position of a list (newest first).
#[derive(Serialize, Deserialize)]
pub struct After(pub DateTime<Utc>, pub Uuid);

fn split(after: Option<After>) -> (Option<DateTime<Utc>>, Option<Uuid>) {
    after.map_or((None, None), |a| (Some(a.0), Some(a.1)))
}

/// Every schedule, newest first.
pub async fn list(conn: &mut PgConnection, after: Option<After>, limit: i64) -> Result<Vec<ScheduleView>, sqlx::Error> {
    let (at, id) = split(after);
    sqlx::query_as(&format!(
        "{SCHEDULE} where ($1::timestamptz is null or (s.created_at, s.id) < ($1, $2)) \
         order by s.created_at desc, s.id desc limit $3"
    ))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<ScheduleView, AppError> {
    sqlx::query_as(&format!("{SCHEDULE} where s.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("report schedule"))
}

/// Deletes the acting person's own schedule (its runs stay, as the record of what was sent).
/// 409 for another's. Audited.
pub async fn delete(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let s = get(conn, id).await?;
    if Some(s.owner_id) != acting.user_id() {
        return Err(AppError::conflict(
            "id",
            "only the person who made a schedule deletes it",
        ));
    }
    sqlx::query("delete from report_schedules where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::ReportScheduleDeleted, "report_schedule", id)
            .before(serde_json::to_value(&s).unwrap_or_default()),
        acting.now,
    )
    .await?;
    Ok(())
}

const RUN: &str = "select id, schedule_key, schedule_id, frequency, period_from, period_to, status, attempts, error, \
     recipients, format, delivery, created_at, sent_at from report_runs";

/// Recorded runs, newest first; of one schedule when `schedule` is given.
pub async fn runs(
    conn: &mut PgConnection,
    schedule: Option<Uuid>,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<RunView>, sqlx::Error> {
    let (at, id) = split(after);
    sqlx::query_as(&format!(
        "{RUN} where ($1::uuid is null or schedule_id = $1) \
         and ($2::timestamptz is null or (created_at, id) < ($2, $3)) order by created_at desc, id desc limit $4"
    ))
    .bind(schedule)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn run(conn: &mut PgConnection, id: Uuid) -> Result<RunView, AppError> {
    sqlx::query_as(&format!("{RUN} where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(AppError::NotFound("report run"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::model::Kind;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_period_is_due_the_morning_after_it_ends_in_kigali() {
        // Tuesday 8 December 2026, 07:00 in Kigali
        let now = at("2026-12-08T05:00:00Z");
        assert_eq!(
            Frequency::Daily.latest_due(now),
            DayRange {
                from: d("2026-12-07"),
                to: d("2026-12-07")
            }
        );
        assert_eq!(
            Frequency::Weekly.latest_due(now),
            DayRange {
                from: d("2026-11-30"),
                to: d("2026-12-06")
            }
        );
        assert_eq!(
            Frequency::Monthly.latest_due(now),
            DayRange {
                from: d("2026-11-01"),
                to: d("2026-11-30")
            }
        );
        // 05:00 in Kigali: yesterday's is not due yet
        assert_eq!(
            Frequency::Daily.latest_due(at("2026-12-08T03:00:00Z")).from,
            d("2026-12-06")
        );
        // Monday 1 March 2027, 06:00 in Kigali
        let now = at("2027-03-01T04:00:00Z");
        assert_eq!(
            Frequency::Monthly.latest_due(now),
            DayRange {
                from: d("2027-02-01"),
                to: d("2027-02-28")
            }
        );
        assert_eq!(
            Frequency::Weekly.latest_due(now),
            DayRange {
                from: d("2027-02-22"),
                to: d("2027-02-28")
            }
        );
    }

    #[test]
    fn a_schedule_names_each_bad_field() {
        let input: ScheduleInput = serde_json::from_value(serde_json::json!({
            "report": "sales", "frequency": "hourly", "recipients": ["a@b.rw", "not an address"], "format": "xls"
        }))
        .unwrap();
        let AppError::Validation(errors) = input.parse("pdf").unwrap_err() else {
            panic!()
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["report", "frequency", "format", "recipients[1]"]);
        let ok: ScheduleInput = serde_json::from_value(serde_json::json!({
            "customReportId": "0193a3c2-7e1a-7c55-9a4b-0a1b2c3d4e5f", "frequency": "daily", "recipients": ["x@y.rw", "X@y.rw"]
        }))
        .unwrap();
        let s = ok.parse("csv").unwrap();
        assert_eq!(
            (s.kind, s.format, s.delivery, s.recipients.len()),
            (Kind::Custom, Format::Csv, Delivery::Attach, 1)
        );
    }
}
