//! Validation of what a person typed: format (keypad-tolerant), the check character (when
//! settings turn it on), and existence — so a typo is told apart from a guess. Status, batch and
//! id only for callers who may read codes.

use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::format::{self, Alphabet};
use super::lifecycle::CodeStatus;
use crate::error::AppError;

/// The verdict on what a person typed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Validation {
    /// The code in canonical form, when the format is right.
    pub code: Option<String>,
    pub format_valid: bool,
    pub check_character: CheckCharacter,
    pub exists: bool,
    pub verdict: Verdict,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<CodeStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
}

/// What the check character says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckCharacter {
    Ok,
    /// A typo.
    Wrong,
    /// The check character is not in use.
    Off,
}

/// The validation's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    InvalidFormat,
    Typo,
    Unknown,
    Exists,
}

/// Parses (keypad-tolerant), checks the check character and looks the code up. Status, batch and
/// id are filled only when `may_read`.
pub async fn validate(
    conn: &mut PgConnection,
    input: &str,
    alphabet: &Alphabet,
    checksum: bool,
    may_read: bool,
) -> Result<Validation, AppError> {
    let code = match format::parse(input) {
        Ok(c) => c,
        Err(e) => {
            return Ok(Validation {
                code: None,
                format_valid: false,
                check_character: if checksum {
                    CheckCharacter::Wrong
                } else {
                    CheckCharacter::Off
                },
                exists: false,
                verdict: Verdict::InvalidFormat,
                message: e.to_string(),
                status: None,
                batch: None,
                id: None,
            })
        }
    };
    // the check character applies to codes of batches that carry one (recorded when each batch
    // was made); for a code that does not exist, when any batch does
    type Row = (
        Option<Uuid>,
        Option<CodeStatus>,
        Option<Uuid>,
        Option<i64>,
        Option<String>,
        Option<bool>,
        bool,
    );
    let row: Row = sqlx::query_as(
        "select f.*, exists (select 1 from batches where check_character) from (select 1) one left join ( \
           select c.id, c.status, b.id as batch_id, b.batch_number, b.name, b.check_character \
           from promo_codes c join batches b on b.id = c.batch_id where c.code = $1) f on true",
    )
    .bind(code.as_str())
    .fetch_one(&mut *conn)
    .await?;
    let (found, checksum) = match row {
        (Some(id), Some(status), Some(batch), Some(number), Some(name), Some(checks), _) => {
            (Some((id, status, batch, number, name)), checks)
        }
        (.., any) => (None, any),
    };
    let check_ok = !checksum || code.check_ok(alphabet);
    let (verdict, message) = match (&found, check_ok) {
        (Some(_), _) => (Verdict::Exists, "this code exists".to_owned()),
        (None, false) => (
            Verdict::Typo,
            "the check character does not match: the code was probably mistyped".to_owned(),
        ),
        (None, true) => (Verdict::Unknown, "no such code".to_owned()),
    };
    let shown = found.filter(|_| may_read);
    Ok(Validation {
        code: Some(code.as_str().to_owned()),
        format_valid: true,
        check_character: match (checksum, check_ok) {
            (false, _) => CheckCharacter::Off,
            (true, true) => CheckCharacter::Ok,
            (true, false) => CheckCharacter::Wrong,
        },
        exists: verdict == Verdict::Exists,
        verdict,
        message,
        status: shown.as_ref().map(|s| s.1),
        batch: shown
            .as_ref()
            .map(|s| json!({"id": s.2, "batchNumber": s.3, "name": s.4})),
        id: shown.as_ref().map(|s| s.0),
    })
}
