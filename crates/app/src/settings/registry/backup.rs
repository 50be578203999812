//! The backup and maintenance settings as the console shows them. The database backups are
//! applied: backups by the `backup` module (decision 0053), maintenance by `crate::maintenance`
//! (decision 0054), the health limits by the monitor.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

/// Whether the system is in maintenance now: `maintenance::window`.
const WINDOW: super::Effect = Applied {
    by: &["maintenance/window.rs"],
};
/// The tasks of the window: the `maintenance.run` job.
const TASKS: super::Effect = Applied {
    by: &["maintenance/job.rs"],
};
/// The e-mails around the window.
const NOTIFY: super::Effect = Applied {
    by: &["maintenance/notify.rs"],
};
/// The schedule and retention: read by the backup jobs.
const JOBS: super::Effect = Applied {
    by: &["backup/jobs.rs"],
};
/// How a backup is written.
const CREATE: super::Effect = Applied {
    by: &["backup/create.rs"],
};
/// Where backups are stored.
const STORAGE: super::Effect = Applied {
    by: &["backup/storage.rs"],
};
/// The health limits: read by the monitor's job (`monitor.check`).
const MONITOR: super::Effect = Applied {
    by: &["monitor/job.rs"],
};

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Backup,
    title: "Backup and maintenance",
    summary: "Database backups (how often, how long they are kept, where), maintenance (switched on by hand or \
              the weekly window: what it blocks, its tasks and e-mails), and the limits at which the system's health is reported as degraded.",
    sections: &[
        Section {
            title: "Database backups",
            keys: &[
                key!(
                    "databaseBackupEnabled",
                    "Back up the database",
                    "Makes database backups on the schedule below.",
                    Toggle,
                    JOBS
                ),
                key!(
                    "databaseBackupFrequency",
                    "How often",
                    "How often a backup is made.",
                    Select(&["hourly", "daily", "weekly"]),
                    JOBS
                ),
                key!(
                    "databaseBackupRetentionDays",
                    "Keep backups for",
                    "Backups older than this are deleted.",
                    Number {
                        min: 1,
                        max: 3650,
                        unit: "days"
                    },
                    JOBS
                ),
                key!(
                    "databaseBackupCompression",
                    "Compress",
                    "Backups are compressed (smaller, a little slower to make).",
                    Toggle,
                    CREATE
                ),
                key!(
                    "databaseBackupEncryption",
                    "Encrypt",
                    "Backups are encrypted with the instance's key.",
                    Toggle,
                    CREATE
                ),
                key!(
                    "storagePath",
                    "Folder",
                    "The folder backups are written to, under the data directory (local storage).",
                    Text { max: 255 },
                    STORAGE
                ),
                key!(
                    "storageType",
                    "Storage",
                    "Where backups are kept: a folder under the data directory, or S3-compatible object storage \
                     (the settings below).",
                    Select(&["local", "s3"]),
                    STORAGE
                ),
                key!(
                    "s3Endpoint",
                    "S3 endpoint",
                    "The S3-compatible service's address (empty: Amazon S3 in the region below).",
                    Text { max: 255 },
                    STORAGE
                ),
                key!(
                    "s3Bucket",
                    "S3 bucket",
                    "The bucket backups are written to.",
                    Text { max: 63 },
                    STORAGE
                ),
                key!(
                    "s3Region",
                    "S3 region",
                    "The bucket's region.",
                    Text { max: 64 },
                    STORAGE
                ),
                key!(
                    "s3AccessKeyId",
                    "S3 access key ID",
                    "The access key that may write, read and delete in the bucket.",
                    Text { max: 128 },
                    STORAGE
                ),
                key!(
                    "s3SecretAccessKey",
                    "S3 secret access key",
                    "The secret of that access key; stored encrypted, never shown.",
                    Secret,
                    STORAGE
                ),
                key!(
                    "s3Prefix",
                    "S3 folder",
                    "Backups are named <folder>/<backup id>.dump in the bucket.",
                    Text { max: 255 },
                    STORAGE
                ),
            ],
        },
        Section {
            title: "Maintenance",
            keys: &[
                key!(
                    "maintenanceMode",
                    "Maintenance mode now",
                    "Puts the system in maintenance at once, until switched off: USSD dials get a polite bilingual \
                     END (the `maintenance` template), the panel shows a banner, the panel's and admin API's \
                     changes answer 503 (signing in and out and these backup settings excepted) and the payout \
                     worker starts no new MoMo transfer but still resolves those in flight.",
                    Toggle,
                    WINDOW
                ),
                key!(
                    "maintenanceEnabled",
                    "Weekly maintenance window",
                    "Once a week at the day and time below the system is in maintenance (as above) for the \
                     duration below, and the tasks below run.",
                    Toggle,
                    WINDOW
                ),
                key!(
                    "maintenanceDay",
                    "Day",
                    "The day of the week the window opens (Africa/Kigali).",
                    Select(&[
                        "monday",
                        "tuesday",
                        "wednesday",
                        "thursday",
                        "friday",
                        "saturday",
                        "sunday"
                    ]),
                    WINDOW
                ),
                key!(
                    "maintenanceTime",
                    "Time",
                    "When the window opens (Africa/Kigali).",
                    Time,
                    WINDOW
                ),
                key!(
                    "maintenanceDurationMinutes",
                    "Duration",
                    "How long the window lasts; it may run past midnight into the next day.",
                    Number {
                        min: 5,
                        max: 720,
                        unit: "minutes"
                    },
                    WINDOW
                ),
                key!(
                    "maintenanceTasks.cleanupLogs",
                    "Clean up logs",
                    "Deletes the USSD interaction log and ended USSD sessions older than the analytics settings' \
                     \"Raw data\" days (whether or not automatic clean-up is on there).",
                    Toggle,
                    TASKS
                ),
                key!(
                    "maintenanceTasks.optimizeDatabase",
                    "Optimise the database",
                    "Runs VACUUM ANALYZE (reclaims space of deleted rows and refreshes the planner's statistics).",
                    Toggle,
                    TASKS
                ),
                key!(
                    "maintenanceTasks.updateStatistics",
                    "Update statistics",
                    "Runs ANALYZE (refreshes the planner's statistics).",
                    Toggle,
                    TASKS
                ),
                key!(
                    "maintenanceNotify.before",
                    "E-mail before",
                    "E-mails the recipients below 30 minutes before the window opens.",
                    Toggle,
                    NOTIFY
                ),
                key!(
                    "maintenanceNotify.after",
                    "E-mail after",
                    "E-mails the recipients when the window's tasks have run, with what each did.",
                    Toggle,
                    NOTIFY
                ),
                key!(
                    "maintenanceNotify.onFailure",
                    "E-mail on failure",
                    "E-mails the recipients when a task of the window failed, with the error.",
                    Toggle,
                    NOTIFY
                ),
                key!(
                    "maintenanceNotify.recipients",
                    "Recipients",
                    "Who receives these e-mails (sent through the notification settings' SMTP server).",
                    List {
                        item: Item::Email,
                        max: 20
                    },
                    NOTIFY
                ),
            ],
        },
        Section {
            title: "Health limits",
            keys: &[
                key!(
                    "monitoringEnabled",
                    "Watch the system's health",
                    "Checks the database, MoMo, Africa's Talking, disk, memory and response time once a minute; \
                     past a limit below (or a check failing) the system is reported degraded and a system alert is \
                     raised, resolved when back to normal. Off: no check runs and their alerts are resolved.",
                    Toggle,
                    MONITOR
                ),
                key!(
                    "diskSpacePercent",
                    "Disk use",
                    "Disk use of the data directory's file system above which the system is reported degraded \
                     and an alert raised.",
                    Number {
                        min: 1,
                        max: 99,
                        unit: "%"
                    },
                    MONITOR
                ),
                key!(
                    "memoryUsagePercent",
                    "Memory use",
                    "Memory use (total less available) above which the system is reported degraded and an \
                     alert raised.",
                    Number {
                        min: 1,
                        max: 99,
                        unit: "%"
                    },
                    MONITOR
                ),
                key!(
                    "responseTimeMs",
                    "Response time",
                    "The 95th percentile of the web processes' response times over the last 5 minutes above \
                     which the system is reported degraded and an alert raised.",
                    Number {
                        min: 100,
                        max: 60_000,
                        unit: "ms"
                    },
                    MONITOR
                ),
            ],
        },
    ],
};
