//! The settings form of one category, generated from the registry: a field per key, the form
//! posted back turned into the category's patch (only the keys whose value changed), and the
//! words a value is shown in (`1,000,000 RWF`, `on`, `set`).

use serde_json::{Map, Value};

use super::registry::{self, Input, Item};
use super::Category;
use crate::error::FieldError;
use crate::web::extract::FormPairs;

/// One field of the form: a registry key.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Dotted path inside the category (`expiration.autoExpireEnabled`).
    pub path: String,
    pub label: String,
    pub help: String,
    pub input: Input,
    /// The issue that applies the key, when it is not applied yet.
    pub later: Option<u32>,
}

impl Spec {
    /// The top-level key the API changes (`expiration` for `expiration.autoExpireEnabled`).
    pub fn top(&self) -> &str {
        self.path.split('.').next().unwrap_or(&self.path)
    }
}

#[derive(Debug, Clone)]
pub struct SectionSpec {
    pub title: String,
    pub specs: Vec<Spec>,
}

/// The form of `category`: the registry's sections (the registry test makes sure every stored
/// key is in one).
pub fn sections(category: Category) -> Vec<SectionSpec> {
    registry::of(category)
        .sections
        .iter()
        .filter(|s| !s.keys.is_empty())
        .map(|s| SectionSpec {
            title: s.title.to_owned(),
            specs: s
                .keys
                .iter()
                .map(|k| Spec {
                    path: k.path.to_owned(),
                    label: k.label.to_owned(),
                    help: k.help.to_owned(),
                    input: k.input,
                    later: match k.effect {
                        registry::Effect::Later { issue } => Some(issue),
                        registry::Effect::Applied { .. } => None,
                    },
                })
                .collect(),
        })
        .collect()
}

/// `maxAmount` → `Max amount`.
fn words(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 0 {
            out.push(c.to_ascii_uppercase());
        } else if c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The value at a dotted path inside `v` (`Null` when absent).
pub fn leaf<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |at, p| at.get(p).unwrap_or(&Value::Null))
}

fn set_leaf(v: &mut Value, path: &str, new: Value) {
    let mut at = v;
    for p in path.split('.') {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .map(|m| m.entry(p.to_owned()).or_insert(Value::Null))
            .unwrap_or_else(|| unreachable!("made an object above"));
    }
    *at = new;
}

/// The form's name for a key: `category.path`.
pub fn field_name(category: Category, path: &str) -> String {
    format!("{}.{path}", category.as_str())
}

/// A form posted back.
#[derive(Debug, Default)]
pub struct Posted {
    /// Top-level keys whose value changed, with their whole new value (secrets: the new value,
    /// or `null` to clear).
    pub patch: Map<String, Value>,
    /// The category as the form showed it when posted (for showing it again beside errors).
    pub shown: Value,
    /// The text of fields that could not be read, by field name.
    pub raw: std::collections::HashMap<String, String>,
    /// Fields that could not be read (not a number, …).
    pub errors: Vec<FieldError>,
}

