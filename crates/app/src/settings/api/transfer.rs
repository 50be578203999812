//! Settings as documents over HTTP: export and backup (a file to keep), import and restore (with
//! a dry run answering the difference), and one change to several categories at once.
//!
//! Import and restore take the reason in the body (`reason`), as every settings change does;
//! applying needs one, a dry run does not.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

use super::PAYMENTS_UPDATE;
use crate::access::Permission::{
    DisbursementsConfigure, SystemSettingsBackup, SystemSettingsExport, SystemSettingsImport, SystemSettingsRestore,
    SystemSettingsUpdate,
};
use crate::error::{AppError, Denied, FieldError};
use crate::route;
use crate::settings::model::Settings;
use crate::settings::transfer::{self, Difference, ExportDocument, Incoming, Prepared, Unopenable};
use crate::settings::{update_many, Category, Change};
use crate::unit::Acting;
use crate::web::auth::Principal;
use crate::web::extract::{ApiJson, Query};
use crate::web::openapi::Doc;
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/settings/export", Access::Permission(SystemSettingsExport), export,
            Doc::new("Every setting as a document (a file to keep, or to import elsewhere)")
                .describe("Served as an attachment. Secrets are left out; `secretsSet` names those that are set. \
                           With `secrets=sealed` (which also needs `system.settings.backup`) each set secret is \
                           sealed with this instance's SECRET_KEY into `sealedSecrets`: it restores only where the \
                           same key is configured.")
                .query::<ExportQuery>()
                .component::<SecretsInExport>()
                .ok::<ExportDocument>()),
        route!(POST "/api/v1/admin/settings/import", Access::Permission(SystemSettingsImport), import,
            Doc::new("Import settings from a document (an export, or just `{settings: {...}}`)")
                .describe("Every category and key is checked before anything is applied; every bad field is a \
                           422 naming `<category>.<key>` (an unknown category by its name), all at once. With \
                           `dryRun=true` the answer is the difference and nothing changes. Otherwise `reason` is \
                           required, and the change is one version, all or nothing; `baseVersion` refuses it (409) \
                           when a later version changed those categories (a dry run too). Keys left out keep their \
                           value.")
                .query::<ImportQuery>()
                .component::<Unopenable>()
                .body::<ImportBody>()
                .ok::<ImportAnswer>()
                .problems(&[409])),
        route!(PUT "/api/v1/admin/settings", Access::AnyOf(PAYMENTS_UPDATE), put_all,
            Doc::new("Change several settings categories at once")
                .describe("`{settings: {payments: {...}, ussd: {...}}, reason, baseVersion?}`: only the keys to \
                           change. Every category is checked before any is applied; one version, all or nothing. \
                           Payments alone need `system.settings.update` or `disbursements.configure`; any other \
                           category needs `system.settings.update`. `baseVersion`: 409 naming who changed what \
                           when a later version touched these categories.")
                .body::<ChangeAllBody>()
                .ok::<ChangedAll>()
                .problems(&[409])),
        route!(POST "/api/v1/admin/settings/backup", Access::Permission(SystemSettingsBackup), backup,
            Doc::new("A backup of the settings: the export with every set secret sealed")
                .describe("The settings only, not the database. Secrets are sealed with this instance's \
                           SECRET_KEY: they restore only where the same key is configured.")
                .ok::<ExportDocument>()),
        route!(POST "/api/v1/admin/settings/restore", Access::Permission(SystemSettingsRestore), restore,
            Doc::new("Restore settings from a backup (or any export)")
                .describe("As the import: a dry run answers the difference; otherwise `reason` is required and the \
                           restore is one version, all or nothing. A sealed secret this instance cannot open is a \
                           422 naming it, unless `secrets=skip`.")
                .query::<ImportQuery>()
                .component::<Unopenable>()
                .body::<ImportBody>()
                .ok::<ImportAnswer>()
                .problems(&[409])),
    ]
}

/// How secrets appear in an export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SecretsInExport {
    /// Left out (the default); `secretsSet` names them.
    #[default]
    Omit,
    /// Sealed with this instance's key (needs `system.settings.backup`).
    Sealed,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `omit` (default) or `sealed`.
    #[param(value_type = Option<SecretsInExport>)]
    secrets: Option<SecretsInExport>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct ImportQuery {
    /// `true`: answer the difference and change nothing.
    dry_run: Option<bool>,
    /// A sealed secret this instance cannot open: `refuse` the import (default, naming each) or
    /// `skip` it (this instance keeps its value).
    #[param(value_type = Option<Unopenable>)]
    secrets: Option<Unopenable>,
}

