//! Settings over HTTP: read (secrets masked), change one category, list versions, roll back.
//! Payment settings are also open to `disbursements.configure` (ACCESS.md). Export, import,
//! backup, restore and the change to several categories at once are in [`transfer`].

mod transfer;

use crate::web::extract::{Path, Query};
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use super::model::{self, BackupSettings, NotificationSettings, PaymentSettings, Settings};
use super::service::VersionSummary;
use super::{rollback, update_many, versions, view, Category, Change};
use crate::access::Permission::{AlertsConfigure, DisbursementsConfigure, SystemSettingsRead, SystemSettingsUpdate};
use crate::error::AppError;
use crate::route;
use crate::unit::Acting;
use crate::web::extract::ApiJson;
use crate::web::openapi::Doc;
use crate::web::paging::{Page, PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

const PAYMENTS_READ: &[crate::access::Permission] = &[SystemSettingsRead, DisbursementsConfigure];
pub(super) const PAYMENTS_UPDATE: &[crate::access::Permission] = &[SystemSettingsUpdate, DisbursementsConfigure];
/// The notification settings are also the alert delivery channels (`alerts.configure`).
const NOTIFICATIONS_READ: &[crate::access::Permission] = &[SystemSettingsRead, AlertsConfigure];
const NOTIFICATIONS_UPDATE: &[crate::access::Permission] = &[SystemSettingsUpdate, AlertsConfigure];

const CATEGORY: &str = "The settings category: branding, ussd, payments, business, security, notifications, \
                        analytics, integrations or backup";

pub fn routes() -> Vec<RouteSpec> {
    let mut out = transfer::routes();
    out.extend(category_routes());
    out
}

fn category_routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/api/v1/admin/settings", Access::Permission(SystemSettingsRead), all,
            Doc::new("Every settings category (secrets masked)").ok::<AllSettings>()),
        route!(GET "/api/v1/admin/settings/versions", Access::Permission(SystemSettingsRead), list_versions,
            Doc::new("Settings versions, newest first, with what each changed")
                .query::<PageQuery>()
                .page::<VersionSummary>()),
        route!(POST "/api/v1/admin/settings/versions/{version}/rollback", Access::Permission(SystemSettingsUpdate), roll_back,
            Doc::new("Put every setting back as it was in a version (a new version)")
                .describe("409 when a secret of that version can no longer be opened, or when that version's staff \
                           address lists would refuse the caller's own address and `confirmLockout` is not given.")
                .path::<i64>("version", "The version to go back to")
                .query::<RollbackQuery>()
                .ok::<RolledBack>()
                .problems(&[409])),
        route!(GET "/api/v1/admin/settings/payments", Access::AnyOf(PAYMENTS_READ), get_payments,
            Doc::new("The payment settings (secrets masked)")
                .ok::<CategoryAnswer<PaymentSettings>>()
                .component::<PaymentSettings>()),
        route!(PUT "/api/v1/admin/settings/payments", Access::AnyOf(PAYMENTS_UPDATE), put_payments,
            Doc::new("Change payment settings")
                .describe("Only the keys to change; every bad value is a 422 naming `payments.<key>`. \
                           `baseVersion`: 409 naming who changed what when a later version changed payments.")
                .problems(&[409])
                .body::<ChangeBody<PaymentSettings>>()
                .ok::<Changed<PaymentSettings>>()
                .component::<PaymentSettings>()),
        route!(GET "/api/v1/admin/settings/notifications", Access::AnyOf(NOTIFICATIONS_READ), get_notifications,
            Doc::new("The notification settings: e-mail, SMS, webhooks, alert switches, routing, recipients and escalation (secrets masked)")
                .ok::<CategoryAnswer<NotificationSettings>>()
                .component::<NotificationSettings>()),
        route!(PUT "/api/v1/admin/settings/notifications", Access::AnyOf(NOTIFICATIONS_UPDATE), put_notifications,
            Doc::new("Change notification settings")
                .describe("Only the keys to change; every bad value is a 422 naming `notifications.<key>`. \
                           `baseVersion`: 409 naming who changed what when a later version changed this category.")
                .problems(&[409])
                .body::<ChangeBody<NotificationSettings>>()
                .ok::<Changed<NotificationSettings>>()
                .component::<NotificationSettings>()),
        // `backup` is a category and, with POST, the settings backup (PRD): its own address, so the
        // category's GET and PUT are not answered 405 by the POST route
        route!(GET "/api/v1/admin/settings/backup", Access::Permission(SystemSettingsRead), get_backup,
            Doc::new("The backup and maintenance settings")
                .describe("POST on this address is the settings backup (`system.settings.backup`).")
                .ok::<CategoryAnswer<BackupSettings>>()
                .component::<BackupSettings>()),
        route!(PUT "/api/v1/admin/settings/backup", Access::Permission(SystemSettingsUpdate), put_backup,
            Doc::new("Change backup and maintenance settings")
                .describe("Only the keys to change; every bad value is a 422 naming `backup.<key>`. \
                           `baseVersion`: 409 naming who changed what when a later version changed this category.")
                .problems(&[409])
                .body::<ChangeBody<BackupSettings>>()
                .ok::<Changed<BackupSettings>>()
                .component::<BackupSettings>()),
        route!(GET "/api/v1/admin/settings/{category}", Access::Permission(SystemSettingsRead), get_one,
            Doc::new("One settings category (secrets masked)")
                .path::<Category>("category", CATEGORY)
                .ok::<CategoryAnswer<AnyCategory>>()
                .component::<AnyCategory>()),
        route!(PUT "/api/v1/admin/settings/{category}", Access::Permission(SystemSettingsUpdate), put_one,
            Doc::new("Change settings of one category")
                .describe("Only the keys to change, as the category's settings name them; every bad value is a \
                           422 naming `<category>.<key>`. `baseVersion`: 409 naming who changed what when a later \
                           version changed this category.")
                .problems(&[409])
                .path::<Category>("category", CATEGORY)
                .body::<ChangeBody<AnyCategory>>()
                .ok::<Changed<AnyCategory>>()
                .component::<AnyCategory>()),
    ]
}