/// Reads the form posted for `category` against `current` (the category as the form showed it,
/// secrets masked): only the keys whose value changed go into the patch.
pub fn parse(category: Category, current: &Value, form: &FormPairs) -> Posted {
    let mut out = Posted {
        shown: current.clone(),
        ..Posted::default()
    };
    let mut next = current.clone();
    let mut changed: Vec<String> = Vec::new();
    for spec in sections(category).into_iter().flat_map(|s| s.specs) {
        let name = field_name(category, &spec.path);
        let text = |n: &str| form.get(n).map(|v| v.replace("\r\n", "\n"));
        let new = match spec.input {
            Input::Toggle => {
                let all = form.all(&name);
                if all.is_empty() {
                    continue;
                }
                Value::Bool(all.contains(&"true"))
            }
            Input::Secret => {
                let set = !leaf(current, &spec.path).is_null();
                let replace = text(&format!("{name}.replace")).unwrap_or_default();
                if form.get(&format!("{name}.clear")).is_some() {
                    if set {
                        out.patch.insert(spec.path.clone(), Value::Null);
                    }
                } else if !replace.trim().is_empty() {
                    out.patch
                        .insert(spec.path.clone(), Value::String(replace.trim().to_owned()));
                }
                continue;
            }
            Input::Localized { .. } => {
                let (Some(en), Some(rw)) = (text(&format!("{name}.en")), text(&format!("{name}.rw"))) else {
                    continue;
                };
                serde_json::json!({"en": en, "rw": rw})
            }
            Input::Number { .. } => {
                let Some(t) = text(&name) else { continue };
                match number(&t) {
                    Some(n) => Value::from(n),
                    None => {
                        out.errors.push(FieldError::new(&name, "must be a whole number"));
                        out.raw.insert(name, t);
                        continue;
                    }
                }
            }
            Input::List { item, .. } => {
                let Some(t) = text(&name) else { continue };
                let lines: Vec<&str> = t.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
                let mut items = Vec::new();
                let mut bad = false;
                for (i, l) in lines.iter().enumerate() {
                    match item {
                        Item::Number { .. } => match number(l) {
                            Some(n) => items.push(Value::from(n)),
                            None => {
                                bad = true;
                                out.errors
                                    .push(FieldError::new(format!("{name}[{i}]"), "must be a whole number"));
                            }
                        },
                        _ => items.push(Value::String((*l).to_owned())),
                    }
                }
                if bad {
                    out.raw.insert(name, t);
                    continue;
                }
                Value::Array(items)
            }
            Input::Text { .. } | Input::LongText { .. } | Input::Image => {
                let Some(t) = text(&name) else { continue };
                Value::String(t)
            }
            Input::Color | Input::Select(_) | Input::Url { .. } | Input::Email | Input::Time => {
                let Some(t) = text(&name) else { continue };
                Value::String(t.trim().to_owned())
            }
        };
        if *leaf(current, &spec.path) != new {
            set_leaf(&mut next, &spec.path, new);
            changed.push(spec.top().to_owned());
        }
    }
    for top in changed {
        out.patch.insert(top.clone(), next[top.as_str()].clone());
    }
    // secrets are not shown back
    for (k, v) in next.as_object().into_iter().flatten() {
        if !category.secret_keys().contains(&k.as_str()) {
            out.shown[k.as_str()] = v.clone();
        }
    }
    out
}

/// A whole number as a person types it: `50000`, `50,000`, `50 000`.
fn number(t: &str) -> Option<i64> {
    let digits: String = t.chars().filter(|c| !matches!(c, ',' | ' ' | '_' | '\u{a0}')).collect();
    digits.parse().ok()
}

pub use crate::codes::pages::thousands as grouped;

pub(super) fn with_unit(n: i64, unit: &str) -> String {
    match unit {
        "" => grouped(n),
        "%" => format!("{}%", grouped(n)),
        u => format!("{} {u}", grouped(n)),
    }
}

