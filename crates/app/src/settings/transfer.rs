//! Settings as a document: the export (every category, secrets left out or sealed with this
//! instance's key), and the preparation of an import, a restore or a change to several
//! categories: every field checked at once (unknown category, unknown key, wrong type, out of
//! bounds), the difference worked out, nothing applied. Applying is [`super::update_many`]: one
//! version, all or nothing.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgConnection;

use super::service::{introduced_problems, merged, patched, refuse_if_changed_since};
use super::{build, default_values, load_plain, Category, PlainValues};
use crate::crypto::{mask, SecretBox};
use crate::error::{AppError, FieldError};

/// The `format` of an export document.
pub const FORMAT: &str = "mbelyco-settings";
/// The `formatVersion` this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Every setting of every category, as a file to keep or to import elsewhere.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExportDocument {
    /// Always `mbelyco-settings`.
    pub format: &'static str,
    /// Always 1.
    pub format_version: u32,
    pub exported_at: DateTime<Utc>,
    /// The settings version exported.
    pub version: i64,
    /// Every category and every key (defaults included), secrets left out.
    #[schema(value_type = Object)]
    pub settings: Map<String, Value>,
    /// The secrets that are set (`category.key`); their values are not in `settings`.
    pub secrets_set: Vec<String>,
    /// Only with sealed secrets (a backup): each set secret, `category.key` → its value
    /// encrypted with this instance's `SECRET_KEY`. Only an instance with the same key opens it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_secrets: Option<BTreeMap<String, String>>,
}

/// The context a secret is sealed under in an export: bound to its name, apart from storage.
fn export_context(category: Category, key: &str) -> String {
    format!("settings-export:{}.{key}", category.as_str())
}

/// The effective values (defaults overlaid with what is stored), by category.
fn effective(plain: &PlainValues) -> Map<String, Value> {
    let mut all = default_values();
    for (cat, values) in plain {
        if let Some(Value::Object(obj)) = all.get_mut(cat.as_str()) {
            for (k, v) in values {
                if obj.contains_key(k) {
                    obj.insert(k.clone(), v.clone());
                }
            }
        }
    }
    all
}

/// The current settings as a document: read in one snapshot, so the version and the values
/// agree. `sealed`: the set secrets are sealed into the document.
pub async fn export(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    sealed: bool,
    now: DateTime<Utc>,
) -> Result<ExportDocument, AppError> {
    let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
        .fetch_one(&mut *conn)
        .await?;
    let plain = load_plain(conn, secrets).await?;
    let mut settings = effective(&plain);
    let mut secrets_set = Vec::new();
    let mut sealed_secrets = BTreeMap::new();
    for cat in Category::ALL {
        let Some(Value::Object(obj)) = settings.get_mut(cat.as_str()) else {
            continue;
        };
        for key in cat.secret_keys() {
            obj.remove(*key);
            let value = plain.get(&cat).and_then(|m| m.get(*key)).and_then(Value::as_str);
            if let Some(v) = value {
                let name = format!("{}.{key}", cat.as_str());
                if sealed {
                    sealed_secrets.insert(name.clone(), secrets.seal(v, &export_context(cat, key)));
                }
                secrets_set.push(name);
            }
        }
    }
    Ok(ExportDocument {
        format: FORMAT,
        format_version: FORMAT_VERSION,
        exported_at: now,
        version,
        settings,
        secrets_set,
        sealed_secrets: sealed.then_some(sealed_secrets),
    })
}

/// What to do with a sealed secret this instance cannot open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unopenable {
    /// Refuse the import, naming each (the default).
    #[default]
    Refuse,
    /// Leave those secrets as they are here, and say which were skipped.
    Skip,
}

/// What an import, a restore or a change to several categories brings.
#[derive(Debug, Clone, Default)]
pub struct Incoming {
    /// Category → the keys to set (nested objects may be partial).
    pub settings: Map<String, Value>,
    /// `category.key` → a secret sealed by an export of an instance with the same key.
    pub sealed_secrets: BTreeMap<String, String>,
    pub unopenable: Unopenable,
}

