//! The backup and maintenance settings as the console shows them. The database backups are
//! applied by the `backup` module (decision 0053); the maintenance window is still to come
//! (issue #23).

use super::{key, CategoryDoc, Effect::*, Input::*, Section};
use crate::settings::Category;

const LATER: super::Effect = Later { issue: 23 };
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
    summary: "Database backups (how often, how long they are kept, where), the weekly maintenance window, and \
              the limits at which the system's health is reported as degraded.",
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
            title: "Maintenance window",
            keys: &[
                key!(
                    "maintenanceEnabled",
                    "Maintenance window",
                    "Runs clean-up and database upkeep once a week at the time below.",
                    Toggle,
                    LATER
                ),
                key!(
                    "maintenanceDay",
                    "Day",
                    "The day of the week of the window.",
                    Select(&[
                        "monday",
                        "tuesday",
                        "wednesday",
                        "thursday",
                        "friday",
                        "saturday",
                        "sunday"
                    ]),
                    LATER
                ),
                key!(
                    "maintenanceTime",
                    "Time",
                    "When the window starts (Africa/Kigali).",
                    Time,
                    LATER
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
