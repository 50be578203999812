//! The integrations settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Item, Section};
use crate::settings::Category;

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Integrations,
    title: "Integrations",
    summary: "How other systems reach the API (API keys, request limits, browsers on other sites) and how long \
              this system waits for the services it calls.",
    sections: &[
        Section {
            title: "API access",
            keys: &[
                key!(
                    "apiKeysEnabled",
                    "API keys accepted",
                    "When off, every call made with an API key (`Authorization: Bearer mbk_…`) is refused with a \
                     401 saying API keys are turned off; staff signed in with a session (the panel, or its \
                     `mbs_…` token) are not affected. Existing keys are kept and work again when turned back on.",
                    Toggle,
                    Applied { by: &["web/auth.rs"] }
                ),
                key!(
                    "apiRateLimitingEnabled",
                    "Limit API requests",
                    "Counts the requests each API key or signed-in session makes and answers 429 (with \
                     Retry-After) over the limits below. The security settings' request limits count too: the \
                     stricter holds. Off: no request limit.",
                    Toggle,
                    Applied { by: &["web/quota.rs"] }
                ),
                key!(
                    "apiRequestsPerMinute",
                    "Requests per minute",
                    "The most requests one API key or session may make in a minute.",
                    Number {
                        min: 1,
                        max: 1_000_000,
                        unit: "requests"
                    },
                    Applied { by: &["web/quota.rs"] }
                ),
                key!(
                    "apiRequestsPerHour",
                    "Requests per hour",
                    "The most requests one API key or session may make in an hour; at least the per-minute \
                     limit.",
                    Number {
                        min: 1,
                        max: 60_000_000,
                        unit: "requests"
                    },
                    Applied { by: &["web/quota.rs"] }
                ),
            ],
        },
        Section {
            title: "Browsers on other sites (CORS)",
            keys: &[
                key!(
                    "corsEnabled",
                    "Allow other sites",
                    "Lets a web page served from one of the origins below call the API (`/api/…` only, never the \
                     panel's pages) with an API key or session token; cookies are never sent across sites. Off: \
                     browsers on any other site are refused.",
                    Toggle,
                    Applied { by: &["web/cors.rs"] }
                ),
                key!(
                    "corsAllowedOrigins",
                    "Allowed origins",
                    "The sites allowed when CORS is on, each written as a browser names it: \
                     `https://host` or `https://host:port`, nothing after the host; `http://` only for \
                     localhost. A change applies to the next request.",
                    List {
                        item: Item::Origin,
                        max: 20
                    },
                    Applied { by: &["web/cors.rs"] }
                ),
            ],
        },
        Section {
            title: "Outbound calls",
            keys: &[key!(
                "outboundTimeoutSeconds",
                "Outbound request timeout",
                "The longest this system waits for a service it calls, other than MTN MoMo (which has its own \
                 timeout in the payment settings): Africa's Talking SMS and the e-mail server. A call that takes \
                 longer fails and is retried as a failure.",
                Number {
                    min: 1,
                    max: 300,
                    unit: "seconds"
                },
                Applied {
                    by: &["alerts/sms.rs", "identity/mail.rs"]
                }
            )],
        },
    ],
};
