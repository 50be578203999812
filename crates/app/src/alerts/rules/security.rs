//! The security alerts (audience `security.alerts.view`):
//!
//! - an address throttled (beside the `security_events` row sign-in writes) and a sign-in from an
//!   address new for that person — these follow `security.audit.realTimeAlerts`, like the lockout
//!   alert sign-in raises itself (`security.account_locked`);
//! - a new Super Administrator, an approved role change, an API key created — read from the audit
//!   log by the evaluator (`alerts.evaluate`, once a minute) since its cursor, always raised.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::access::Permission;
use crate::alerts::{raise, NewAlert, Severity};

/// Sign-ins from `ip` were throttled (the `security_events` row sign-in writes at the first
/// refusal of a window): one open alert per address, counting each throttled window.
pub async fn throttled(
    conn: &mut PgConnection,
    ip: std::net::IpAddr,
    limit: u32,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let alert = NewAlert::new(
        "security.throttle",
        Severity::Warning,
        Permission::SecurityAlertsView,
        format!("Sign-ins from {ip} throttled"),
    )
    .body(format!(
        "More than {limit} sign-in attempts a minute came from this address. Someone may be guessing passwords; \
         each throttled minute counts on this alert."
    ))
    .subject("address", ip)
    .dedupe(format!("security.throttle:{ip}"));
    raise(conn, &alert, now).await
}

/// A person completed a sign-in from `ip`: an alert when they have signed in before, but never
/// from this address (as far as the sessions kept remember: expired ones are deleted after a day
/// by housekeeping, revoked ones after 30 days).
pub async fn sign_in_address(
    conn: &mut PgConnection,
    user_id: Uuid,
    session_id: Uuid,
    ip: Option<std::net::IpAddr>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let Some(ip) = ip else { return Ok(false) };
    let net = sqlx::types::ipnetwork::IpNetwork::from(ip);
    let (before, here): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from sessions where user_id = $1 and id <> $2 and stage = 'full'), \
                exists (select 1 from sessions where user_id = $1 and id <> $2 and stage = 'full' and ip = $3)",
    )
    .bind(user_id)
    .bind(session_id)
    .bind(net)
    .fetch_one(&mut *conn)
    .await?;
    if !before || here {
        return Ok(false);
    }
    let email: String = sqlx::query_scalar("select email::text from users where id = $1")
        .bind(user_id)
        .fetch_one(&mut *conn)
        .await?;
    let alert = NewAlert::new(
        "security.new_address",
        Severity::Info,
        Permission::SecurityAlertsView,
        format!("{email} signed in from a new address: {ip}"),
    )
    .body("The first completed sign-in of this person from this address. If it was not them, revoke their sessions.")
    .subject("user", user_id)
    .dedupe(format!("security.new_address:{user_id}:{ip}"));
    raise(conn, &alert, now).await
}

/// How long after its time an audit row is read, so a transaction that committed a little after
/// its clock reading is not passed over.
const AUDIT_LAG: chrono::Duration = chrono::Duration::seconds(10);

/// The audit rows of role and key changes since `from` (up to `now` less [`AUDIT_LAG`]), through
/// the audit log's (action, created_at) index: a new Super Administrator (a role assigned, by an
/// approval, directly or at account creation), an approved role change, an API key created.
/// Returns where the next run starts.
pub async fn from_audit(
    conn: &mut PgConnection,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, sqlx::Error> {
    let to = now - AUDIT_LAG;
    if to <= from {
        return Ok(from);
    }
    let rows: Vec<(String, Option<String>, serde_json::Value)> = sqlx::query_as(
        "select a.action, a.entity_id, coalesce(a.after, '{}'::jsonb) from audit_logs a \
         where a.action = any($1) and a.created_at > $2 and a.created_at <= $3 order by a.created_at limit 1000",
    )
    .bind(&["user.role_assigned", "role_change.approved", "api_key.created"][..])
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    for (action, entity, after) in rows {
        let Some(entity) = entity else { continue };
        let text = |k: &str| after.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let alert = match action.as_str() {
            "user.role_assigned" if text("role") == crate::access::SUPER_ADMIN => {
                let email = email_of(conn, &entity).await?;
                NewAlert::new(
                    "security.new_super_admin",
                    Severity::Critical,
                    Permission::SecurityAlertsView,
                    format!("New Super Administrator: {email}"),
                )
                .body("This person now holds every permission. Check that the change was intended.")
                .subject("user", &entity)
                .dedupe(format!("security.new_super_admin:{entity}"))
            }
            "role_change.approved" => {
                let user = text("userId");
                let email = email_of(conn, &user).await?;
                let what = if text("change") == "assign" {
                    "given"
                } else {
                    "taken from"
                };
                NewAlert::new(
                    "security.role_change",
                    Severity::Info,
                    Permission::SecurityAlertsView,
                    format!("Role change approved: {} {what} {email}", text("role")),
                )
                .body("A second Super Administrator approved this change; it applies from the person's next request.")
                .subject("user", &user)
                .dedupe(format!("security.role_change:{entity}"))
            }
            "api_key.created" => {
                let email = email_of(conn, &text("owner")).await?;
                NewAlert::new(
                    "security.api_key_created",
                    Severity::Info,
                    Permission::SecurityAlertsView,
                    format!("API key \"{}\" created for {email}", text("name")),
                )
                .body(format!(
                    "It acts with the role {}. Revoke it on the person's API keys if it was not expected.",
                    text("role")
                ))
                .subject("api_key", &entity)
                .dedupe(format!("security.api_key_created:{entity}"))
            }
            _ => continue,
        };
        raise(conn, &alert, now).await?;
    }
    Ok(to)
}

async fn email_of(conn: &mut PgConnection, user: &str) -> Result<String, sqlx::Error> {
    let Ok(id) = Uuid::parse_str(user) else {
        return Ok("an unknown person".to_owned());
    };
    Ok(
        sqlx::query_scalar::<_, String>("select email::text from users where id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?
            .unwrap_or_else(|| "an unknown person".to_owned()),
    )
}