/// An export document, or just `{settings: {...}}`, with the reason for the change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportBody {
    /// `mbelyco-settings` when given.
    format: Option<String>,
    /// 1 when given.
    format_version: Option<u32>,
    /// Ignored (the export's time).
    #[allow(dead_code)]
    exported_at: Option<Value>,
    /// Ignored (the version exported); see `baseVersion`.
    #[allow(dead_code)]
    version: Option<Value>,
    /// Category → the keys to set.
    #[schema(value_type = Object)]
    settings: Map<String, Value>,
    /// Ignored (which secrets the exporting instance had set).
    #[allow(dead_code)]
    secrets_set: Option<Vec<String>>,
    /// `category.key` → a secret sealed by a backup of an instance with the same SECRET_KEY.
    #[serde(default)]
    sealed_secrets: BTreeMap<String, String>,
    /// Why: required unless a dry run; recorded in the version and the audit log.
    reason: Option<String>,
    /// The version the document was prepared against: 409 when a later version changed the
    /// categories it changes.
    base_version: Option<i64>,
    /// `true`: apply staff address lists that refuse the caller's own address (otherwise 409).
    #[serde(default)]
    confirm_lockout: bool,
}

/// What an import or a restore did, or would do.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImportAnswer {
    pub dry_run: bool,
    /// The version after the import; the current one for a dry run or when nothing changed.
    pub version: i64,
    /// Each setting that changes (changed), before → after, secrets masked.
    pub differences: Vec<Difference>,
    /// `category.key` of each top-level key changed (empty for a dry run).
    pub changed: Vec<String>,
    /// Sealed secrets left as they were because this instance cannot open them (`secrets=skip`).
    pub secrets_skipped: Vec<String>,
}

/// `{settings: {category: {key: value}}, reason, baseVersion?}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeAllBody {
    /// Category → the keys to change.
    #[schema(value_type = Object)]
    settings: Map<String, Value>,
    /// Why, for the version and the audit log.
    reason: Option<String>,
    /// The version the editor started from.
    base_version: Option<i64>,
    /// `true`: apply staff address lists that refuse the caller's own address (otherwise 409).
    #[serde(default)]
    confirm_lockout: bool,
}

/// What a change to several categories did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangedAll {
    /// The new version (the current one when nothing changed).
    pub version: i64,
    /// `category.key` of each top-level key changed.
    pub changed: Vec<String>,
    /// Every category as it now is (secrets masked).
    pub settings: Settings,
}