/// The settings of one category, whichever it is (in the document: one of the category types).
pub struct AnyCategory;

impl PartialSchema for AnyCategory {
    fn schema() -> RefOr<Schema> {
        let mut any = OneOfBuilder::new();
        for name in CATEGORY_SCHEMAS {
            any = any.item(Ref::from_schema_name(name));
        }
        // every field of a category is optional, so an object can fit several: any of them
        let one = any.build();
        Schema::AnyOf(utoipa::openapi::schema::AnyOf {
            items: one.items,
            description: Some("The settings of the category named in the path".to_owned()),
            ..Default::default()
        })
        .into()
    }
}

const CATEGORY_SCHEMAS: [&str; 9] = [
    "BrandingSettings",
    "UssdSettings",
    "PaymentSettings",
    "BusinessSettings",
    "SecuritySettings",
    "NotificationSettings",
    "AnalyticsSettings",
    "IntegrationSettings",
    "BackupSettings",
];

impl ToSchema for AnyCategory {
    fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
        fn add<T: ToSchema>(out: &mut Vec<(String, RefOr<Schema>)>) {
            out.push((T::name().into_owned(), T::schema()));
            T::schemas(out);
        }
        add::<model::BrandingSettings>(out);
        add::<model::UssdSettings>(out);
        add::<model::PaymentSettings>(out);
        add::<model::BusinessSettings>(out);
        add::<model::SecuritySettings>(out);
        add::<model::NotificationSettings>(out);
        add::<model::AnalyticsSettings>(out);
        add::<model::IntegrationSettings>(out);
        add::<model::BackupSettings>(out);
    }
}

fn category(name: &str) -> Result<Category, AppError> {
    Category::parse(name).ok_or(AppError::NotFound("settings category"))
}

/// Every category and the version they are at.
#[derive(Serialize, ToSchema)]
pub struct AllSettings {
    pub version: i64,
    pub settings: Settings,
}

async fn all(State(state): State<AppState>) -> Json<AllSettings> {
    let current = state.settings.get();
    Json(AllSettings {
        version: current.1,
        settings: current.0.clone(),
    })
}

/// One category's settings and the version they are at.
#[derive(Serialize, ToSchema)]
pub struct CategoryAnswer<S> {
    pub version: i64,
    pub category: Category,
    pub settings: S,
}

