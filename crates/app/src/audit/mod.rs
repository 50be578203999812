//! Audit log: every state change that matters, recorded inside the caller's transaction.
//!
//! Owns `audit_logs` and `audit_chain_heads`. [`record`] inserts one row with the caller's
//! connection, so the change and its audit row commit or roll back together. Rows are
//! append-only (a trigger refuses UPDATE, DELETE and TRUNCATE) and hash-chained by a single
//! sealer shortly after they commit ([`chain::seal_pending`]); [`chain::verify`] walks the chain
//! and names the first row that breaks it. The viewer reads it ([`query`], [`api`], [`pages`]),
//! exports it with its chain fields for offline checking ([`export`]) and verifies it on demand
//! as a job ([`panel`]).

pub mod api;
pub mod chain;
pub mod export;
pub mod pages;
pub mod panel;
pub mod query;
pub mod retention;

use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::sql::{Bind, Binder, Params, Slot};

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    User { user_id: Uuid, session_id: Option<Uuid> },
    ApiKey { user_id: Uuid, key_id: Uuid },
    Customer { user_id: Uuid },
    System,
    Anonymous,
}

impl Actor {
    fn kind(&self) -> &'static str {
        match self {
            Actor::User { .. } => "user",
            Actor::ApiKey { .. } => "api_key",
            Actor::Customer { .. } => "customer",
            Actor::System => "system",
            Actor::Anonymous => "anonymous",
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        match *self {
            Actor::User { user_id, .. } | Actor::ApiKey { user_id, .. } | Actor::Customer { user_id } => Some(user_id),
            Actor::System | Actor::Anonymous => None,
        }
    }

    fn session_id(&self) -> Option<Uuid> {
        match *self {
            Actor::User { session_id, .. } => session_id,
            _ => None,
        }
    }
}

/// Where a request came from, for the audit row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

macro_rules! actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Typed audit action names: `<entity>.<verb>`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action { $($variant,)* }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(Action::$variant => $name,)* }
            }
        }
    };
}

actions! {
    SystemBootstrapped => "system.bootstrapped",
    AccessCatalogueSeeded => "access.catalogue_seeded",
    UserCreated => "user.created",
    UserUpdated => "user.updated",
    UserDeactivated => "user.deactivated",
    UserDeleted => "user.deleted",
    UserRoleAssigned => "user.role_assigned",
    UserRoleRevoked => "user.role_revoked",
    RolePermissionsChanged => "role.permissions_changed",
    AuthSignInSucceeded => "auth.sign_in_succeeded",
    AuthSignInFailed => "auth.sign_in_failed",
    AuthLockedOut => "auth.locked_out",
    AuthSignedOut => "auth.signed_out",
    AuthMfaEnrolled => "auth.mfa_enrolled",
    AuthMfaReset => "auth.mfa_reset",
    PasswordChanged => "user.password_changed",
    PasswordSetUp => "user.password_set_up",
    ApiKeyCreated => "api_key.created",
    ApiKeyRevoked => "api_key.revoked",
    RegistrationSubmitted => "registration.submitted",
    RegistrationApproved => "registration.approved",
    RegistrationRejected => "registration.rejected",
    RoleChangeRequested => "role_change.requested",
    RoleChangeApproved => "role_change.approved",
    RoleChangeRejected => "role_change.rejected",
    SessionRevoked => "session.revoked",
    SettingsUpdated => "settings.updated",
    SettingsRolledBack => "settings.rolled_back",
    SettingsExported => "settings.exported",
    NotificationTemplateUpdated => "notification_template.updated",
    NotificationTemplateReset => "notification_template.reset",
    BatchCreated => "batch.created",
    BatchUpdated => "batch.updated",
    BatchStatusChanged => "batch.status_changed",
    BatchDeleted => "batch.deleted",
    BatchAssigned => "batch.assigned",
    BatchToppedUp => "batch.topped_up",
    CodesGenerated => "codes.generated",
    CodesImported => "codes.imported",
    CodesDownloaded => "codes.downloaded",
    CodeStatusChanged => "code.status_changed",
    CodeReported => "code.reported",
    CodeUpdated => "code.updated",
    CodeDeleted => "code.deleted",
    CodesBulkStatusChanged => "codes.bulk_status_changed",
    CustomerRegistered => "customer.registered",
    CustomerFlagged => "customer.flagged",
    CustomerFlagCleared => "customer.flag_cleared",
    CustomerBlocked => "customer.blocked",
    RedemptionCreated => "redemption.created",
    DisbursementQueued => "disbursement.queued",
    DisbursementCompleted => "disbursement.completed",
    DisbursementFailed => "disbursement.failed",
    DisbursementAttempted => "disbursement.attempted",
    DisbursementRetryScheduled => "disbursement.retry_scheduled",
    DisbursementPayeeInvalid => "disbursement.payee_invalid",
    DisbursementHeld => "disbursement.held",
    DisbursementApproved => "disbursement.approved",
    DisbursementRejected => "disbursement.rejected",
    DisbursementRetried => "disbursement.retried",
    DisbursementPayeeChanged => "disbursement.payee_changed",
    DisbursementsExported => "disbursements.exported",
    RedemptionReversalRequested => "redemption.reversal_requested",
    RedemptionReversalRejected => "redemption.reversal_rejected",
    RedemptionReversed => "redemption.reversed",
    RedemptionsExported => "redemptions.exported",
    ReconciliationStarted => "reconciliation.started",
    ReconciliationCompleted => "reconciliation.completed",
    ReconciliationItemResolved => "reconciliation.item_resolved",
    ReconciliationStatementUploaded => "reconciliation.statement_uploaded",
    AlertRaised => "alert.raised",
    AlertAcknowledged => "alert.acknowledged",
    AlertResolved => "alert.resolved",
    AlertEscalated => "alert.escalated",
    AlertSnoozed => "alert.snoozed",
    AlertsExported => "alerts.exported",
    JobRetried => "job.retried",
    JobCancelled => "job.cancelled",
    CustomReportSaved => "report.custom_saved",
    CustomReportDeleted => "report.custom_deleted",
    ReportScheduleCreated => "report.schedule_created",
    ReportScheduleDeleted => "report.schedule_deleted",
    ScheduledReportSent => "report.scheduled_sent",
    ReportExported => "report.exported",
    ReportDownloaded => "report.downloaded",
    ReportFilesExpired => "report.files_expired",
    AlertRuleCreated => "alert_rule.created",
    AlertRuleUpdated => "alert_rule.updated",
    AlertRuleDeleted => "alert_rule.deleted",
    WebhookEndpointCreated => "webhook.endpoint_created",
    WebhookEndpointUpdated => "webhook.endpoint_updated",
    WebhookEndpointDeleted => "webhook.endpoint_deleted",
    WebhookEndpointPaused => "webhook.endpoint_paused",
    WebhookEndpointResumed => "webhook.endpoint_resumed",
    WebhookTestQueued => "webhook.test_queued",
    AccessDenied => "access.denied",
    UserViewed => "user.viewed",
    AuditExported => "audit.exported",
    AuditVerifyRequested => "audit.verify_requested",
    AuditChainVerified => "audit.chain_verified",
    AuditArchived => "audit.archived",
    AlertPhoneChanged => "user.alert_phone_changed",
    MaintenanceStarted => "maintenance.started",
    MaintenanceFinished => "maintenance.finished",
    BackupRequested => "backup.requested",
    BackupCreated => "backup.created",
    BackupVerified => "backup.verified",
    BackupDownloaded => "backup.downloaded",
    BackupRestored => "backup.restored",
    BackupExpired => "backup.expired",
}

