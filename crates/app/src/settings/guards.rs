//! Checks a settings change must pass besides validation, which needs the database or the
//! request: a change to the staff address lists that would refuse the address of the person
//! making it needs their explicit confirmation; a new default role for registrations must name a
//! role a registration may be given.

use sqlx::PgConnection;

use super::{build, PlainValues};
use crate::error::{AppError, FieldError};
use crate::unit::Acting;
use crate::web::staff_ips;

/// Every check below, for [`super::update_many`].
pub(super) async fn check(
    conn: &mut PgConnection,
    current: &PlainValues,
    next: &PlainValues,
    acting: &Acting,
    confirm_lockout: bool,
) -> Result<(), AppError> {
    refuse_unknown_default_role(conn, current, next).await?;
    refuse_self_lockout(current, next, acting, confirm_lockout)
}

/// A changed `security.registration.defaultRole` must name an existing staff role other than
/// Super Administrator (422 naming the field); an unchanged one is left alone.
async fn refuse_unknown_default_role(
    conn: &mut PgConnection,
    current: &PlainValues,
    next: &PlainValues,
) -> Result<(), AppError> {
    let (Ok(before), Ok(after)) = (build(current), build(next)) else {
        return Ok(());
    };
    let role = after.security.registration.default_role.trim();
    if role == before.security.registration.default_role.trim() {
        return Ok(());
    }
    let exists: bool = sqlx::query_scalar("select exists (select 1 from roles where name = $1)")
        .bind(role)
        .fetch_one(conn)
        .await?;
    if exists && role != crate::access::CUSTOMER && role != crate::access::SUPER_ADMIN {
        return Ok(());
    }
    Err(AppError::Validation(vec![FieldError::new(
        "security.registration.defaultRole",
        if exists {
            "must be a role a registration may be given (not Customer nor Super Administrator)"
        } else {
            "names no role"
        },
    )]))
}

/// Refuses (409, naming the list) a change after which `acting`'s own address would be refused
/// by the staff address lists while it is not now, unless `confirmed`. A change made without a
/// request address (the system, the command line) is not checked.
fn refuse_self_lockout(
    current: &PlainValues,
    next: &PlainValues,
    acting: &Acting,
    confirmed: bool,
) -> Result<(), AppError> {
    let Some(ip) = acting.meta.ip else { return Ok(()) };
    if confirmed {
        return Ok(());
    }
    let (Ok(before), Ok(after)) = (build(current), build(next)) else {
        return Ok(());
    };
    if staff_ips::refusal(&before.security, Some(ip)).is_some() {
        return Ok(());
    }
    let Some(why) = staff_ips::refusal(&after.security, Some(ip)) else {
        return Ok(());
    };
    let field = if why.contains("blocked") {
        "security.ipBlocklist"
    } else {
        "security.ipAllowlist"
    };
    Err(AppError::conflict(
        field,
        format!(
            "after this change your own address ({ip}) would be refused — {why} — and you would be locked out \
             of the panel; send it again with confirmLockout: true if that is what you want"
        ),
    ))
}