async fn get_one(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CategoryAnswer<Value>>, AppError> {
    let c = category(&name)?;
    let current = state.settings.get();
    Ok(Json(CategoryAnswer {
        version: current.1,
        category: c,
        settings: view(&current.0, c),
    }))
}

async fn get_payments(State(state): State<AppState>) -> Result<Json<CategoryAnswer<Value>>, AppError> {
    get_one(State(state), Path("payments".to_owned())).await
}

/// `{"settings": {key: value, …}, "reason": "…"}` — only the keys to change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody<S = Map<String, Value>> {
    /// The keys to change and their new values.
    settings: S,
    /// Why, for the version and the audit log.
    reason: Option<String>,
    /// The version the editor started from: 409 naming who changed what when a later version
    /// changed this category.
    #[serde(rename = "baseVersion")]
    base_version: Option<i64>,
    /// `true`: apply a change to the staff address lists even though it refuses the caller's own
    /// address (otherwise 409).
    #[serde(default, rename = "confirmLockout")]
    confirm_lockout: bool,
}

/// What a change did: the new version (the current one when nothing changed), the keys it
/// changed, and the category as it now is.
#[derive(Serialize, ToSchema)]
pub struct Changed<S> {
    pub version: i64,
    pub changed: Vec<String>,
    pub category: Category,
    pub settings: S,
}

async fn change(
    state: AppState,
    acting: Acting,
    c: Category,
    body: ChangeBody,
) -> Result<Json<Changed<Value>>, AppError> {
    let mut unit = state.unit().await?;
    let change = Change::one(c, body.settings, body.reason)
        .from_version(body.base_version)
        .confirming_lockout(body.confirm_lockout);
    let out = update_many(&mut unit, state.settings.secrets(), change, &acting).await?;
    unit.commit().await?;
    // this process sees its own change at once; others within seconds
    state.settings.refresh().await?;
    let current = state.settings.get();
    Ok(Json(Changed {
        version: out.version,
        changed: out.changed_keys,
        category: c,
        settings: view(&current.0, c),
    }))
}

async fn put_one(
    State(state): State<AppState>,
    acting: Acting,
    Path(name): Path<String>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Changed<Value>>, AppError> {
    let c = category(&name)?;
    change(state, acting, c, body).await
}

async fn put_payments(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Changed<Value>>, AppError> {
    change(state, acting, Category::Payments, body).await
}

async fn get_notifications(State(state): State<AppState>) -> Result<Json<CategoryAnswer<Value>>, AppError> {
    get_one(State(state), Path("notifications".to_owned())).await
}

async fn put_notifications(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Changed<Value>>, AppError> {
    change(state, acting, Category::Notifications, body).await
}

async fn get_backup(State(state): State<AppState>) -> Result<Json<CategoryAnswer<Value>>, AppError> {
    get_one(State(state), Path("backup".to_owned())).await
}

async fn put_backup(
    State(state): State<AppState>,
    acting: Acting,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Json<Changed<Value>>, AppError> {
    change(state, acting, Category::Backup, body).await
}

async fn list_versions(State(state): State<AppState>, paging: Paging) -> Result<Json<Page<VersionSummary>>, AppError> {
    let before = paging.position::<i64>()?;
    let mut conn = state.pool.acquire().await?;
    let list = versions(&mut conn, before, paging.fetch()).await?;
    Ok(Json(paging.page(list, |v| v.version)))
}

/// What a rollback did: the new version and the keys it changed back.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    pub version: i64,
    pub changed: Vec<String>,
    /// The version the settings were put back to.
    pub rollback_of: i64,
}

/// `?confirmLockout=true`: go back even though the staff address lists of that version would
/// refuse the caller's own address.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RollbackQuery {
    /// Confirms a rollback after which the caller's own address would be refused.
    #[serde(default)]
    confirm_lockout: bool,
}

async fn roll_back(
    State(state): State<AppState>,
    acting: Acting,
    Path(version): Path<i64>,
    Query(q): Query<RollbackQuery>,
) -> Result<Json<RolledBack>, AppError> {
    let mut unit = state.unit().await?;
    let out = rollback(&mut unit, state.settings.secrets(), version, q.confirm_lockout, &acting).await?;
    unit.commit().await?;
    state.settings.refresh().await?;
    Ok(Json(RolledBack {
        version: out.version,
        changed: out.changed_keys,
        rollback_of: version,
    }))
}