/// One audit row, built by the caller and written by [`record`].
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub actor: Actor,
    pub action: Action,
    pub entity_type: &'static str,
    pub entity_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub metadata: Value,
    pub meta: RequestMeta,
}

impl AuditEvent {
    pub fn new(actor: Actor, action: Action, entity_type: &'static str, entity_id: impl ToString) -> Self {
        Self {
            actor,
            action,
            entity_type,
            entity_id: Some(entity_id.to_string()),
            before: None,
            after: None,
            metadata: Value::Object(Default::default()),
            meta: RequestMeta::default(),
        }
    }

    pub fn before(mut self, v: Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: Value) -> Self {
        self.after = Some(v);
        self
    }

    pub fn metadata(mut self, v: Value) -> Self {
        self.metadata = v;
        self
    }

    pub fn meta(mut self, meta: RequestMeta) -> Self {
        self.meta = meta;
        self
    }
}

/// Appends `event` with the caller's connection — call it inside the transaction that makes the
/// change. Returns the row id.
pub async fn record(conn: &mut PgConnection, event: &AuditEvent, at: DateTime<Utc>) -> Result<Uuid, sqlx::Error> {
    let ip = event.meta.ip.map(sqlx::types::ipnetwork::IpNetwork::from);
    // the row and its place in the sealing queue, in one statement
    sqlx::query_scalar(
        r#"with a as (
             insert into audit_logs
               (id, actor_type, actor_user_id, action, entity_type, entity_id, session_id, ip, user_agent,
                request_id, before, after, metadata, created_at)
             values ($14, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
             returning id, seq, created_at)
           insert into audit_pending (seq, id, created_at) select seq, id, created_at from a returning id"#,
    )
    .bind(event.actor.kind())
    .bind(event.actor.user_id())
    .bind(event.action.as_str())
    .bind(event.entity_type)
    .bind(event.entity_id.as_deref())
    .bind(event.actor.session_id())
    .bind(ip)
    .bind(event.meta.user_agent.as_deref())
    .bind(event.meta.request_id.as_deref())
    .bind(event.before.as_ref())
    .bind(event.after.as_ref())
    .bind(&event.metadata)
    .bind(at)
    // time-ordered ids: each row lands at the right edge of the primary key
    .bind(Uuid::now_v7())
    .fetch_one(conn)
    .await
}

