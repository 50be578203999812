//! The security settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

const SIGNIN: &str = "identity/signin.rs";
const REGISTRATIONS: &str = "identity/registrations.rs";

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Security,
    title: "Security",
    summary: "How staff sign in and stay signed in, who may register, the request limits, the addresses \
              staff may work from, and what the audit trail records.",
    sections: &[
        Section {
            title: "Sign-in and sessions",
            keys: &[
                key!(
                    "sessionTimeoutMinutes",
                    "Session lifetime",
                    "A signed-in session ends this long after sign-in, however active it is.",
                    Number {
                        min: 5,
                        max: 10_080,
                        unit: "minutes"
                    },
                    Applied {
                        by: &[SIGNIN, "identity/signin_api.rs", "identity/pages.rs"]
                    }
                ),
                key!(
                    "idleTimeoutMinutes",
                    "Idle timeout",
                    "A session with no request for this long ends; the person signs in again.",
                    Number {
                        min: 1,
                        max: 1440,
                        unit: "minutes"
                    },
                    Applied {
                        by: &[SIGNIN, "web/auth.rs"]
                    }
                ),
                key!(
                    "maxLoginAttempts",
                    "Wrong passwords before lock-out",
                    "After this many wrong passwords or codes in a row, the account is locked for the lock-out time.",
                    Number {
                        min: 1,
                        max: 100,
                        unit: ""
                    },
                    Applied { by: &[SIGNIN] }
                ),
                key!(
                    "lockoutDurationMinutes",
                    "Lock-out time",
                    "How long a locked account stays locked.",
                    Number {
                        min: 1,
                        max: 1440,
                        unit: "minutes"
                    },
                    Applied { by: &[SIGNIN] }
                ),
                key!(
                    "passwordMinLength",
                    "Shortest password",
                    "New passwords (set-up, change) must have at least this many characters.",
                    Number {
                        min: 8,
                        max: 128,
                        unit: "characters"
                    },
                    Applied {
                        by: &["identity/account_pages.rs", "identity/registrations_pages.rs"]
                    }
                ),
                key!(
                    "passwordMaxAgeDays",
                    "Password lifetime",
                    "A password older than this must be changed at the next sign-in, before anything else. \
                     0: passwords do not expire (what NIST advises).",
                    Number {
                        min: 0,
                        max: 3650,
                        unit: "days"
                    },
                    Applied {
                        by: &["identity/password_age.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Registration",
            keys: &[
                key!(
                    "registration.adminRegistrationEnabled",
                    "Open registration",
                    "On: people may ask for a staff account on the sign-in page; each request waits for approval.",
                    Toggle,
                    Applied {
                        by: &[REGISTRATIONS, "identity/pages.rs"]
                    }
                ),
                key!(
                    "registration.defaultRole",
                    "Default role",
                    "The role an approved registration gets unless the approver picks others (it is ticked on the \
                     registrations page).",
                    Text { max: 100 },
                    Applied { by: &[REGISTRATIONS] }
                ),
                key!(
                    "registration.registrationMessage",
                    "Registration page message",
                    "A message shown on the registration page (who to ask, what to expect).",
                    LongText { max: 500 },
                    Applied {
                        by: &["identity/registrations_pages.rs"]
                    }
                ),
                key!(
                    "registration.approvalNotificationEmail",
                    "Notify of new registrations",
                    "An address e-mailed when someone registers, so the request is reviewed (needs e-mail on in \
                     Notifications). Empty: no e-mail.",
                    Email,
                    Applied {
                        by: &["identity/mail.rs"]
                    }
                ),
                key!(
                    "registration.maxRegistrationsPerHour",
                    "Registrations per hour",
                    "Registrations accepted from one address in an hour; more are refused.",
                    Number {
                        min: 1,
                        max: 10_000,
                        unit: ""
                    },
                    Applied { by: &[REGISTRATIONS] }
                ),
                key!(
                    "registration.maxRegistrationsPerDay",
                    "Registrations per day",
                    "Registrations accepted in a day from all addresses together; more are refused.",
                    Number {
                        min: 1,
                        max: 100_000,
                        unit: ""
                    },
                    Applied { by: &[REGISTRATIONS] }
                ),
            ],
        },
        Section {
            title: "Request limits",
            keys: &[
                key!(
                    "rateLimiting.apiRequestsPerMinute",
                    "API requests per minute",
                    "Requests one API key or session may make in a minute; more get 429.",
                    Number {
                        min: 1,
                        max: 1_000_000,
                        unit: ""
                    },
                    Applied { by: &["web/quota.rs"] }
                ),
                key!(
                    "rateLimiting.apiRequestsPerHour",
                    "API requests per hour",
                    "Requests one API key or session may make in an hour; more get 429.",
                    Number {
                        min: 1,
                        max: 10_000_000,
                        unit: ""
                    },
                    Applied { by: &["web/quota.rs"] }
                ),
                key!(
                    "rateLimiting.ussdRequestsPerMinute",
                    "USSD screens per minute",
                    "Screens one phone may ask for in a minute; more get a polite goodbye.",
                    Number {
                        min: 1,
                        max: 10_000,
                        unit: ""
                    },
                    Applied {
                        by: &["ussd/service.rs"]
                    }
                ),
                key!(
                    "rateLimiting.ussdRequestsPerHour",
                    "USSD screens per hour",
                    "Screens one phone may ask for in an hour; more get a polite goodbye.",
                    Number {
                        min: 1,
                        max: 100_000,
                        unit: ""
                    },
                    Applied {
                        by: &["ussd/service.rs"]
                    }
                ),
                key!(
                    "rateLimiting.loginAttemptsPerMinute",
                    "Sign-in attempts per minute",
                    "Sign-in attempts from one address in a minute; more are refused for a while.",
                    Number {
                        min: 1,
                        max: 1000,
                        unit: ""
                    },
                    Applied { by: &[SIGNIN] }
                ),
                key!(
                    "rateLimiting.fileUploadsPerHour",
                    "Uploads per hour",
                    "Files (code imports, statements) one person may upload in an hour.",
                    Number {
                        min: 1,
                        max: 10_000,
                        unit: ""
                    },
                    Applied { by: &["web/quota.rs"] }
                ),
                key!(
                    "rateLimiting.downloadsPerHour",
                    "Downloads per hour",
                    "Exports one person may download in an hour.",
                    Number {
                        min: 1,
                        max: 10_000,
                        unit: ""
                    },
                    Applied {
                        by: &["batches/api.rs", "disbursement/api.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Staff addresses",
            keys: &[
                key!(
                    "ipAllowlist",
                    "Allowed addresses",
                    "When not empty, the panel, sign-in and the staff API answer only these addresses or ranges \
                     (CIDR). The USSD and MoMo callbacks and the health check are not affected.",
                    List {
                        item: Item::Cidr,
                        max: 200
                    },
                    Applied {
                        by: &["web/staff_ips.rs"]
                    }
                ),
                key!(
                    "ipBlocklist",
                    "Blocked addresses",
                    "The panel, sign-in and the staff API refuse these addresses or ranges (CIDR), even when \
                     allowed above.",
                    List {
                        item: Item::Cidr,
                        max: 200
                    },
                    Applied {
                        by: &["web/staff_ips.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Audit",
            keys: &[
                key!(
                    "audit.logFailedAttempts",
                    "Record failed sign-ins with unknown e-mails",
                    "Failed sign-ins to existing accounts are always recorded. On: those naming an unknown e-mail \
                     are recorded in the audit trail too.",
                    Toggle,
                    Applied { by: &[SIGNIN] }
                ),
                key!(
                    "audit.retentionDays",
                    "Audit retention",
                    "How long audit records are kept (at least 7 years). Each month is kept whole until its last \
                     day is this old; then its records are written, with their chain fields, to an archive file in \
                     the backup folder (audit-archive; and the S3 bucket when backups go there) and removed \
                     from the database. The chain keeps every \
                     position, so verifying it still passes.",
                    Number {
                        min: 2557,
                        max: 36_500,
                        unit: "days"
                    },
                    Applied {
                        by: &["audit/retention.rs"]
                    }
                ),
                key!(
                    "audit.realTimeAlerts",
                    "Security alerts as they happen",
                    "On: an account locked after too many wrong passwords, an address throttled for too many \
                     sign-in attempts and a sign-in from an address new for that person raise an alert for the \
                     people who watch security alerts.",
                    Toggle,
                    Applied { by: &[SIGNIN] }
                ),
            ],
        },
    ],
};