/// One setting that would change. Secrets are masked.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Difference {
    pub category: Category,
    /// The key inside the category, dotted for nested keys (`rateLimiting.apiRequestsPerMinute`).
    pub key: String,
    pub before: Value,
    pub after: Value,
}

/// A checked change, not applied.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// The top-level keys to set, by category, only those that change.
    pub patches: BTreeMap<Category, Map<String, Value>>,
    pub differences: Vec<Difference>,
    /// Sealed secrets skipped because they could not be opened here.
    pub secrets_skipped: Vec<String>,
}

impl Prepared {
    pub fn categories(&self) -> impl Iterator<Item = Category> + '_ {
        self.patches.keys().copied()
    }

    /// For a dry run: the 409 applying would give when a version after `base` changed any of
    /// the categories this changes.
    pub async fn refuse_if_stale(&self, conn: &mut PgConnection, base: Option<i64>) -> Result<(), AppError> {
        match base {
            Some(base) => {
                let touched: Vec<Category> = self.categories().collect();
                refuse_if_changed_since(conn, base, &touched).await
            }
            None => Ok(()),
        }
    }
}

fn category_names() -> String {
    Category::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
}

/// Checks `incoming` against the stored values `current`: every problem named by its path
/// (`payments.maxAmount`, `security.rateLimiting.apiRequestsPerMinute`, `nosuch` for an unknown
/// category), all at once; then the rules across fields on the result. Keys whose value does
/// not change are dropped, so an unchanged export imports as no change.
pub fn prepare(current: &PlainValues, secrets: &SecretBox, incoming: Incoming) -> Result<Prepared, AppError> {
    let defaults = default_values();
    let now = effective(current);
    let mut errors = Vec::new();
    let mut patches: BTreeMap<Category, Map<String, Value>> = BTreeMap::new();
    for (name, body) in incoming.settings {
        let Some(cat) = Category::parse(&name) else {
            errors.push(FieldError::new(
                name,
                format!("is not a settings category (one of: {})", category_names()),
            ));
            continue;
        };
        let Value::Object(keys) = body else {
            errors.push(FieldError::new(name, "must be an object of settings"));
            continue;
        };
        let known = defaults.get(cat.as_str()).and_then(Value::as_object);
        let here = now.get(cat.as_str()).and_then(Value::as_object);
        for (key, value) in keys {
            let field = format!("{name}.{key}");
            if !known.is_some_and(|k| k.contains_key(&key)) {
                errors.push(FieldError::new(field, "is not a setting of this category"));
                continue;
            }
            if cat.secret_keys().contains(&key.as_str()) {
                if !matches!(value, Value::String(_) | Value::Null) {
                    errors.push(FieldError::new(field, "must be a string"));
                } else {
                    patches.entry(cat).or_default().insert(key, value);
                }
                continue;
            }
            let old = here.and_then(|h| h.get(&key)).cloned().unwrap_or(Value::Null);
            let value = merged(&old, value);
            // the type of this one key, so every badly typed key is named, not the first
            let alone: PlainValues = [(cat, Map::from_iter([(key.clone(), value.clone())]))].into();
            if let Err(e) = build(&alone) {
                errors.push(e);
                continue;
            }
            if value != old {
                patches.entry(cat).or_default().insert(key, value);
            }
        }
    }
    let mut secrets_skipped = Vec::new();
    for (name, envelope) in incoming.sealed_secrets {
        let secret = name
            .split_once('.')
            .and_then(|(c, k)| Some((Category::parse(c)?, k)))
            .filter(|(c, k)| c.secret_keys().contains(k));
        let Some((cat, key)) = secret else {
            errors.push(FieldError::new(
                format!("sealedSecrets.{name}"),
                "is not a secret setting",
            ));
            continue;
        };
        match secrets.open(&envelope, &export_context(cat, key)) {
            Ok(plain) => {
                let plain = secrecy::ExposeSecret::expose_secret(&plain).to_owned();
                let unchanged = current
                    .get(&cat)
                    .and_then(|m| m.get(key))
                    .and_then(Value::as_str)
                    .is_some_and(|v| v == plain);
                if !unchanged {
                    patches
                        .entry(cat)
                        .or_default()
                        .insert(key.to_owned(), Value::String(plain));
                }
            }
            Err(_) if incoming.unopenable == Unopenable::Skip => secrets_skipped.push(name),
            Err(_) => errors.push(FieldError::new(
                name,
                "was sealed with another SECRET_KEY and cannot be opened here: import with secrets=skip to keep \
                 this instance's value, then set it again",
            )),
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let next = patched(current, patches.clone())?;
    let problems = introduced_problems(current, &next);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    // a secret sent as its own mask, or one already so, changes nothing
    patches.retain(|cat, patch| {
        patch.retain(|key, _| current.get(cat).and_then(|m| m.get(key)) != next.get(cat).and_then(|m| m.get(key)));
        !patch.is_empty()
    });
    let differences = differences(current, &next);
    Ok(Prepared {
        patches,
        differences,
        secrets_skipped,
    })
}

/// Every leaf that differs between two stored states, secrets masked.
pub fn differences(current: &PlainValues, next: &PlainValues) -> Vec<Difference> {
    let (a, b) = (effective(current), effective(next));
    let mut out = Vec::new();
    for cat in Category::ALL {
        let empty = Map::new();
        let before = a.get(cat.as_str()).and_then(Value::as_object).unwrap_or(&empty);
        let after = b.get(cat.as_str()).and_then(Value::as_object).unwrap_or(&empty);
        for (key, new) in after {
            let old = before.get(key).unwrap_or(&Value::Null);
            if cat.secret_keys().contains(&key.as_str()) {
                let (old, new) = (stored_secret(current, cat, key), stored_secret(next, cat, key));
                if old != new {
                    out.push(Difference {
                        category: cat,
                        key: key.clone(),
                        before: shown_secret(old),
                        after: shown_secret(new),
                    });
                }
                continue;
            }
            leaves(cat, key, old, new, &mut out);
        }
    }
    out
}

fn stored_secret<'a>(plain: &'a PlainValues, cat: Category, key: &str) -> Option<&'a str> {
    plain.get(&cat).and_then(|m| m.get(key)).and_then(Value::as_str)
}

