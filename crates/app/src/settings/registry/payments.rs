//! The payments settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

const WORKER: &str = "disbursement/worker/mod.rs";
const GUARDS: &str = "disbursement/worker/guards.rs";
const SETTLE: &str = "disbursement/worker/settle.rs";
const REDEEM: &str = "redemption/redeem.rs";

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Payments,
    title: "Payments",
    summary: "How prizes are paid over MTN MoMo: the account, the amounts, approvals, limits, retries \
              and how fast the payout worker goes.",
    sections: &[
        Section {
            title: "MTN MoMo account",
            keys: &[
                key!(
                    "momoBaseUrl",
                    "MoMo API address",
                    "Where payouts are sent: MTN's sandbox while testing, the production address once MTN has \
                     approved the account.",
                    Url {
                        https_in_production: true
                    },
                    Applied {
                        by: &["disbursement/mod.rs"]
                    }
                ),
                key!(
                    "momoApiUser",
                    "API user",
                    "The API user MTN issued for the disbursement product (a UUID).",
                    Secret,
                    Applied {
                        by: &["disbursement/mod.rs"]
                    }
                ),
                key!(
                    "momoApiKey",
                    "API key",
                    "The API key of that user. Replacing it takes effect on the next payout.",
                    Secret,
                    Applied {
                        by: &["disbursement/mod.rs"]
                    }
                ),
                key!(
                    "momoSubscriptionKey",
                    "Subscription key",
                    "The disbursement product's subscription key from MTN's developer portal.",
                    Secret,
                    Applied {
                        by: &["disbursement/mod.rs"]
                    }
                ),
                key!(
                    "momoTargetEnvironment",
                    "Target environment",
                    "`sandbox` while testing, `mtnrwanda` in production; MTN refuses calls made to the wrong one.",
                    Text { max: 32 },
                    Applied {
                        by: &["disbursement/mod.rs", "disbursement/worker/drive.rs"]
                    }
                ),
                key!(
                    "callbackBaseUrl",
                    "Callback address",
                    "This system's public address, where MoMo reports how each transfer ended. Empty: no callbacks, \
                     the worker asks MoMo instead.",
                    Url {
                        https_in_production: true
                    },
                    Applied {
                        by: &["disbursement/worker/drive.rs"]
                    }
                ),
                key!(
                    "currency",
                    "Currency",
                    "The currency of new batches' prizes and of the figures shown (RWF in production; MTN's sandbox \
                     only takes EUR).",
                    Text { max: 3 },
                    Applied {
                        by: &["batches/mod.rs", "disbursement/pages/stats.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Amounts and approval",
            keys: &[
                key!(
                    "minAmount",
                    "Smallest prize",
                    "A batch cannot be created, or a code imported, with a prize below this.",
                    Number {
                        min: 1,
                        max: 10_000_000,
                        unit: "RWF"
                    },
                    Applied {
                        by: &["batches/mod.rs", "codes/import_csv.rs"]
                    }
                ),
                key!(
                    "maxAmount",
                    "Largest prize",
                    "A batch cannot be created, or a code imported, with a prize above this.",
                    Number {
                        min: 1,
                        max: 10_000_000,
                        unit: "RWF"
                    },
                    Applied {
                        by: &["batches/mod.rs", "codes/import_csv.rs"]
                    }
                ),
                key!(
                    "manualApprovalRequired",
                    "Approve large payouts",
                    "On: a prize above the approval amount waits for a financial administrator before it is paid.",
                    Toggle,
                    Applied { by: &[REDEEM] }
                ),
                key!(
                    "approvalThreshold",
                    "Approval amount",
                    "Prizes above this amount wait for approval (when approval is on).",
                    Number {
                        min: 0,
                        max: 10_000_000,
                        unit: "RWF"
                    },
                    Applied { by: &[REDEEM] }
                ),
            ],
        },
        Section {
            title: "Limits",
            keys: &[
                key!(
                    "dailyTransactionLimit",
                    "Daily payout limit",
                    "All payouts of one day (Kigali time). A payout that would go over it is held and an alert \
                     raised; held payouts resume by themselves the next day.",
                    Number {
                        min: 1,
                        max: 10_000_000_000,
                        unit: "RWF"
                    },
                    Applied { by: &[GUARDS] }
                ),
                key!(
                    "monthlyTransactionLimit",
                    "Monthly payout limit",
                    "All payouts of one calendar month (Kigali time). A payout that would go over it waits for a \
                     financial administrator's approval, and an alert is raised; an approved one is paid.",
                    Number {
                        min: 1,
                        max: 100_000_000_000,
                        unit: "RWF"
                    },
                    Applied { by: &[GUARDS] }
                ),
                key!(
                    "perUserDailyLimit",
                    "Daily limit per customer",
                    "What one customer may win in a day (Kigali time). A redemption that would go over it is \
                     refused on the phone, and the code stays usable.",
                    Number {
                        min: 1,
                        max: 10_000_000_000,
                        unit: "RWF"
                    },
                    Applied { by: &[REDEEM] }
                ),
                key!(
                    "perUserMonthlyLimit",
                    "Monthly limit per customer",
                    "What one customer may win in a calendar month (Kigali time). A redemption that would go over \
                     it is refused on the phone, and the code stays usable.",
                    Number {
                        min: 1,
                        max: 100_000_000_000,
                        unit: "RWF"
                    },
                    Applied { by: &[REDEEM] }
                ),
                key!(
                    "lowBalanceThreshold",
                    "Low balance mark",
                    "The dashboard marks the MoMo balance low below this. The alert has its own switch and \
                     threshold in the notification settings (low balance alert).",
                    Number {
                        min: 0,
                        max: 1_000_000_000,
                        unit: "RWF"
                    },
                    Applied {
                        by: &["dashboard/mod.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Retries",
            keys: &[
                key!(
                    "autoRetryEnabled",
                    "Retry failed payouts",
                    "On: a payout that failed for a reason that may pass (MoMo busy, a timeout) is tried again \
                     after the delays below. Off: it fails at once and waits for a person.",
                    Toggle,
                    Applied { by: &[SETTLE] }
                ),
                key!(
                    "maxRetryAttempts",
                    "Retries",
                    "How many times a payout is tried again after the first attempt.",
                    Number {
                        min: 0,
                        max: 5,
                        unit: ""
                    },
                    Applied {
                        by: &["disbursement/ops/actions.rs", REDEEM]
                    }
                ),
                key!(
                    "retryDelayMinutes",
                    "Delays between retries",
                    "The wait before each retry, in order; one for every retry, never shorter than the one before.",
                    List {
                        item: Item::Number {
                            min: 1,
                            max: 1440,
                            unit: "minutes"
                        },
                        max: 5
                    },
                    Applied { by: &[SETTLE] }
                ),
            ],
        },
        Section {
            title: "Payout worker",
            keys: &[
                key!(
                    "workerConcurrency",
                    "Payouts at once",
                    "How many payouts the worker drives at the same time (each mostly waits on MoMo).",
                    Number {
                        min: 1,
                        max: 512,
                        unit: ""
                    },
                    Applied { by: &[WORKER] }
                ),
                key!(
                    "requestsPerSecond",
                    "MoMo calls per second",
                    "The pace of transfers, payee checks and first status checks sent to MoMo.",
                    Number {
                        min: 1,
                        max: 2000,
                        unit: "per second"
                    },
                    Applied { by: &[WORKER] }
                ),
                key!(
                    "statusQueriesPerSecond",
                    "Status checks per second",
                    "The pace of repeated status checks of pending transfers, kept under MoMo's limit of 10.",
                    Number {
                        min: 1,
                        max: 9,
                        unit: "per second"
                    },
                    Applied { by: &[WORKER] }
                ),
                key!(
                    "requestTimeoutSeconds",
                    "MoMo timeout",
                    "How long a call to MoMo may take before it is given up (its outcome is then checked).",
                    Number {
                        min: 1,
                        max: 120,
                        unit: "seconds"
                    },
                    Applied {
                        by: &["disbursement/mod.rs"]
                    }
                ),
                key!(
                    "circuitBreakerFailures",
                    "Failures before pausing",
                    "After this many MoMo failures in a row, payouts pause and an alert is raised.",
                    Number {
                        min: 1,
                        max: 100,
                        unit: ""
                    },
                    Applied { by: &[SETTLE] }
                ),
                key!(
                    "circuitBreakerCooldownSeconds",
                    "Pause length",
                    "How long payouts pause before one is tried to see whether MoMo answers again.",
                    Number {
                        min: 5,
                        max: 3600,
                        unit: "seconds"
                    },
                    Applied { by: &[SETTLE] }
                ),
            ],
        },
    ],
};
