//! Changing or deleting one code nobody has used (issue 19, decision 0031): its amount and its
//! expiry (`PUT /api/v1/admin/promo-codes/{id}`, `promo-codes.update`), or the code itself
//! (`DELETE`, `promo-codes.delete`).
//!
//! Part of the code's owner ([`super::lifecycle`] decides its status; this module the rest of the
//! row): nothing else writes a code's amount or expiry one by one, or deletes one code. "Nobody
//! has used it" is [`never_used`]: no redemption row ever (a reversed redemption keeps its row,
//! and its code stays blocked), and a status a redemption has not set. An edit also needs a code
//! that can still be redeemed (not expired).
//!
//! Every change writes, in the caller's transaction: the code, its history row in
//! `promo_code_events` (an edit keeps the status and says what changed, before and after) and its
//! audit row. A deletion writes the audit row with the code's last state (the code masked, its
//! history included), then deletes the row: its events and search entry go with it (cascade),
//! and the batch's counts drop by one (the statement trigger of migration 11).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::admin::{self, CodeRow, MAX_REASON};
use super::lifecycle::CodeStatus;
use crate::audit::{self, Action};
use crate::batches::{amount_problem, expiry_problem, parse_expiry, EXPIRY_FORMAT};
use crate::error::{AppError, FieldError};
use crate::settings::Settings;
use crate::unit::Acting;
use crate::ussd::views::mask_code;

/// A change of one code's amount and/or expiry: what the API's body and the page's form both
/// become. At least one of the two is given; the reason is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeEdit {
    pub amount: Option<i64>,
    pub expires_at: Option<DateTime<Utc>>,
    pub reason: String,
}

impl CodeEdit {
    /// Parses what was sent (`expiresAt` a date such as `2027-03-31`, the end of that day in
    /// Kigali, or an RFC 3339 instant); all problems at once. The settings' bounds are checked
    /// by [`update`].
    pub fn parse(amount: Option<i64>, expires_at: Option<&str>, reason: Option<&str>) -> Result<Self, AppError> {
        let mut errors = Vec::new();
        let expires_at = match expires_at.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(raw) => {
                let t = parse_expiry(raw);
                if t.is_none() {
                    errors.push(FieldError::new("expiresAt", EXPIRY_FORMAT));
                }
                t
            }
        };
        if amount.is_none() && expires_at.is_none() && errors.is_empty() {
            errors.push(FieldError::new("amount", "give a new amount, a new expiresAt, or both"));
        }
        let reason = reason.unwrap_or("").trim().to_owned();
        if reason.chars().count() > MAX_REASON {
            errors.push(FieldError::new(
                "reason",
                format!("must be at most {MAX_REASON} characters"),
            ));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        Ok(CodeEdit {
            amount,
            expires_at,
            reason,
        })
    }

    /// The settings' bounds, as batch creation checks them.
    fn check(&self, s: &Settings, now: DateTime<Utc>) -> Result<(), AppError> {
        let mut errors = Vec::new();
        if let Some(m) = self.amount.and_then(|a| amount_problem(a, s)) {
            errors.push(FieldError::new("amount", m));
        }
        if let Some(m) = self.expires_at.and_then(|t| expiry_problem(t, s, now)) {
            errors.push(FieldError::new("expiresAt", m));
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::Validation(errors))
        }
    }
}

/// The amount before and after an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AmountChange {
    pub before: i64,
    pub after: i64,
}

/// The expiry before and after an edit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExpiryChange {
    pub before: Option<DateTime<Utc>>,
    pub after: Option<DateTime<Utc>>,
}

/// What an edit changed (the `change` of its history row).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<AmountChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<ExpiryChange>,
}

impl EditChange {
    fn is_empty(&self) -> bool {
        self.amount.is_none() && self.expires_at.is_none()
    }
}

/// Why a code cannot be changed or deleted, if so: it has been used (a redemption row, or a
/// status only a redemption sets).
pub fn never_used(status: CodeStatus, has_redemption: bool) -> Result<(), &'static str> {
    match status {
        CodeStatus::Used | CodeStatus::Redeemed => {
            Err("this code has been redeemed; only a code nobody has used can be changed or deleted")
        }
        _ if has_redemption => Err(
            "this code was redeemed (its redemption was reversed); only a code nobody has used can be changed or deleted",
        ),
        _ => Ok(()),
    }
}

/// The code's row, locked for the rest of the transaction, and whether it has a redemption.
struct Locked {
    status: CodeStatus,
    amount: i64,
    expires_at: Option<DateTime<Utc>>,
    batch_expires: DateTime<Utc>,
    has_redemption: bool,
}

async fn lock(conn: &mut PgConnection, id: Uuid) -> Result<Locked, AppError> {
    type Row = (CodeStatus, i64, Option<DateTime<Utc>>, DateTime<Utc>);
    let row: Option<Row> = sqlx::query_as(
        "select c.status, c.amount, c.expires_at, b.expiration_date \
         from promo_codes c join batches b on b.id = c.batch_id where c.id = $1 for update of c",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((status, amount, expires_at, batch_expires)) = row else {
        return Err(AppError::NotFound("promo code"));
    };
    // read after the lock: a redemption that raced it has committed (or never will)
    let has_redemption: bool = sqlx::query_scalar("select exists (select 1 from redemptions where promo_code_id = $1)")
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Locked {
        status,
        amount,
        expires_at,
        batch_expires,
        has_redemption,
    })
}

/// What [`update`] did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Updated {
    pub code: CodeRow,
    /// False when the code already had these values (nothing written).
    pub changed: bool,
    pub change: EditChange,
    pub operation_id: Option<Uuid>,
}

