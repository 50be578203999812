//! Changing settings: update one category, roll back to a version, list versions.
//! Each use case runs on the caller's transaction: the rows, the version row, the audit row and
//! the NOTIFY commit together, serialised by an advisory lock so versions never interleave.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{build, default_values, load_plain, secret_context, validate, Category, PlainValues, NOTIFY_CHANNEL};
use crate::audit::{self, Action};
use crate::crypto::{mask, SecretBox};
use crate::error::{AppError, FieldError};
use crate::unit::Acting;

const SETTINGS_LOCK: i64 = 0x0073_6574_7473;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeOutcome {
    /// The new version, or the current one when nothing changed.
    pub version: i64,
    pub changed_keys: Vec<String>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionSummary {
    pub version: i64,
    pub changed_by_user_id: Option<Uuid>,
    pub changed_at: DateTime<Utc>,
    pub reason: Option<String>,
    pub rollback_of: Option<i64>,
    /// What changed: `[{category, key, before, after}]`, secrets masked.
    pub changes: Value,
}

fn is_secret(category: Category, key: &str) -> bool {
    category.secret_keys().contains(&key)
}

/// How a value appears in versions and the audit log: secrets masked.
fn shown(category: Category, key: &str, v: Option<&Value>) -> Value {
    match v {
        None => Value::Null,
        Some(Value::String(s)) if is_secret(category, key) => Value::String(mask(s)),
        Some(v) => v.clone(),
    }
}

async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(SETTINGS_LOCK)
        .execute(conn)
        .await
        .map(|_| ())
}

/// Validation problems the new state has that the current one did not: a change is refused for
/// what it breaks, not for an older problem elsewhere.
pub(crate) fn introduced_problems(current: &PlainValues, next: &PlainValues) -> Vec<FieldError> {
    let next_settings = match build(next) {
        Ok(s) => s,
        Err(e) => return vec![e],
    };
    let before = build(current).map(|s| validate::validate(&s)).unwrap_or_default();
    validate::validate(&next_settings)
        .into_iter()
        .filter(|e| !before.contains(e))
        .collect()
}

/// A change to any number of categories, applied all or nothing as one version.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// Top-level keys to change, by category.
    pub patches: std::collections::BTreeMap<Category, Map<String, Value>>,
    /// Why, for the version and the audit row.
    pub reason: Option<String>,
    /// The version the editor started from: when a later version changed any of these
    /// categories, the change is refused (409) naming who changed what, never applied over it.
    pub base_version: Option<i64>,
    /// The person knows the change refuses their own address (see [`super::guards`]).
    pub confirm_lockout: bool,
}

impl Change {
    pub fn one(category: Category, patch: Map<String, Value>, reason: Option<String>) -> Self {
        Self {
            patches: [(category, patch)].into(),
            reason,
            base_version: None,
            confirm_lockout: false,
        }
    }

    pub fn confirming_lockout(mut self, confirmed: bool) -> Self {
        self.confirm_lockout = confirmed;
        self
    }

    pub fn from_version(mut self, base: Option<i64>) -> Self {
        self.base_version = base;
        self
    }
}

/// Applies `patch` (top-level keys of one category) and records a version and an audit row.
/// Secret keys: the masked value (as returned by the API) or an absent key leaves the secret as
/// it is; `null` or `""` clears it.
pub async fn update(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    category: Category,
    patch: Map<String, Value>,
    reason: Option<String>,
    acting: &Acting,
) -> Result<ChangeOutcome, AppError> {
    update_many(conn, secrets, Change::one(category, patch, reason), acting).await
}

/// Applies a [`Change`]: every category is checked before any is applied; one version, one
/// audit row, all or nothing.
#[tracing::instrument(skip_all, err(Debug))]
pub async fn update_many(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    change: Change,
    acting: &Acting,
) -> Result<ChangeOutcome, AppError> {
    lock(conn).await?;
    let (current, next) = checked(conn, secrets, &change).await?;
    super::guards::check(conn, &current, &next, acting, change.confirm_lockout).await?;
    apply(conn, secrets, &current, &next, change.reason, None, acting).await
}

/// The checks every change passes, for [`update_many`] and [`preview`] alike: the editor's base
/// version, unknown keys, every validation the change would break. The stored values now and
/// after the change.
async fn checked(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    change: &Change,
) -> Result<(PlainValues, PlainValues), AppError> {
    if let Some(base) = change.base_version {
        let touched: Vec<Category> = change.patches.keys().copied().collect();
        refuse_if_changed_since(conn, base, &touched).await?;
    }
    let current = load_plain(conn, secrets).await?;
    let next = patched(&current, change.patches.clone())?;
    let problems = introduced_problems(&current, &next);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    Ok((current, next))
}