fn attachment(doc: ExportDocument) -> Response {
    let name = format!(
        "mbelyco-settings-v{}-{}.json",
        doc.version,
        doc.exported_at.format("%Y%m%d-%H%M%S")
    );
    let mut res = Json(doc).into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The export, and an audit row saying who took which version and whether its secrets went
/// with it (sealed): settings leave the system only on the record.
async fn exported(state: &AppState, acting: &Acting, sealed: bool) -> Result<ExportDocument, AppError> {
    let mut tx = state.pool.begin().await?;
    // one snapshot: the version and the values agree
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    let doc = transfer::export(&mut tx, state.settings.secrets(), sealed, state.clock.now()).await?;
    tx.commit().await?;
    let mut unit = state.unit().await?;
    let sealed_secrets: Vec<&String> = doc.sealed_secrets.iter().flat_map(|m| m.keys()).collect();
    let event = acting
        .audit(crate::audit::Action::SettingsExported, "settings", doc.version)
        .metadata(serde_json::json!({
            "version": doc.version,
            "secrets": if sealed { "sealed" } else { "left out" },
            "sealedSecrets": sealed_secrets,
        }));
    crate::audit::record(&mut unit, &event, acting.now).await?;
    unit.commit().await?;
    Ok(doc)
}

async fn export(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    let sealed = q.secrets.unwrap_or_default() == SecretsInExport::Sealed;
    if sealed {
        who.require(SystemSettingsBackup)?;
    }
    Ok(attachment(exported(&state, &acting, sealed).await?))
}

async fn backup(State(state): State<AppState>, acting: Acting) -> Result<Response, AppError> {
    Ok(attachment(exported(&state, &acting, true).await?))
}

async fn import(
    State(state): State<AppState>,
    acting: Acting,
    Query(q): Query<ImportQuery>,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<Json<ImportAnswer>, AppError> {
    bring_in(state, acting, q, body).await
}

async fn restore(
    State(state): State<AppState>,
    acting: Acting,
    Query(q): Query<ImportQuery>,
    ApiJson(body): ApiJson<ImportBody>,
) -> Result<Json<ImportAnswer>, AppError> {
    bring_in(state, acting, q, body).await
}

/// The reason, trimmed; required.
fn reason_given(reason: Option<String>) -> Result<String, AppError> {
    match reason.map(|r| r.trim().to_owned()) {
        Some(r) if !r.is_empty() => Ok(r),
        _ => Err(AppError::field(
            "reason",
            "is required: say why these settings change (it is kept with the version)",
        )),
    }
}

/// Import and restore: check everything, then answer the difference (dry run) or apply it.
async fn bring_in(
    state: AppState,
    acting: Acting,
    q: ImportQuery,
    body: ImportBody,
) -> Result<Json<ImportAnswer>, AppError> {
    transfer::check_format(body.format.as_deref(), body.format_version)?;
    let dry_run = q.dry_run.unwrap_or(false);
    let reason = if dry_run {
        None
    } else {
        Some(reason_given(body.reason)?)
    };
    let incoming = Incoming {
        settings: body.settings,
        sealed_secrets: body.sealed_secrets,
        unopenable: q.secrets.unwrap_or_default(),
    };
    let secrets = state.settings.secrets();
    let mut unit = state.unit().await?;
    let current = transfer::current(&mut unit, secrets).await?;
    let prepared = transfer::prepare(&current, secrets, incoming)?;
    if dry_run {
        prepared.refuse_if_stale(&mut unit, body.base_version).await?;
        let version: i64 = sqlx::query_scalar("select coalesce(max(version), 0) from setting_versions")
            .fetch_one(&mut *unit)
            .await?;
        return Ok(Json(ImportAnswer {
            dry_run,
            version,
            differences: prepared.differences,
            changed: Vec::new(),
            secrets_skipped: prepared.secrets_skipped,
        }));
    }
    let confirm = body.confirm_lockout;
    let (out, prepared) = apply(
        &state,
        &mut unit,
        prepared,
        reason,
        (body.base_version, confirm),
        &acting,
    )
    .await?;
    unit.commit().await?;
    state.settings.refresh().await?;
    Ok(Json(ImportAnswer {
        dry_run,
        version: out.version,
        differences: prepared.differences,
        changed: out.changed_keys,
        secrets_skipped: prepared.secrets_skipped,
    }))
}

async fn apply(
    state: &AppState,
    conn: &mut sqlx::PgConnection,
    prepared: Prepared,
    reason: Option<String>,
    (base_version, confirm_lockout): (Option<i64>, bool),
    acting: &Acting,
) -> Result<(crate::settings::ChangeOutcome, Prepared), AppError> {
    let change = Change {
        patches: prepared.patches.clone(),
        reason,
        base_version,
        confirm_lockout,
    };
    let out = update_many(conn, state.settings.secrets(), change, acting).await?;
    Ok((out, prepared))
}

/// Payments alone are open to `disbursements.configure`; anything else needs
/// `system.settings.update`. An unknown category is left to the checks (a 422 naming it).
fn may_change(who: &Principal, settings: &Map<String, Value>) -> Result<(), AppError> {
    if who.can(SystemSettingsUpdate) {
        return Ok(());
    }
    let only_payments = settings
        .keys()
        .all(|name| Category::parse(name).is_none_or(|c| c == Category::Payments));
    if only_payments && who.can(DisbursementsConfigure) {
        Ok(())
    } else {
        Err(AppError::Forbidden(Denied::Permission(SystemSettingsUpdate)))
    }
}

async fn put_all(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    ApiJson(body): ApiJson<ChangeAllBody>,
) -> Result<Json<ChangedAll>, AppError> {
    may_change(&who, &body.settings)?;
    if body.settings.is_empty() {
        return Err(AppError::Validation(vec![FieldError::new(
            "settings",
            "must name at least one category to change",
        )]));
    }
    let incoming = Incoming {
        settings: body.settings,
        ..Incoming::default()
    };
    let secrets = state.settings.secrets();
    let mut unit = state.unit().await?;
    let current = transfer::current(&mut unit, secrets).await?;
    let prepared = transfer::prepare(&current, secrets, incoming)?;
    let (out, _) = apply(
        &state,
        &mut unit,
        prepared,
        body.reason,
        (body.base_version, body.confirm_lockout),
        &acting,
    )
    .await?;
    unit.commit().await?;
    state.settings.refresh().await?;
    Ok(Json(ChangedAll {
        version: out.version,
        changed: out.changed_keys,
        settings: state.settings.get().0.clone(),
    }))
}