/// Changes a never-used code's amount and/or expiry by batch creation's rules (settings'
/// bounds; an expiry no later than the batch's, which expires its codes with it), with its
/// history row and audit row in the caller's transaction. 422 for a value the rules refuse,
/// 404 for no such code, 409 for a used or expired code; a refusal writes nothing.
pub async fn update(
    conn: &mut PgConnection,
    s: &Settings,
    id: Uuid,
    cmd: &CodeEdit,
    acting: &Acting,
) -> Result<Updated, AppError> {
    cmd.check(s, acting.now)?;
    let code = lock(conn, id).await?;
    never_used(code.status, code.has_redemption).map_err(|why| AppError::conflict("status", why))?;
    if code.status == CodeStatus::Expired {
        return Err(AppError::conflict(
            "status",
            "this code has expired; its amount and expiry can no longer change",
        ));
    }
    if cmd.expires_at.is_some_and(|t| t > code.batch_expires) {
        return Err(AppError::field(
            "expiresAt",
            format!(
                "must not be after the batch's expiry ({}): the batch expires its codes with it",
                crate::clock::local_display(code.batch_expires)
            ),
        ));
    }
    let change = EditChange {
        amount: cmd.amount.filter(|a| *a != code.amount).map(|after| AmountChange {
            before: code.amount,
            after,
        }),
        expires_at: cmd
            .expires_at
            .filter(|t| Some(*t) != code.expires_at)
            .map(|t| ExpiryChange {
                before: code.expires_at,
                after: Some(t),
            }),
    };
    if change.is_empty() {
        return Ok(Updated {
            code: admin::get(conn, id).await?,
            changed: false,
            change,
            operation_id: None,
        });
    }
    let operation_id = Uuid::new_v4();
    sqlx::query(
        "with u as ( \
           update promo_codes set amount = coalesce($2, amount), expires_at = coalesce($3, expires_at) \
           where id = $1 returning id, status) \
         insert into promo_code_events (promo_code_id, at, from_status, to_status, actor_user_id, reason, operation_id, change) \
         select id, $4, status, status, $5, $6, $7, $8 from u",
    )
    .bind(id)
    .bind(change.amount.as_ref().map(|c| c.after))
    .bind(change.expires_at.as_ref().and_then(|c| c.after))
    .bind(acting.now)
    .bind(acting.user_id())
    .bind(&cmd.reason)
    .bind(operation_id)
    .bind(sqlx::types::Json(&change))
    .execute(&mut *conn)
    .await?;
    let after = admin::get(conn, id).await?;
    let event = acting
        .audit(Action::CodeUpdated, "promo_code", id)
        .before(json!({"amount": code.amount, "expiresAt": code.expires_at}))
        .after(json!({"amount": after.amount, "expiresAt": after.expires_at}))
        .metadata(json!({
            "code": mask_code(&after.code),
            "batchId": after.batch_id,
            "reason": cmd.reason,
            "operationId": operation_id,
        }));
    audit::record(conn, &event, acting.now).await?;
    Ok(Updated {
        code: after,
        changed: true,
        change,
        operation_id: Some(operation_id),
    })
}

/// What [`delete`] removed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub deleted: Uuid,
    /// Masked (`ABCD-…-JK25`), as audit rows keep it.
    pub code: String,
    pub batch_id: Uuid,
    pub serial: i32,
}

/// Deletes a code nobody has used (any status but used or redeemed, and no redemption ever):
/// the audit row keeps its last state and history, the row goes (its events and search entry
/// with it) and the batch's counts drop by one. 404 for no such code, 409 for a used one.
pub async fn delete(conn: &mut PgConnection, id: Uuid, acting: &Acting) -> Result<Deleted, AppError> {
    let code = lock(conn, id).await?;
    never_used(code.status, code.has_redemption).map_err(|why| AppError::conflict("status", why))?;
    let last = admin::detail(conn, id).await?;
    let masked = mask_code(&last.code.code);
    let out = Deleted {
        deleted: id,
        code: masked.clone(),
        batch_id: last.code.batch_id,
        serial: last.code.serial,
    };
    let mut before = json!(last);
    before["code"] = json!(masked);
    sqlx::query("delete from promo_codes where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let event = acting
        .audit(Action::CodeDeleted, "promo_code", id)
        .before(before)
        .metadata(json!({"code": masked, "batchId": out.batch_id, "serial": out.serial}));
    audit::record(conn, &event, acting.now).await?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_needs_something_to_change_and_a_readable_date() {
        assert!(CodeEdit::parse(None, None, None).is_err());
        assert!(CodeEdit::parse(None, Some("  "), None).is_err());
        let Err(AppError::Validation(e)) = CodeEdit::parse(Some(5), Some("soon"), None) else {
            panic!("a bad date is refused")
        };
        assert_eq!(e[0].field, "expiresAt");
        let ok = CodeEdit::parse(Some(1500), Some("2027-03-31"), Some(" typo ")).unwrap();
        assert_eq!((ok.amount, ok.reason.as_str()), (Some(1500), "typo"));
        assert!(ok.expires_at.is_some());
    }

    #[test]
    fn only_a_code_nobody_has_used_may_change() {
        assert!(never_used(CodeStatus::Active, false).is_ok());
        assert!(never_used(CodeStatus::Reported, false).is_ok());
        assert!(never_used(CodeStatus::Blocked, false).is_ok());
        assert!(never_used(CodeStatus::Blocked, true).is_err());
        assert!(never_used(CodeStatus::Used, false).is_err());
        assert!(never_used(CodeStatus::Redeemed, true).is_err());
    }

    #[test]
    fn a_change_names_only_what_changed() {
        let c = EditChange {
            amount: Some(AmountChange {
                before: 1000,
                after: 1500,
            }),
            expires_at: None,
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"amount": {"before": 1000, "after": 1500}})
        );
    }
}
