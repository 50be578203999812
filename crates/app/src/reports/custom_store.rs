//! Saved custom reports (`custom_reports`): a person's definitions, shared with everyone who
//! may read reports when they say so; a report with money in it is seen only by those who also
//! hold `disbursements.read`. Only the owner deletes. Saving and deleting are audited.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::custom::Definition;
use crate::audit::{self, Action};
use crate::error::AppError;
use crate::unit::Acting;

/// Who is looking: their id and whether they may see money.
#[derive(Debug, Clone, Copy)]
pub struct Reader {
    pub user_id: Uuid,
    pub financial: bool,
}

/// A saved custom report.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SavedCustomReport)]
pub struct SavedReport {
    pub id: Uuid,
    pub name: String,
    pub definition: Definition,
    pub shared: bool,
    /// Money in it: seen only with `disbursements.read`.
    pub financial: bool,
    pub owner_id: Uuid,
    pub owner_name: String,
    /// The reader's own (theirs to delete).
    pub mine: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Line {
    id: Uuid,
    name: String,
    definition: sqlx::types::Json<Definition>,
    shared: bool,
    financial: bool,
    owner_user_id: Uuid,
    owner_name: String,
    created_at: DateTime<Utc>,
}

impl Line {
    fn view(self, reader: &Reader) -> SavedReport {
        SavedReport {
            id: self.id,
            name: self.name,
            definition: self.definition.0,
            shared: self.shared,
            financial: self.financial,
            mine: self.owner_user_id == reader.user_id,
            owner_id: self.owner_user_id,
            owner_name: self.owner_name,
            created_at: self.created_at,
        }
    }
}

const SELECT: &str = "select c.id, c.name, c.definition, c.shared, c.financial, c.owner_user_id, \
     u.full_name as owner_name, c.created_at from custom_reports c join users u on u.id = c.owner_user_id";
/// What a reader sees: their own, and the shared ones; money only with `disbursements.read`.
const VISIBLE: &str = "(c.owner_user_id = $1 or c.shared) and (not c.financial or $2)";

/// A name as it is stored: trimmed, 1 to 120 characters, no control characters.
pub fn check_name(name: Option<&str>) -> Result<String, AppError> {
    let name = name.map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(AppError::field("name", "give the report a name"));
    }
    if name.chars().count() > 120 || name.chars().any(char::is_control) {
        return Err(AppError::field("name", "at most 120 characters, on one line"));
    }
    Ok(name.to_owned())
}

/// Saves a definition as the acting person's. Audited.
pub async fn save(
    conn: &mut PgConnection,
    name: &str,
    shared: bool,
    def: &Definition,
    acting: &Acting,
) -> Result<Uuid, AppError> {
    let owner = acting.user_id().ok_or(AppError::Unauthorized)?;
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into custom_reports (id, owner_user_id, name, definition, shared, financial, created_at, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(id)
    .bind(owner)
    .bind(name)
    .bind(sqlx::types::Json(def))
    .bind(shared)
    .bind(def.is_financial())
    .bind(acting.now)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::CustomReportSaved, "custom_report", id)
            .after(serde_json::json!({"name": name, "shared": shared, "definition": def})),
        acting.now,
    )
    .await?;
    Ok(id)
}

/// The keyset position of the saved list (newest first).
#[derive(Serialize, Deserialize)]
pub struct After(pub DateTime<Utc>, pub Uuid);

/// The reports `reader` sees, newest first, after `after`.
pub async fn list(
    conn: &mut PgConnection,
    reader: &Reader,
    after: Option<After>,
    limit: i64,
) -> Result<Vec<SavedReport>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |a| (Some(a.0), Some(a.1)));
    let lines: Vec<Line> = sqlx::query_as(&format!(
        "{SELECT} where {VISIBLE} and ($3::timestamptz is null or (c.created_at, c.id) < ($3, $4)) \
         order by c.created_at desc, c.id desc limit $5"
    ))
    .bind(reader.user_id)
    .bind(reader.financial)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(lines.into_iter().map(|l| l.view(reader)).collect())
}

/// One report `reader` sees; 404 otherwise (another's unshared report is not said to exist).
pub async fn get(conn: &mut PgConnection, reader: &Reader, id: Uuid) -> Result<SavedReport, AppError> {
    let line: Option<Line> = sqlx::query_as(&format!("{SELECT} where {VISIBLE} and c.id = $3"))
        .bind(reader.user_id)
        .bind(reader.financial)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(line.ok_or(AppError::NotFound("custom report"))?.view(reader))
}

/// Deletes the acting person's own report (its schedules go with it). 404 for one they cannot
/// see; 409 for another's shared one. Audited.
pub async fn delete(conn: &mut PgConnection, reader: &Reader, id: Uuid, acting: &Acting) -> Result<(), AppError> {
    let report = get(conn, reader, id).await?;
    if !report.mine {
        return Err(AppError::conflict(
            "id",
            "only the person who saved a report deletes it",
        ));
    }
    sqlx::query("delete from custom_reports where id = $1 and owner_user_id = $2")
        .bind(id)
        .bind(reader.user_id)
        .execute(&mut *conn)
        .await?;
    audit::record(
        conn,
        &acting
            .audit(Action::CustomReportDeleted, "custom_report", id)
            .before(serde_json::json!({"name": report.name, "shared": report.shared, "definition": report.definition})),
        acting.now,
    )
    .await?;
    Ok(())
}
