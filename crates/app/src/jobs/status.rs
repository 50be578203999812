//! A job's status and the moves between them.
//!
//! | from                | to        | who                                                        |
//! |---------------------|-----------|------------------------------------------------------------|
//! | (new)               | queued    | [`super::enqueue`], in the transaction of the change causing it |
//! | queued              | running   | a worker claiming it (`for update skip locked`, with a lease) |
//! | running             | succeeded | that worker, when the handler returns                       |
//! | running             | queued    | that worker after a retryable failure (backoff), on shutdown, or the reaper when the lease expired |
//! | running             | dead      | that worker (a permanent failure, or the last attempt), or the reaper |
//! | queued              | cancelled | deleting a batch cancels its queued code generation         |
//! | dead, cancelled     | queued    | a person, through [`super::retry`] (audited)               |
//!
//! The statuses match the `jobs_status_check` constraint.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, sqlx::Type, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Dead,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    /// Every allowed move, from → to.
    pub const TRANSITIONS: [(JobStatus, JobStatus); 7] = [
        (JobStatus::Queued, JobStatus::Running),
        (JobStatus::Running, JobStatus::Succeeded),
        (JobStatus::Running, JobStatus::Queued),
        (JobStatus::Running, JobStatus::Dead),
        (JobStatus::Queued, JobStatus::Cancelled),
        (JobStatus::Dead, JobStatus::Queued),
        (JobStatus::Cancelled, JobStatus::Queued),
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn can_move_to(self, to: JobStatus) -> bool {
        Self::TRANSITIONS.contains(&(self, to))
    }

    /// Finished for good unless a person retries it.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Dead | JobStatus::Cancelled)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status equals its name (`view.status == "succeeded"`), as the JSON and the database spell it.
impl PartialEq<&str> for JobStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::JobStatus;

    #[test]
    fn a_person_retries_only_what_is_finished_and_not_succeeded() {
        for from in JobStatus::ALL {
            let by_person = from.can_move_to(JobStatus::Queued) && from != JobStatus::Running;
            assert_eq!(
                by_person,
                matches!(from, JobStatus::Dead | JobStatus::Cancelled),
                "{from}"
            );
        }
        assert!(!JobStatus::Succeeded.can_move_to(JobStatus::Queued));
    }
}