/// The stored values with `patches` laid over them; unknown keys and badly typed secrets are
/// refused, each naming `category.key`.
pub(crate) fn patched(
    current: &PlainValues,
    patches: std::collections::BTreeMap<Category, Map<String, Value>>,
) -> Result<PlainValues, AppError> {
    let defaults = default_values();
    let mut errors = Vec::new();
    let mut next = current.clone();
    for (category, patch) in patches {
        let known = defaults
            .get(category.as_str())
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let entry = next.entry(category).or_default();
        for (key, value) in patch {
            let field = format!("{}.{key}", category.as_str());
            if !known.contains_key(&key) {
                errors.push(FieldError::new(field, "is not a setting of this category"));
                continue;
            }
            if is_secret(category, &key) {
                match &value {
                    Value::Null => {
                        entry.remove(&key);
                    }
                    Value::String(s) if s.is_empty() => {
                        entry.remove(&key);
                    }
                    Value::String(s) => {
                        let unchanged = current
                            .get(&category)
                            .and_then(|m| m.get(&key))
                            .and_then(Value::as_str)
                            .is_some_and(|cur| mask(cur) == *s);
                        if !unchanged {
                            entry.insert(key, value);
                        }
                    }
                    _ => errors.push(FieldError::new(field, "must be a string")),
                }
                continue;
            }
            // a group (`expiration`, `rateLimiting`, a `{en, rw}` text) changes only the
            // members given: the others keep their stored (or default) values
            let value = match entry.get(&key).or_else(|| known.get(&key)) {
                Some(base) => merged(base, value),
                None => value,
            };
            entry.insert(key, value);
        }
    }
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(AppError::Validation(errors))
    }
}