/// Appends several events in one statement (a hot path that changes several things in one
/// transaction: a first-time customer's registration and redemption, say). Same guarantees as
/// [`record`]: call it inside the transaction that makes the changes.
pub async fn record_all(conn: &mut PgConnection, events: &[AuditEvent], at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    static SQL: LazyLock<(String, AppendSql, usize)> = LazyLock::new(|| {
        let mut p = Params::new();
        let append = AppendSql::new(&mut p);
        (format!("with {} select 1", append.items), append, p.count())
    });
    let (sql, append, params) = &*SQL;
    match events {
        [] => Ok(()),
        [one] => record(conn, one, at).await.map(|_| ()),
        _ => append
            .bind(Binder::new(sqlx::query(sql.as_str())), events, at)
            .finish(*params)
            .execute(conn)
            .await
            .map(|_| ()),
    }
}

/// The `with` items that append events (their rows and their places in the sealing queue), for a
/// statement that also makes the audited change, and so saves a round trip on a hot path. Bind
/// them with [`AppendSql::bind`]. Same guarantees as [`record`].
#[derive(Debug, Clone)]
pub struct AppendSql {
    slot: Slot,
    pub items: String,
}

impl AppendSql {
    /// Takes fourteen placeholders.
    pub fn new(p: &mut Params) -> Self {
        let (slot, [a, b, c, d, e, f, g, h, i, j, k, l, at, m]) = p.take::<14>();
        let items = format!(
            r#"audit_rows as (
             insert into audit_logs
               (id, actor_type, actor_user_id, action, entity_type, entity_id, session_id, ip, user_agent,
                request_id, before, after, metadata, created_at)
             select t.m, t.a, t.b, t.c, t.d, t.e, t.f, t.g, t.h, t.i, t.j, t.k, t.l, {at}
             from unnest({a}::text[], {b}::uuid[], {c}::text[], {d}::text[], {e}::text[], {f}::uuid[], {g}::inet[],
                         {h}::text[], {i}::text[], {j}::jsonb[], {k}::jsonb[], {l}::jsonb[], {m}::uuid[])
                  with ordinality as t(a, b, c, d, e, f, g, h, i, j, k, l, m, n)
             order by t.n
             returning id, seq, created_at),
           audit_queued as (insert into audit_pending (seq, id, created_at) select seq, id, created_at from audit_rows)"#
        );
        AppendSql { slot, items }
    }

    /// Binds `events` (in order) and their time at the fragment's slot.
    pub fn bind<'q, Q: Bind<'q>>(&self, b: Binder<Q>, events: &[AuditEvent], at: DateTime<Utc>) -> Binder<Q> {
        let col = |f: fn(&AuditEvent) -> Option<String>| events.iter().map(f).collect::<Vec<_>>();
        let json = |f: fn(&AuditEvent) -> Option<&Value>| {
            events
                .iter()
                .map(|e| f(e).cloned().map(sqlx::types::Json))
                .collect::<Vec<_>>()
        };
        b.at(self.slot, |b| {
            b.bind(col(|e| Some(e.actor.kind().to_owned())))
                .bind(events.iter().map(|e| e.actor.user_id()).collect::<Vec<_>>())
                .bind(col(|e| Some(e.action.as_str().to_owned())))
                .bind(col(|e| Some(e.entity_type.to_owned())))
                .bind(col(|e| e.entity_id.clone()))
                .bind(events.iter().map(|e| e.actor.session_id()).collect::<Vec<_>>())
                .bind(
                    events
                        .iter()
                        .map(|e| e.meta.ip.map(sqlx::types::ipnetwork::IpNetwork::from))
                        .collect::<Vec<_>>(),
                )
                .bind(col(|e| e.meta.user_agent.clone()))
                .bind(col(|e| e.meta.request_id.clone()))
                .bind(json(|e| e.before.as_ref()))
                .bind(json(|e| e.after.as_ref()))
                .bind(json(|e| Some(&e.metadata)))
                .bind(at)
                // time-ordered ids, as in `record`
                .bind(events.iter().map(|_| Uuid::now_v7()).collect::<Vec<_>>())
        })
    }
}

/// The viewer's routes: the API and the pages.
pub fn routes() -> Vec<crate::web::routes::RouteSpec> {
    let mut specs = api::routes();
    specs.extend(pages::routes());
    specs
}

#[cfg(test)]
mod tests {
    use super::Action;

    #[test]
    fn action_names_are_unique_and_dotted() {
        let mut seen = std::collections::HashSet::new();
        for a in Action::ALL {
            assert!(seen.insert(a.as_str()), "duplicate {}", a.as_str());
            assert!(a.as_str().contains('.'), "{}", a.as_str());
        }
    }
}
