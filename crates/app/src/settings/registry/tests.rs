use serde_json::Value;

use super::*;
use crate::settings::{default_values, validate, Settings};

/// Every leaf path of the defaults, `category.path`, with a [`Input::Localized`] pair as one.
fn stored_keys() -> Vec<String> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) if !(m.len() == 2 && m.contains_key("en") && m.contains_key("rw")) => {
                for (k, v) in m {
                    walk(&format!("{prefix}.{k}"), v, out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    for (cat, v) in default_values() {
        walk(&cat, &v, &mut out);
    }
    out.sort();
    out
}

fn described() -> Vec<(Category, &'static Key)> {
    all()
        .into_iter()
        .flat_map(|d| d.keys().map(move |k| (d.category, k)))
        .collect()
}

#[test]
fn every_stored_key_is_described_once_and_nothing_else_is() {
    let stored = stored_keys();
    let mut desc: Vec<String> = described()
        .iter()
        .map(|(c, k)| format!("{}.{}", c.as_str(), k.path))
        .collect();
    desc.sort();
    let before = desc.len();
    desc.dedup();
    assert_eq!(before, desc.len(), "a key is described twice");
    let missing: Vec<&String> = stored.iter().filter(|k| !desc.contains(k)).collect();
    let unknown: Vec<&String> = desc.iter().filter(|k| !stored.contains(k)).collect();
    assert!(missing.is_empty(), "settings without a description: {missing:?}");
    assert!(unknown.is_empty(), "descriptions of no setting: {unknown:?}");
    for d in all() {
        assert!(!d.summary.is_empty(), "{:?} has no summary", d.category);
        for k in d.keys() {
            assert!(
                !k.label.is_empty() && !k.help.is_empty(),
                "{}.{} needs a label and help",
                d.category.as_str(),
                k.path
            );
        }
    }
}

/// A key said to be applied names the files that read it, and each of them does.
#[test]
fn every_applied_key_is_read_where_the_registry_says() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut problems = Vec::new();
    for (cat, k) in described() {
        let Effect::Applied { by } = k.effect else { continue };
        let field = format!(".{}", snake(k.path.rsplit('.').next().unwrap_or(k.path)));
        if by.is_empty() {
            problems.push(format!("{}.{}: applied by no file", cat.as_str(), k.path));
        }
        for file in by {
            let text = std::fs::read_to_string(src.join(file)).unwrap_or_default();
            let reads = text
                .match_indices(&field)
                .any(|(i, _)| !text[i + field.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_'));
            if !reads {
                problems.push(format!("{}.{}: {file} does not read {field}", cat.as_str(), k.path));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "settings that take no effect:\n{}",
        problems.join("\n")
    );
}

/// Only the keys later issues apply may wait: notifications (#22), analytics (#21), backup and
/// audit retention (#23).
#[test]
fn keys_not_yet_applied_belong_to_the_issues_that_apply_them() {
    for (cat, k) in described() {
        if let Effect::Later { issue } = k.effect {
            let expected = match (cat, k.path) {
                (Category::Notifications, _) => 22,
                (Category::Analytics, _) => 21,
                (Category::Backup, _) | (Category::Security, "audit.retentionDays") => 23,
                _ => panic!("{}.{} must be applied now, not by #{issue}", cat.as_str(), k.path),
            };
            assert_eq!(issue, expected, "{}.{}", cat.as_str(), k.path);
        }
    }
}

fn with(cat: Category, path: &str, value: Value) -> Result<Settings, String> {
    let mut all = serde_json::to_value(Settings::default()).unwrap();
    let mut at = &mut all[cat.as_str()];
    for part in path.split('.') {
        at = &mut at[part];
    }
    *at = value;
    serde_json::from_value(all).map_err(|e| e.to_string())
}

/// The page's bounds are the server's: a number just outside them, a choice not offered, a text
/// one character too long or a list one item too long is refused naming the field.
#[test]
fn the_described_bounds_are_the_ones_the_server_enforces() {
    let mut problems = Vec::new();
    for (cat, k) in described() {
        let field = format!("{}.{}", cat.as_str(), k.path);
        let outside: Vec<Value> = match k.input {
            Input::Number { min, max, .. } => vec![(min - 1).into(), (max + 1).into()],
            Input::Select(opts) => {
                assert!(!opts.is_empty(), "{field}");
                vec![Value::from("no such choice")]
            }
            Input::Color => vec![Value::from("red")],
            Input::Text { max } | Input::LongText { max } => vec![Value::from("a".repeat(max as usize + 1))],
            Input::Localized { max } => vec![serde_json::json!({"en": "a".repeat(max as usize + 1), "rw": "b"})],
            Input::List { item, max } => {
                let one = |i: u32| -> Value {
                    match item {
                        Item::Text { .. } => format!("item {i}").into(),
                        Item::Cidr => format!("10.{}.{}.0/24", i / 250, i % 250).into(),
                        Item::Email => format!("person{i}@example.com").into(),
                        Item::Origin => format!("https://o{i}.example.com").into(),
                        Item::Language => ["en", "rw"][i as usize % 2].into(),
                        Item::Number { min, .. } => min.into(),
                        Item::Select(o) => o[0].into(),
                    }
                };
                vec![Value::Array((0..=max).map(one).collect())]
            }
            _ => continue,
        };
        for v in outside {
            let refused = match with(cat, k.path, v.clone()) {
                Err(_) => true,
                Ok(s) => validate::validate(&s).iter().any(|e| {
                    e.field == field
                        || e.field
                            .strip_prefix(field.as_str())
                            .is_some_and(|r| r.starts_with(['.', '[']))
                }),
            };
            if !refused {
                problems.push(format!("{field} = {v} is accepted"));
            }
        }
        // and the bounds themselves are accepted
        if let Input::Number { min, max, .. } = k.input {
            for v in [min, max] {
                if let Ok(s) = with(cat, k.path, v.into()) {
                    let errs: Vec<_> = validate::validate(&s)
                        .into_iter()
                        .filter(|e| e.field == field)
                        .collect();
                    if !errs.is_empty() && !cross_field(&field) {
                        problems.push(format!("{field} = {v} (a described bound) is refused: {errs:?}"));
                    }
                } else {
                    problems.push(format!("{field} = {v} (a described bound) does not fit the type"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the registry and the validation disagree:\n{}",
        problems.join("\n")
    );
}

/// Fields whose allowed range also depends on another field, so a bound alone may be refused.
fn cross_field(field: &str) -> bool {
    [
        "payments.minAmount",
        "payments.maxAmount",
        "payments.approvalThreshold",
        "payments.dailyTransactionLimit",
        "payments.monthlyTransactionLimit",
        "payments.perUserDailyLimit",
        "payments.perUserMonthlyLimit",
        "security.registration.maxRegistrationsPerDay",
        "security.rateLimiting.apiRequestsPerHour",
        "security.rateLimiting.ussdRequestsPerHour",
        "business.expiration.defaultExpirationDays",
        "business.expiration.minExpirationDays",
        "business.expiration.maxExpirationDays",
        "ussd.inputTimeoutSeconds",
        "ussd.sessionTimeoutSeconds",
        "analytics.aggregatedDataDays",
        "integrations.apiRequestsPerHour",
        "ussd.maxAttemptsPerHour",
        "ussd.maxAttemptsPerDay",
    ]
    .contains(&field)
}

fn input_words(i: Input) -> String {
    fn item(i: Item) -> String {
        match i {
            Item::Text { max } => format!("text (≤ {max} characters)"),
            Item::Cidr => "IP address or CIDR range".into(),
            Item::Email => "e-mail address".into(),
            Item::Origin => "origin (https://host)".into(),
            Item::Language => "language code".into(),
            Item::Number { min, max, unit } => format!("{min}–{max} {unit}").trim_end().to_owned(),
            Item::Select(o) => format!("one of {}", o.join(", ")),
        }
    }
    match i {
        Input::Text { max } => format!("text, ≤ {max} characters"),
        Input::LongText { max } => format!("long text, ≤ {max} characters"),
        Input::Color => "colour `#rrggbb`".into(),
        Input::Number { min, max, unit } => format!("{min}–{max} {unit}").trim_end().to_owned(),
        Input::Toggle => "on/off".into(),
        Input::Select(o) => format!("one of `{}`", o.join("`, `")),
        Input::List { item: i, max } => format!("list of ≤ {max}: {}", item(i)),
        Input::Secret => "secret (write-only)".into(),
        Input::Url {
            https_in_production: true,
        } => "URL (https in production)".into(),
        Input::Url { .. } => "URL".into(),
        Input::Email => "e-mail address".into(),
        Input::Image => "image (PNG, JPEG or SVG)".into(),
        Input::Localized { max } => format!("text in en and rw, ≤ {max} characters each"),
        Input::Time => "time `HH:MM`".into(),
    }
}

/// `docs/settings.md` is generated from the registry: this test fails when it is stale
/// (`UPDATE_DOCS=1 cargo nextest run -E 'test(settings_doc)'` rewrites it).
#[test]
fn settings_doc_is_current() {
    let defaults = default_values();
    let mut out = String::from(
        "# Settings (generated)\n\nGenerated from `crates/app/src/settings/registry` by the test `settings_doc_is_current`; \
         do not edit by hand. Every key, its default, what it accepts and where it takes effect. Secrets are \
         stored encrypted and never shown.\n",
    );
    for d in all() {
        out.push_str(&format!(
            "\n## {} (`{}`)\n\n{}\n",
            d.title,
            d.category.as_str(),
            d.summary
        ));
        for s in d.sections {
            out.push_str(&format!(
                "\n### {}\n\n| key | default | accepts | effect |\n|---|---|---|---|\n",
                s.title
            ));
            for k in s.keys {
                let mut v = &defaults[d.category.as_str()];
                for p in k.path.split('.') {
                    v = &v[p];
                }
                let default = match (k.input, v) {
                    (Input::Secret, _) => "(unset)".to_owned(),
                    (Input::Image, Value::String(s)) if s.is_empty() => "(built-in)".to_owned(),
                    (_, Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
                    (_, v) => format!("`{}`", v.to_string().replace('|', "\\|")),
                };
                let effect = match k.effect {
                    Effect::Applied { by } => format!(
                        "{} (read in {})",
                        k.help,
                        by.iter().map(|f| format!("`{f}`")).collect::<Vec<_>>().join(", ")
                    ),
                    Effect::Later { issue } => format!("{} **Not applied yet: issue #{issue} applies it.**", k.help),
                };
                out.push_str(&format!(
                    "| `{}.{}` {} | {} | {} | {} |\n",
                    d.category.as_str(),
                    k.path,
                    k.label,
                    default,
                    input_words(k.input),
                    effect.replace('|', "\\|")
                ));
            }
        }
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/settings.md");
    if std::env::var("UPDATE_DOCS").is_ok() {
        std::fs::write(&path, &out).unwrap();
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == out,
        "docs/settings.md is stale: run UPDATE_DOCS=1 cargo nextest run -E 'test(settings_doc)'"
    );
}