fn shown_secret(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(mask(s)))
}

fn leaves(cat: Category, path: &str, old: &Value, new: &Value, out: &mut Vec<Difference>) {
    if old == new {
        return;
    }
    if let (Value::Object(o), Value::Object(n)) = (old, new) {
        let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
        keys.sort();
        keys.dedup();
        for k in keys {
            let (a, b) = (o.get(k).unwrap_or(&Value::Null), n.get(k).unwrap_or(&Value::Null));
            leaves(cat, &format!("{path}.{k}"), a, b, out);
        }
        return;
    }
    out.push(Difference {
        category: cat,
        key: path.to_owned(),
        before: old.clone(),
        after: new.clone(),
    });
}

/// The stored values now, for [`prepare`].
pub async fn current(conn: &mut PgConnection, secrets: &SecretBox) -> Result<PlainValues, AppError> {
    Ok(load_plain(conn, secrets).await?)
}

/// Checks the document's `format` and `formatVersion` when it names them.
pub fn check_format(format: Option<&str>, version: Option<u32>) -> Result<(), AppError> {
    let mut errors = Vec::new();
    if format.is_some_and(|f| f != FORMAT) {
        errors.push(FieldError::new("format", format!("must be {FORMAT}")));
    }
    if version.is_some_and(|v| v != FORMAT_VERSION) {
        errors.push(FieldError::new(
            "formatVersion",
            format!("must be {FORMAT_VERSION}: this version reads only that format"),
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errors))
    }
}
