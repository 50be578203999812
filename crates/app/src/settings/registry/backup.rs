//! The backup and maintenance settings as the console shows them. Issue #23 (operations) applies
//! them; until then the page says so beside every key.

use super::{key, CategoryDoc, Effect::*, Input::*, Section};
use crate::settings::Category;

const LATER: super::Effect = Later { issue: 23 };
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
                    LATER
                ),
                key!(
                    "databaseBackupFrequency",
                    "How often",
                    "How often a backup is made.",
                    Select(&["hourly", "daily", "weekly"]),
                    LATER
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
                    LATER
                ),
                key!(
                    "databaseBackupCompression",
                    "Compress",
                    "Backups are compressed (smaller, a little slower to make).",
                    Toggle,
                    LATER
                ),
                key!(
                    "databaseBackupEncryption",
                    "Encrypt",
                    "Backups are encrypted with the instance's key.",
                    Toggle,
                    LATER
                ),
                key!(
                    "storagePath",
                    "Folder",
                    "The folder backups are written to, under the data directory.",
                    Text { max: 255 },
                    LATER
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
