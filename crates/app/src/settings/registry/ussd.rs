//! The USSD settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Ussd,
    title: "USSD",
    summary: "The menu customers dial to redeem a code: its code and name, its languages and texts, how long a \
              session may last, how often a phone may try, and the Africa's Talking account behind it.",
    sections: &[
        Section {
            title: "Service",
            keys: &[
                key!(
                    "serviceCode",
                    "Service code",
                    "The code customers dial, such as *789#. A dial to any other code is answered with the error \
                     message; the printed sheets and exports show this code.",
                    Text { max: 20 },
                    Applied {
                        by: &["ussd/service.rs", "ussd/screens.rs", "codes/export.rs"]
                    }
                ),
                key!(
                    "serviceName",
                    "Service name",
                    "The name the welcome screen greets customers with (\"Welcome to …\"), and the heading of the \
                     USSD traffic page.",
                    Text { max: 40 },
                    Applied {
                        by: &["ussd/screens.rs", "ussd/pages.rs"]
                    }
                ),
                key!(
                    "serviceDescription",
                    "Service description",
                    "One line telling staff what the service is for, shown under the heading of the USSD traffic \
                     page.",
                    Text { max: 200 },
                    Applied { by: &["ussd/pages.rs"] }
                ),
            ],
        },
        Section {
            title: "Languages",
            keys: &[
                key!(
                    "defaultLanguage",
                    "Default language",
                    "The language a new customer is served in, and everyone when the menu offers no language \
                     choice. Must be one of the supported languages.",
                    Select(&["rw", "en"]),
                    Applied {
                        by: &["ussd/messages.rs"]
                    }
                ),
                key!(
                    "supportedLanguages",
                    "Supported languages",
                    "The languages the menu speaks. With only one, the menu has no \"Language\" choice and \
                     everyone is served in the default language.",
                    List {
                        item: Item::Language,
                        max: 2
                    },
                    Applied {
                        by: &["ussd/messages.rs"]
                    }
                ),
                key!(
                    "languageSwitchingEnabled",
                    "Customers may switch language",
                    "Off: the \"Language\" choice disappears from the main menu (Help becomes 3) and everyone is \
                     served in the default language, whatever they chose before.",
                    Toggle,
                    Applied {
                        by: &["ussd/messages.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Texts",
            keys: &[
                key!(
                    "welcomeMessage",
                    "Welcome message",
                    "The line above the main menu. Empty: the built-in greeting with the service name. Each \
                     language's text must fit one screen with the menu (160 characters, plain letters).",
                    Localized { max: 120 },
                    Applied {
                        by: &["ussd/messages.rs", "ussd/screens.rs"]
                    }
                ),
                key!(
                    "helpMessage",
                    "Help message",
                    "The help screen (main menu choice Help). Empty: the built-in help, ending with the company \
                     phone number (Branding) when one is set.",
                    Localized { max: 120 },
                    Applied {
                        by: &["ussd/messages.rs", "ussd/screens.rs"]
                    }
                ),
                key!(
                    "errorMessage",
                    "Error message",
                    "What a customer sees when something goes wrong on our side, or they dial a wrong code. \
                     Empty: the built-in apology.",
                    Localized { max: 120 },
                    Applied {
                        by: &["ussd/messages.rs", "ussd/screens.rs"]
                    }
                ),
                key!(
                    "successMessage",
                    "Success message",
                    "The last screen of a redemption. {amount} and {currency} are filled in. Empty: the built-in \
                     congratulations.",
                    Localized { max: 120 },
                    Applied {
                        by: &["ussd/messages.rs", "ussd/screens.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Session",
            keys: &[
                key!(
                    "maxMenuDepth",
                    "Most inputs per session",
                    "How many choices and codes one session may take. Redeeming takes 2 (1, then the code); \
                     changing language first takes 2 more. The input after the last allowed one ends the session \
                     with \"dial again\".",
                    Number {
                        min: 2,
                        max: 30,
                        unit: "inputs"
                    },
                    Applied {
                        by: &["ussd/ending.rs"]
                    }
                ),
                key!(
                    "sessionTimeoutSeconds",
                    "Session timeout",
                    "The longest one session may last. A customer who answers after that is told the session \
                     timed out and to dial again; the session starts over at the welcome screen.",
                    Number {
                        min: 20,
                        max: 600,
                        unit: "seconds"
                    },
                    Applied {
                        by: &["ussd/ending.rs"]
                    }
                ),
                key!(
                    "inputTimeoutSeconds",
                    "Input timeout",
                    "The longest a customer may take to answer one screen. An answer after that ends the session \
                     politely (\"dial again\"), and nothing typed is used. At most the session timeout.",
                    Number {
                        min: 5,
                        max: 180,
                        unit: "seconds"
                    },
                    Applied {
                        by: &["ussd/ending.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Attempt limits",
            keys: &[
                key!(
                    "maxAttemptsPerMinute",
                    "Code attempts per minute",
                    "Codes one phone may try (redeem or check) in a minute; one more blocks the phone for the \
                     block duration.",
                    Number {
                        min: 1,
                        max: 100,
                        unit: "attempts"
                    },
                    Applied {
                        by: &["redemption/limits.rs"]
                    }
                ),
                key!(
                    "maxAttemptsPerHour",
                    "Code attempts per hour",
                    "Codes one phone may try in an hour; at least the per-minute limit.",
                    Number {
                        min: 1,
                        max: 1000,
                        unit: "attempts"
                    },
                    Applied {
                        by: &["redemption/limits.rs"]
                    }
                ),
                key!(
                    "maxAttemptsPerDay",
                    "Code attempts per day",
                    "Codes one phone may try in a day; at least the per-hour limit.",
                    Number {
                        min: 1,
                        max: 10_000,
                        unit: "attempts"
                    },
                    Applied {
                        by: &["redemption/limits.rs"]
                    }
                ),
                key!(
                    "blockDurationMinutes",
                    "Block duration",
                    "How long a phone that went over an attempt limit is refused.",
                    Number {
                        min: 1,
                        max: 10_080,
                        unit: "minutes"
                    },
                    Applied {
                        by: &["redemption/limits.rs"]
                    }
                ),
            ],
        },
        Section {
            title: "Africa's Talking",
            keys: &[
                key!(
                    "africasTalkingApiKey",
                    "API key",
                    "The Africa's Talking API key, used to send customers their payout SMS.",
                    Secret,
                    Applied { by: &["alerts/sms.rs"] }
                ),
                key!(
                    "africasTalkingUsername",
                    "Username",
                    "The Africa's Talking application's username (\"sandbox\" for the sandbox).",
                    Text { max: 64 },
                    Applied { by: &["alerts/sms.rs"] }
                ),
                key!(
                    "africasTalkingBaseUrl",
                    "API address",
                    "Where the SMS API is: https://api.africastalking.com live, \
                     https://api.sandbox.africastalking.com for the sandbox.",
                    Url {
                        https_in_production: false
                    },
                    Applied { by: &["alerts/sms.rs"] }
                ),
                key!(
                    "endpointSecret",
                    "Callback secret",
                    "The secret in the callback URL given to Africa's Talking (…/api/v1/ussd/handle?secret=…). \
                     Until it is set, the USSD endpoint refuses every request.",
                    Secret,
                    Applied { by: &["ussd/api.rs"] }
                ),
                key!(
                    "ipAllowlist",
                    "Gateway addresses",
                    "The addresses (or CIDR ranges) Africa's Talking calls from. Empty: any address with the secret.",
                    List {
                        item: Item::Cidr,
                        max: 50
                    },
                    Applied { by: &["ussd/api.rs"] }
                ),
            ],
        },
    ],
};