/// A value in words, as previews and history show it. Secrets say only whether they are set.
pub fn show(input: Input, v: &Value) -> String {
    match (input, v) {
        (Input::Secret, Value::Null) => "not set".to_owned(),
        (Input::Secret, _) => "set".to_owned(),
        (Input::Toggle, Value::Bool(b)) => if *b { "on" } else { "off" }.to_owned(),
        (Input::Number { unit, .. }, Value::Number(n)) => match n.as_i64() {
            Some(n) => with_unit(n, unit),
            None => n.to_string(),
        },
        (Input::Image, Value::String(s)) if s.is_empty() => "(built-in)".to_owned(),
        (Input::Image, Value::String(s)) => format!("an image ({} KB)", s.len().div_ceil(1024)),
        (Input::List { item, .. }, Value::Array(items)) => {
            if items.is_empty() {
                return "(none)".to_owned();
            }
            let unit = match item {
                Item::Number { unit, .. } => unit,
                _ => "",
            };
            items
                .iter()
                .map(|i| match i {
                    Value::Number(n) => n.as_i64().map(|n| with_unit(n, unit)).unwrap_or_else(|| n.to_string()),
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        }
        (Input::Localized { .. }, Value::Object(m)) => format!(
            "en “{}” / rw “{}”",
            m.get("en").and_then(Value::as_str).unwrap_or_default(),
            m.get("rw").and_then(Value::as_str).unwrap_or_default()
        ),
        (_, Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
        (_, Value::String(s)) => format!("“{s}”"),
        (_, Value::Null) => "(none)".to_owned(),
        (_, other) => other.to_string(),
    }
}

/// One line of a difference: `payments.maxAmount`: 1,000,000 RWF → 50,000 RWF.
#[derive(Debug, Clone)]
pub struct Line {
    pub field: String,
    pub label: String,
    pub before: String,
    pub after: String,
}

/// The differences in words, one line per registry key that differs.
pub fn lines(diffs: &[super::Diff]) -> Vec<Line> {
    let mut out = Vec::new();
    for d in diffs {
        let specs: Vec<Spec> = sections(d.category)
            .into_iter()
            .flat_map(|s| s.specs)
            .filter(|s| s.top() == d.key)
            .collect();
        let before_top = serde_json::json!({ d.key.as_str(): d.before });
        let after_top = serde_json::json!({ d.key.as_str(): d.after });
        let mut any = false;
        for s in &specs {
            let (a, b) = (leaf(&before_top, &s.path), leaf(&after_top, &s.path));
            let secret = s.input == Input::Secret;
            if a == b && !secret {
                continue;
            }
            any = true;
            let after = match (secret, a.is_null(), b.is_null()) {
                (true, false, false) => "replaced".to_owned(),
                _ => show(s.input, b),
            };
            out.push(Line {
                field: field_name(d.category, &s.path),
                label: s.label.clone(),
                before: show(s.input, a),
                after,
            });
        }
        if !any {
            out.push(Line {
                field: field_name(d.category, &d.key),
                label: words(&d.key),
                before: d.before.to_string(),
                after: d.after.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_by_thousands_with_their_unit() {
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(-12_345), "-12,345");
        let rwf = Input::Number {
            min: 0,
            max: 10,
            unit: "RWF",
        };
        assert_eq!(show(rwf, &Value::from(50_000)), "50,000 RWF");
        assert_eq!(number("50,000"), Some(50_000));
        assert_eq!(number("5o"), None);
    }

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        let current = super::super::view(&super::super::Settings::default(), Category::Notifications);
        let form = FormPairs(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect());
        parse(Category::Notifications, &current, &form)
    }

    #[test]
    fn only_changed_keys_are_patched_and_a_group_keeps_its_other_values() {
        let p = posted(&[
            ("notifications.lowBalanceAlert.threshold", "250,000"),
            ("notifications.lowBalanceAlert.recipients", "a@b.rw\r\n\r\n c@d.rw "),
            ("notifications.smtpPort", "587"),
            // a toggle's hidden "false" then its box: on, as stored
            ("notifications.smsEnabled", "false"),
            ("notifications.smsEnabled", "true"),
            ("notifications.emailEnabled", "false"),
        ]);
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let keys: Vec<&String> = p.patch.keys().collect();
        assert_eq!(
            keys,
            ["lowBalanceAlert"],
            "emailEnabled is off already, smtpPort unchanged"
        );
        assert_eq!(
            p.patch["lowBalanceAlert"],
            serde_json::json!({"enabled": true, "threshold": 250_000, "recipients": ["a@b.rw", "c@d.rw"]})
        );
    }

    #[test]
    fn unreadable_fields_are_errors_naming_them_and_keep_what_was_typed() {
        let p = posted(&[
            ("notifications.webhookRetryAttempts", "three"),
            ("notifications.smtpHost", "smtp.mbelyco.rw"),
        ]);
        assert_eq!(
            p.errors,
            vec![FieldError::new(
                "notifications.webhookRetryAttempts",
                "must be a whole number"
            )]
        );
        assert_eq!(p.raw["notifications.webhookRetryAttempts"], "three");
        assert_eq!(p.shown["smtpHost"], "smtp.mbelyco.rw");
    }

    #[test]
    fn a_secret_changes_only_when_replaced_or_cleared() {
        assert!(posted(&[("notifications.smtpPassword.replace", "  ")]).patch.is_empty());
        let p = posted(&[("notifications.smtpPassword.replace", "s3cret-pass")]);
        assert_eq!(p.patch["smtpPassword"], "s3cret-pass");
        assert!(
            posted(&[("notifications.smtpPassword.clear", "true")]).patch.is_empty(),
            "clearing an unset secret changes nothing"
        );
        assert!(
            p.shown.get("smtpPassword").is_none_or(Value::is_null),
            "never shown back"
        );
    }

    #[test]
    fn secrets_are_shown_as_set_or_not_only() {
        assert_eq!(show(Input::Secret, &Value::from("••••abcd")), "set");
        assert_eq!(show(Input::Secret, &Value::Null), "not set");
    }
}
