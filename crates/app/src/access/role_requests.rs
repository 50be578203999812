//! The role change request's state machine, and its one writer.
//!
//! | from      | to        | who                                                        |
//! |-----------|-----------|------------------------------------------------------------|
//! | (new)     | pending   | a holder of `users.roles.assign` (`revoke` for a removal)  |
//! | pending   | approved  | a second Super Administrator (not the requester)           |
//! | pending   | rejected  | a second Super Administrator (not the requester)           |
//! | pending   | cancelled | (reserved: nothing cancels a request yet)                  |
//!
//! A decided request (approved, rejected, cancelled) never moves again. The statuses match the
//! `role_change_requests_status_check` constraint; [`move_request`] is the only code that
//! changes `role_change_requests.status`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::AppError;

/// Where a role change request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum RequestStatus {
    Pending,
    Approved,
    Rejected,
    Cancelled,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 4] = [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Rejected,
        RequestStatus::Cancelled,
    ];

    /// Every allowed move, from → to.
    pub const TRANSITIONS: [(RequestStatus, RequestStatus); 3] = [
        (RequestStatus::Pending, RequestStatus::Approved),
        (RequestStatus::Pending, RequestStatus::Rejected),
        (RequestStatus::Pending, RequestStatus::Cancelled),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Cancelled => "cancelled",
        }
    }

    pub fn can_move_to(self, to: RequestStatus) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }

    /// `Ok` when the move is allowed; a 409 saying where the request already is otherwise.
    pub fn check_move(self, to: RequestStatus) -> Result<(), AppError> {
        if self.can_move_to(to) {
            Ok(())
        } else {
            Err(AppError::conflict("status", format!("this request is already {self}")))
        }
    }
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Moves request `id` to `to`, recording who decided and when, after checking the move from its
/// current status (the row is locked). Returns the status it left. In the caller's transaction;
/// the caller writes the audit row that says why.
pub async fn move_request(
    conn: &mut PgConnection,
    id: Uuid,
    to: RequestStatus,
    decided_by: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<RequestStatus, AppError> {
    let from: RequestStatus = sqlx::query_scalar("select status from role_change_requests where id = $1 for update")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(AppError::NotFound("role change request"))?;
    from.check_move(to)?;
    sqlx::query("update role_change_requests set status = $2, decided_by_user_id = $3, decided_at = $4 where id = $1")
        .bind(id)
        .bind(to.as_str())
        .bind(decided_by)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(from)
}
