//! Checks a settings change must pass besides validation: a change to the staff address lists
//! that would refuse the address of the person making it needs their explicit confirmation.

use super::{build, PlainValues};
use crate::error::AppError;
use crate::unit::Acting;
use crate::web::staff_ips;

/// Refuses (409, naming the list) a change after which `acting`'s own address would be refused
/// by the staff address lists while it is not now, unless `confirmed`. A change made without a
/// request address (the system, the command line) is not checked.
pub(super) fn refuse_self_lockout(
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
    let field = if after.security.ip_blocklist.is_empty() || before.security.ip_blocklist == after.security.ip_blocklist
    {
        "security.ipAllowlist"
    } else {
        "security.ipBlocklist"
    };
    Err(AppError::conflict(
        field,
        format!(
            "after this change your own address ({ip}) would be refused — {why} — and you would be locked out \
             of the panel; send it again with confirmLockout: true if that is what you want"
        ),
    ))
}
