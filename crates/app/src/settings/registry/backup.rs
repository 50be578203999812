//! The backup and maintenance settings as the console shows them. Issue #23 (operations) applies
//! them; until then the page says so beside every key.

use super::{key, CategoryDoc, Effect::*, Input::*, Section};
use crate::settings::Category;

const LATER: super::Effect = Later { issue: 23 };

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
                    "Reports the system as degraded past the limits below.",
                    Toggle,
                    LATER
                ),
                key!(
                    "diskSpacePercent",
                    "Disk use",
                    "Disk use above which the system is reported degraded.",
                    Number {
                        min: 50,
                        max: 99,
                        unit: "%"
                    },
                    LATER
                ),
                key!(
                    "memoryUsagePercent",
                    "Memory use",
                    "Memory use above which the system is reported degraded.",
                    Number {
                        min: 50,
                        max: 99,
                        unit: "%"
                    },
                    LATER
                ),
                key!(
                    "responseTimeMs",
                    "Response time",
                    "Response time above which the system is reported degraded.",
                    Number {
                        min: 100,
                        max: 60_000,
                        unit: "ms"
                    },
                    LATER
                ),
            ],
        },
    ],
};