/// `given` laid over `base`: objects member by member, groups within groups too; anything else
/// is replaced by `given`.
pub(crate) fn merged(base: &Value, given: Value) -> Value {
    match (base, given) {
        (Value::Object(b), Value::Object(g)) => {
            let mut out = b.clone();
            for (k, v) in g {
                let v = match out.get(&k) {
                    Some(old) => merged(old, v),
                    None => v,
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        (_, given) => given,
    }
}

/// 409 when a version after `base` changed any of `categories`, saying who changed what.
pub(crate) async fn refuse_if_changed_since(
    conn: &mut PgConnection,
    base: i64,
    categories: &[Category],
) -> Result<(), AppError> {
    let names: Vec<&str> = categories.iter().map(|c| c.as_str()).collect();
    let later: Vec<(i64, Option<String>, DateTime<Utc>, Value)> = sqlx::query_as(
        "select v.version, coalesce(nullif(u.full_name, ''), u.email), v.changed_at, v.changes \
         from setting_versions v left join users u on u.id = v.changed_by_user_id \
         where v.version > $1 and exists (select 1 from jsonb_array_elements(v.changes) c where c->>'category' = any($2)) \
         order by v.version",
    )
    .bind(base)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await?;
    if later.is_empty() {
        return Ok(());
    }
    let said: Vec<String> = later
        .iter()
        .map(|(version, who, at, changes)| {
            let keys: Vec<String> = changes
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["category"].as_str().is_some_and(|n| names.contains(&n)))
                .filter_map(|c| Some(format!("{}.{}", c["category"].as_str()?, c["key"].as_str()?)))
                .collect();
            format!(
                "version {version} by {} at {} changed {}",
                who.as_deref().unwrap_or("the system"),
                at.format("%Y-%m-%d %H:%M UTC"),
                keys.join(", ")
            )
        })
        .collect();
    Err(AppError::Conflict {
        message: format!(
            "These settings changed after you opened them (you started from version {base}): {}. Reload to see them, then make your change again.",
            said.join("; ")
        ),
        field: None,
    })
}

/// Restores the state recorded by `version`, as a new version.
#[tracing::instrument(skip_all, fields(to_version), err(Debug))]
pub async fn rollback(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    to_version: i64,
    confirm_lockout: bool,
    acting: &Acting,
) -> Result<ChangeOutcome, AppError> {
    if to_version == 0 {
        return Err(AppError::NotFound("settings version"));
    }
    lock(conn).await?;
    let target = state_at(conn, secrets, to_version).await?;
    let current = load_plain(conn, secrets).await?;
    let problems = introduced_problems(&current, &target);
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    // going back is a change like any other: it may not lock its maker out unasked
    super::guards::check(conn, &current, &target, acting, confirm_lockout).await?;
    let reason = Some(format!("rollback to version {to_version}"));
    apply(conn, secrets, &current, &target, reason, Some(to_version), acting).await
}

async fn apply(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    current: &PlainValues,
    next: &PlainValues,
    reason: Option<String>,
    rollback_of: Option<i64>,
    acting: &Acting,
) -> Result<ChangeOutcome, AppError> {
    let now = acting.now;
    let version_now: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
        .fetch_one(&mut *conn)
        .await?;
    let mut changes = Vec::new();
    let mut changed_keys = Vec::new();
    let mut before_by_cat: std::collections::BTreeMap<Category, Map<String, Value>> = Default::default();
    let mut after_by_cat: std::collections::BTreeMap<Category, Map<String, Value>> = Default::default();
    for cat in Category::ALL {
        let empty = Map::new();
        let cur = current.get(&cat).unwrap_or(&empty);
        let nxt = next.get(&cat).unwrap_or(&empty);
        let mut keys: Vec<&String> = cur.keys().chain(nxt.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            let (a, b) = (cur.get(key), nxt.get(key));
            if a == b {
                continue;
            }
            let secret = is_secret(cat, key);
            match b {
                Some(v) => {
                    let stored = match (secret, v) {
                        (true, Value::String(s)) => Value::String(secrets.seal(s, &secret_context(cat, key))),
                        _ => v.clone(),
                    };
                    sqlx::query(
                        "insert into system_settings (category, key, value, is_secret, version, updated_by_user_id, created_at, updated_at) \
                         values ($1, $2, $3, $4, 1, $5, $6, $6) \
                         on conflict (category, key) do update set value = excluded.value, is_secret = excluded.is_secret, \
                           version = system_settings.version + 1, updated_by_user_id = excluded.updated_by_user_id, updated_at = excluded.updated_at",
                    )
                    .bind(cat.as_str())
                    .bind(key)
                    .bind(&stored)
                    .bind(secret)
                    .bind(acting.user_id())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                }
                None => {
                    sqlx::query("delete from system_settings where category = $1 and key = $2")
                        .bind(cat.as_str())
                        .bind(key)
                        .execute(&mut *conn)
                        .await?;
                }
            }
            let (before, after) = (shown(cat, key, a), shown(cat, key, b));
            changes.push(json!({"category": cat.as_str(), "key": key, "before": before, "after": after}));
            before_by_cat.entry(cat).or_default().insert(key.clone(), before);
            after_by_cat.entry(cat).or_default().insert(key.clone(), after);
            changed_keys.push(format!("{}.{key}", cat.as_str()));
        }
    }
    if changed_keys.is_empty() {
        return Ok(ChangeOutcome {
            version: version_now,
            changed_keys,
        });
    }
    // the whole state after the change, as stored (secrets stay encrypted)
    let rows: Vec<(String, String, Value)> = sqlx::query_as("select category, key, value from system_settings")
        .fetch_all(&mut *conn)
        .await?;
    let mut snapshot = Map::new();
    for (cat, key, value) in rows {
        if let Value::Object(m) = snapshot.entry(cat).or_insert_with(|| Value::Object(Map::new())) {
            m.insert(key, value);
        }
    }
    let version: i64 = sqlx::query_scalar(
        "insert into setting_versions (changed_by_user_id, changed_at, reason, rollback_of, changes, snapshot) \
         values ($1, $2, $3, $4, $5, $6) returning version",
    )
    .bind(acting.user_id())
    .bind(now)
    .bind(reason.as_deref())
    .bind(rollback_of)
    .bind(Value::Array(changes))
    .bind(Value::Object(snapshot))
    .fetch_one(&mut *conn)
    .await?;

    let action = if rollback_of.is_some() {
        Action::SettingsRolledBack
    } else {
        Action::SettingsUpdated
    };
    let cats: Vec<&str> = after_by_cat.keys().map(|c| c.as_str()).collect();
    let to_obj = |m: std::collections::BTreeMap<Category, Map<String, Value>>| {
        Value::Object(
            m.into_iter()
                .map(|(c, v)| (c.as_str().to_owned(), Value::Object(v)))
                .collect(),
        )
    };
    let event = acting
        .audit(action, "settings", cats.join(","))
        .before(to_obj(before_by_cat))
        .after(to_obj(after_by_cat))
        .metadata(json!({"version": version, "rollbackOf": rollback_of, "reason": reason}));
    audit::record(conn, &event, now).await?;
    sqlx::query("select pg_notify($1, $2)")
        .bind(NOTIFY_CHANNEL)
        .bind(version.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(ChangeOutcome { version, changed_keys })
}

/// Versions newest first, older than `before` (the last one of the previous page) when given.
pub async fn versions(
    conn: &mut PgConnection,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<VersionSummary>, sqlx::Error> {
    sqlx::query_as(
        "select version, changed_by_user_id, changed_at, reason, rollback_of, changes \
         from setting_versions where $1::bigint is null or version < $1 order by version desc limit $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The stored values as `version` left them (secrets decrypted); version 0 is the defaults.
pub(crate) async fn state_at(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    version: i64,
) -> Result<PlainValues, AppError> {
    let mut target = PlainValues::new();
    if version == 0 {
        return Ok(target);
    }
    let snapshot: Option<Value> = sqlx::query_scalar("select snapshot from setting_versions where version = $1")
        .bind(version)
        .fetch_optional(&mut *conn)
        .await?;
    let snapshot = snapshot.ok_or(AppError::NotFound("settings version"))?;
    let defaults = default_values();
    for (cat, values) in snapshot.as_object().into_iter().flatten() {
        let Some(cat) = Category::parse(cat) else {
            continue;
        };
        let known = defaults.get(cat.as_str()).and_then(Value::as_object);
        for (key, stored) in values.as_object().into_iter().flatten() {
            // a key the settings no longer have (the single webhook URL, decision 0049) stays behind
            if !known.is_some_and(|k| k.contains_key(key)) {
                continue;
            }
            let plain = if is_secret(cat, key) {
                let opened = stored.as_str().map(|env| secrets.open(env, &secret_context(cat, key)));
                match opened {
                    Some(Ok(p)) => Value::String(secrecy::ExposeSecret::expose_secret(&p).to_owned()),
                    _ => {
                        return Err(AppError::Conflict {
                            message: format!(
                            "the secret {}.{key} in version {version} cannot be decrypted with the current SECRET_KEY",
                            cat.as_str()
                        ),
                            field: None,
                        })
                    }
                }
            } else {
                stored.clone()
            };
            target.entry(cat).or_default().insert(key.clone(), plain);
        }
    }
    Ok(target)
}

/// One top-level key a change would set differently: its effective value before and after
/// (defaults filled in, secrets masked, `null` when unset).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub category: Category,
    pub key: String,
    pub before: Value,
    pub after: Value,
}

/// The keys whose stored values differ between `a` and `b` (as [`apply`] finds them), each with
/// its effective value on either side.
pub(crate) fn differences(a: &PlainValues, b: &PlainValues) -> Result<Vec<Diff>, AppError> {
    let effective = |p: &PlainValues| -> Result<Value, AppError> {
        let s = build(p).map_err(|e| AppError::Validation(vec![e]))?;
        serde_json::to_value(s).map_err(|e| AppError::Internal(e.into()))
    };
    let (view_a, view_b) = (effective(a)?, effective(b)?);
    let mut out = Vec::new();
    for cat in Category::ALL {
        let empty = Map::new();
        let (ma, mb) = (a.get(&cat).unwrap_or(&empty), b.get(&cat).unwrap_or(&empty));
        let mut keys: Vec<&String> = ma.keys().chain(mb.keys()).collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            if ma.get(key) == mb.get(key) {
                continue;
            }
            out.push(Diff {
                category: cat,
                key: key.clone(),
                before: view_a[cat.as_str()][key.as_str()].clone(),
                after: view_b[cat.as_str()][key.as_str()].clone(),
            });
        }
    }
    Ok(out)
}

/// What [`update_many`] would do with `change`, without doing it: the same checks (the editor's
/// base version, unknown keys, every validation the change would break), then the differences.
/// An empty list: nothing would change.
pub async fn preview(conn: &mut PgConnection, secrets: &SecretBox, change: &Change) -> Result<Vec<Diff>, AppError> {
    let (current, next) = checked(conn, secrets, change).await?;
    differences(&current, &next)
}

/// What [`rollback`] to `version` would change, without doing it.
pub async fn preview_rollback(
    conn: &mut PgConnection,
    secrets: &SecretBox,
    version: i64,
) -> Result<Vec<Diff>, AppError> {
    let target = state_at(conn, secrets, version).await?;
    let current = load_plain(conn, secrets).await?;
    differences(&current, &target)
}
