//! The custom view a person picked, remembered on the server (decision 0048): the parts they
//! ticked, one row a person (`dashboard_views`), so `/` and the dashboard API open with them on
//! any browser or device. Picking the overview or the detailed view forgets it, and the
//! analytics setting's default applies again. A preference of one's own screen, not a record of
//! the business: not audited.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Choice, Section, View};
use crate::error::AppError;

/// The view `/` opens with for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(as = DashboardViewChoice)]
#[serde(rename_all = "camelCase")]
pub struct Opening {
    pub view: View,
    /// The parts of the custom view (empty for the other views).
    pub sections: Vec<Section>,
    /// Whether it is the person's remembered custom view (otherwise the analytics setting's
    /// `defaultView`).
    pub remembered: bool,
}

/// The parts `user` last picked for the custom view, if they did.
pub async fn recall(conn: &mut PgConnection, user: Uuid) -> Result<Option<Vec<Section>>, sqlx::Error> {
    let keys: Option<Vec<String>> = sqlx::query_scalar("select sections from dashboard_views where user_id = $1")
        .bind(user)
        .fetch_optional(conn)
        .await?;
    // a part the dashboard no longer has is left out
    let sections: Option<Vec<Section>> = keys.map(|k| k.iter().filter_map(|s| Section::parse(s)).collect());
    Ok(sections.filter(|s| !s.is_empty()))
}

/// The view `/` opens with for `user`: their remembered custom view, or `default_view`.
pub async fn opening(conn: &mut PgConnection, user: Uuid, default_view: &str) -> Result<Opening, sqlx::Error> {
    Ok(match recall(conn, user).await? {
        Some(sections) => Opening {
            view: View::Custom,
            sections,
            remembered: true,
        },
        None => Opening {
            view: View::parse(default_view).unwrap_or(View::Overview),
            sections: Vec::new(),
            remembered: false,
        },
    })
}

/// Keeps `choice` as `user`'s view: a custom one is remembered (at least one part), another
/// forgets the remembered one.
pub async fn keep(conn: &mut PgConnection, user: Uuid, choice: &Choice, now: DateTime<Utc>) -> Result<(), AppError> {
    if choice.view != View::Custom {
        sqlx::query("delete from dashboard_views where user_id = $1")
            .bind(user)
            .execute(conn)
            .await?;
        return Ok(());
    }
    if choice.sections.is_empty() {
        return Err(AppError::field(
            "sections",
            "tick at least one part for the custom view",
        ));
    }
    let keys: Vec<&str> = choice.sections().iter().map(|s| s.key()).collect();
    sqlx::query(
        "insert into dashboard_views (user_id, sections, updated_at) values ($1, $2, $3) \
         on conflict (user_id) do update set sections = excluded.sections, updated_at = excluded.updated_at",
    )
    .bind(user)
    .bind(&keys)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
