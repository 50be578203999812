//! The business settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Section};
use crate::settings::Category;

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Business,
    title: "Business logic",
    summary: "The rules of the promotion: how codes are made, when batches expire, how many batches one person \
              may run, and how often a customer may win.",
    sections: &[
        Section {
            title: "Code generation",
            keys: &[
                key!(
                    "codeGeneration.characterSet",
                    "Character set",
                    "The letters and digits a code's random positions are drawn from (16 to 36, upper case, each \
                     once). The default leaves out 0/O and 1/I, which customers confuse.",
                    Text { max: 36 },
                    Applied {
                        by: &["codes/generate.rs", "ussd/service.rs"]
                    }
                ),
                key!(
                    "codeGeneration.includeChecksum",
                    "Check character",
                    "The last random character of each new batch's codes is a check character, so a customer's \
                     typing mistake is told apart from a guess (\"a character is mistyped\"). Batches already made \
                     keep what they had.",
                    Toggle,
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Expiry",
            keys: &[
                key!(
                    "expiration.defaultExpirationDays",
                    "Default expiry",
                    "The expiry date the new-batch form starts with, this many days from today; also the expiry \
                     of a batch created through the API without one. Between the minimum and the maximum.",
                    Number {
                        min: 1,
                        max: 3650,
                        unit: "days"
                    },
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
                key!(
                    "expiration.maxExpirationDays",
                    "Latest expiry",
                    "A batch's (or a code's) expiry date may be at most this many days ahead.",
                    Number {
                        min: 1,
                        max: 3650,
                        unit: "days"
                    },
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
                key!(
                    "expiration.minExpirationDays",
                    "Earliest expiry",
                    "A batch's (or a code's) expiry date must be at least this many days ahead.",
                    Number {
                        min: 1,
                        max: 3650,
                        unit: "days"
                    },
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
                key!(
                    "expiration.autoExpireEnabled",
                    "Expire batches automatically",
                    "On: once a batch's expiry date (plus the grace period) has passed, the batch and its unused \
                     codes become expired within a minute. Off: they stay as they are until someone expires them; \
                     customers are refused the codes after the date plus grace either way.",
                    Toggle,
                    Applied {
                        by: &["batches/lifecycle.rs"]
                    }
                ),
                key!(
                    "expiration.gracePeriodHours",
                    "Grace period",
                    "How long after its expiry date a code can still be redeemed; the batch is expired only after \
                     it too.",
                    Number {
                        min: 0,
                        max: 720,
                        unit: "hours"
                    },
                    Applied {
                        by: &["batches/lifecycle.rs", "ussd/service.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Batches",
            keys: &[
                key!(
                    "batchManagement.maxCodesPerBatch",
                    "Codes per batch",
                    "The most codes one batch may hold, counting top-ups and imports.",
                    Number {
                        min: 1,
                        max: 1_000_000,
                        unit: "codes"
                    },
                    Applied {
                        by: &["batches/mod.rs", "batches/topup.rs", "codes/import.rs"]
                    }
                ),
                key!(
                    "batchManagement.maxBatchesPerUser",
                    "Open batches per person",
                    "The most open (active or blocked) batches one person may have created; creating another is \
                     refused until one is completed or expired. 0: no limit.",
                    Number {
                        min: 0,
                        max: 100_000,
                        unit: "batches"
                    },
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
                key!(
                    "batchManagement.autoAssignEnabled",
                    "Assign new batches to their creator",
                    "On: a batch created without an assignee is assigned to the person who created it (when they \
                     may manage batches).",
                    Toggle,
                    Applied {
                        by: &["batches/mod.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Redemption",
            keys: &[
                key!(
                    "redemption.allowMultipleRedemptions",
                    "More than one prize per customer",
                    "Off: a customer who has redeemed a code is refused any other (\"prize limit\").",
                    Toggle,
                    Applied {
                        by: &["redemption/redeem.rs"]
                    }
                ),
                key!(
                    "redemption.maxRedemptionsPerUser",
                    "Prizes per customer per day",
                    "How many codes one customer may redeem in a day (Kigali time). 0: no limit. At most 1 when \
                     only one prize is allowed.",
                    Number {
                        min: 0,
                        max: 10_000,
                        unit: "per day"
                    },
                    Applied {
                        by: &["redemption/redeem.rs"]
                    }
                ),
                key!(
                    "redemption.cooldownPeriodMinutes",
                    "Wait between prizes",
                    "How long a customer must wait after a redemption before the next one is accepted; until \
                     then they are told prizes are this many minutes apart. 0: no wait.",
                    Number {
                        min: 0,
                        max: 10_080,
                        unit: "minutes"
                    },
                    Applied {
                        by: &["redemption/redeem.rs", "ussd/screens.rs"]
                    }
                ),
                key!(
                    "redemption.fraudDetectionEnabled",
                    "Flag guessing phones",
                    "On: a phone that types too many codes that do not exist in a day is flagged for review.",
                    Toggle,
                    Applied {
                        by: &["ussd/service.rs"]
                    }
                ),
                key!(
                    "redemption.wrongCodeFlagThreshold",
                    "Wrong codes before flagging",
                    "How many codes that do not exist one phone may type in a day before it is flagged.",
                    Number {
                        min: 1,
                        max: 1000,
                        unit: "codes"
                    },
                    Applied {
                        by: &["ussd/service.rs"]
                    }
                ),
                key!(
                    "lockTimeoutSeconds",
                    "Busy wait",
                    "How long a redemption waits for another one holding the same code or customer before telling \
                     the customer the service is busy.",
                    Number {
                        min: 1,
                        max: 60,
                        unit: "seconds"
                    },
                    Applied {
                        by: &["ussd/service.rs"]
                    }
                ),
            ],
        },
    ],
};
