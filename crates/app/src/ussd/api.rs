//! The Africa's Talking endpoints (session callback, end-of-session notification and SMS delivery
//! reports), and the staff's read-only view of sessions, service health and the live traffic the
//! monitor page polls.
//!
//! The gateway authenticates with the secret in the URL (`?secret=…`, settings
//! `ussd.endpointSecret`) and, when settings list any, its address: a wrong secret gets 403 and
//! nothing else happens (not even a log line in the interaction log). Unset secret = closed.

use std::net::IpAddr;

use crate::web::extract::{Path, Query};
use africastalking::sms::DeliveryReport;
use africastalking::ussd::{SessionEvent, UssdRequest, RESPONSE_CONTENT_TYPE};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::query::MonitorQuery;
use super::service::{self, Hop};
use super::views::{Interaction, LastHour, RedemptionAfter, SessionView};
use crate::access::Permission::*;
use crate::alerts::sms_delivery;
use crate::audit::RequestMeta;
use crate::disbursement::ops::disclosure::{Disclosure, MonitorRedemptionView};
use crate::error::{AppError, Denied};
use crate::route;
use crate::settings::model::UssdSettings;
use crate::web::auth::Principal;
use crate::web::openapi::Doc;
use crate::web::paging::{PageQuery, Paging};
use crate::web::routes::{Access, RouteSpec};
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(POST "/api/v1/ussd/handle", Access::Webhook, handle,
            Doc::new("Africa's Talking's USSD session callback")
                .describe("One hop of a session, as the gateway posts it. Always 200 for the gateway: the screen \
                           to show, starting `CON ` (more input expected) or `END ` (the session ends).")
                .form::<UssdRequest>()
                .file("text/plain", "The screen: `CON …` or `END …`")),
        route!(POST "/api/v1/webhooks/ussd/status", Access::Webhook, session_event,
            Doc::new("Africa's Talking's end-of-session notification")
                .describe("Stored on the session. Lenient: whatever the body, the gateway gets 200 `OK`.")
                .form::<SessionEvent>()
                .file("text/plain", "`OK`")),
        route!(POST "/api/v1/webhooks/ussd/delivery", Access::Webhook, delivery_report,
            Doc::new("Africa's Talking's SMS delivery report")
                .describe("Recorded on the payout's confirmation SMS; a status only moves forward and a final \
                           one (Success, Failed, Rejected) stays. 200 `OK` for every report read, known message \
                           or not (the gateway retries anything else).")
                .form::<DeliveryReport>()
                .file("text/plain", "`OK`")),
        route!(GET "/api/v1/ussd/session/{id}", Access::Permission(RedemptionsRead), session,
            Doc::new("One USSD session with every hop")
                .path::<String>("id", "The gateway's session id (`ATUid_…`)")
                .ok::<Data<SessionView>>()
                .component::<SessionView>()),
        route!(GET "/api/v1/ussd/status", Access::Permission(RedemptionsMonitor), status,
            Doc::new("Whether the USSD service is configured and answering, and its last hour")
                .ok::<Data<UssdStatus>>()
                .component::<UssdStatus>()),
        route!(GET "/api/v1/ussd/interactions", Access::Permission(RedemptionsMonitor), interactions,
            Doc::new("The USSD interaction log, newest first")
                .describe("Pages back with `cursor`; `since` (an answer's `cursor` field) asks only for hops \
                           logged since that answer began, for live updates. Phone numbers as the caller may see them.")
                .query::<MonitorQuery>()
                .query::<PageQuery>()
                .ok::<Feed<Interaction>>()
                .component::<Interaction>()),
        route!(GET "/api/v1/ussd/redemptions", Access::Permission(RedemptionsMonitor), redemptions,
            Doc::new("Redemptions newest first, as the USSD monitor shows them (codes masked)")
                .describe("Pages and follows like the interaction log; `updates` holds the current state of the \
                           redemptions named in `ids`. Amounts, payout states and phone numbers as the caller may see them.")
                .query::<MonitorQuery>()
                .query::<HeldRows>()
                .query::<PageQuery>()
                .ok::<RedemptionFeed>()),
    ]
}

/// An answer holding one record.
#[derive(Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

/// A page of a live list: the rows, the link and cursor to the page after (older rows), and the
/// `cursor` to poll with for rows written since.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Feed<T> {
    pub data: Vec<T>,
    /// The link to the next (older) page; absent on the last page.
    pub next: Option<String>,
    /// The paging cursor of the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Pass as `since` on the next poll to get the rows written since this answer began.
    pub cursor: String,
}

/// The redemptions feed: a [`Feed`] and the current state of the rows asked for again.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionFeed {
    pub data: Vec<MonitorRedemptionView>,
    /// The redemptions named in `ids`, as they are now.
    pub updates: Vec<MonitorRedemptionView>,
    pub next: Option<String>,
    pub next_cursor: Option<String>,
    /// Pass as `since` on the next poll.
    pub cursor: String,
}

#[derive(Deserialize)]
pub struct SecretQuery {
    secret: Option<String>,
}

fn plain(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, RESPONSE_CONTENT_TYPE)], body).into_response()
}

/// Whether the caller is the gateway: the secret (constant-time) and, if listed, its address.
fn gateway_allowed(u: &UssdSettings, secret: Option<&str>, peer: Option<IpAddr>) -> bool {
    let Some(expected) = u.endpoint_secret.expose() else {
        return false;
    };
    let given = secret.unwrap_or("");
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same && (u.ip_allowlist.is_empty() || peer.is_some_and(|ip| crate::web::staff_ips::listed(&u.ip_allowlist, ip)))
}

/// `10.0.0.7` or `10.0.0.0/24` entries.
/// The hop as Africa's Talking posts it (the shared wire type), or `None` for a body that is not one.
fn form(body: &[u8]) -> Option<Hop> {
    let r: UssdRequest = serde_urlencoded::from_bytes(body).ok()?;
    // PostgreSQL text cannot hold NUL; nothing a handset sends contains one
    let clean = |s: String| if s.contains('\0') { s.replace('\0', "") } else { s };
    Some(Hop {
        session_id: clean(r.session_id),
        service_code: clean(r.service_code),
        phone_number: clean(r.phone_number),
        network_code: clean(r.network_code),
        text: clean(r.text),
    })
}

/// `POST /api/v1/ussd/handle`: Africa's Talking's session callback. Always 200 `text/plain`
/// starting `CON ` or `END ` for the gateway; 403 for anyone else.
async fn handle(
    State(state): State<AppState>,
    Query(q): Query<SecretQuery>,
    meta: RequestMeta,
    body: Bytes,
) -> Response {
    let settings = state.settings.get();
    if !gateway_allowed(&settings.0.ussd, q.secret.as_deref(), meta.ip) {
        return AppError::Forbidden(Denied::GatewaySecret).into_response();
    }
    if crate::maintenance::current(&settings.0.backup, state.clock.now()).is_some() {
        // in maintenance: every hop ends at once, before any session state or redemption
        state.metrics.ussd_hop("maintenance");
        return plain(
            StatusCode::OK,
            format!("END {}", maintenance_screen(&state.templates.get())),
        );
    }
    let hop = form(&body).filter(|h| !h.session_id.trim().is_empty());
    let Some(hop) = hop else {
        // not a gateway request we can keep state for; answered, not stored
        let lang = super::messages::Lang::default_for(&settings.0.ussd);
        let text = super::messages::Msg::Error.text(lang, &settings.0.ussd);
        return plain(StatusCode::OK, format!("END {text}"));
    };
    let templates = state.templates.get();
    let answer = service::handle(&state.pool, &settings.0, &templates, &hop, state.clock.now()).await;
    state.metrics.ussd_hop(answer.outcome.as_str());
    plain(StatusCode::OK, answer.body)
}

/// The screen of maintenance: the `maintenance` template in English, then in Kinyarwanda.
pub fn maintenance_screen(templates: &crate::templates::Templates) -> String {
    use crate::templates::catalogue::{Channel, MAINTENANCE_SCREEN};
    use crate::ussd::messages::Lang;
    [Lang::En, Lang::Rw]
        .into_iter()
        .filter_map(|l| templates.body(MAINTENANCE_SCREEN, Channel::Ussd, l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `POST /api/v1/webhooks/ussd/status`: the end-of-session notification, stored on the session.
/// Lenient by design (INTEGRATIONS.md B7, B11): whatever the body, the gateway gets 200.
async fn session_event(
    State(state): State<AppState>,
    Query(q): Query<SecretQuery>,
    meta: RequestMeta,
    body: Bytes,
) -> Response {
    let settings = state.settings.get();
    if !gateway_allowed(&settings.0.ussd, q.secret.as_deref(), meta.ip) {
        return AppError::Forbidden(Denied::GatewaySecret).into_response();
    }
    match serde_urlencoded::from_bytes::<SessionEvent>(&body) {
        Ok(event) => {
            if let Err(e) = super::events::store(&state.pool, &event, state.clock.now()).await {
                tracing::warn!(error = %e, "could not store a USSD session event");
            }
        }
        Err(e) => tracing::warn!(error = %e, "unreadable USSD session event acknowledged and dropped"),
    }
    plain(StatusCode::OK, "OK".into())
}

/// `POST /api/v1/webhooks/ussd/delivery`: an SMS delivery report (form-encoded `id`, `status`,
/// `phoneNumber`, `networkCode`, `failureReason`, `retryCount`), authenticated like the other AT
/// callbacks. 200 for every report read, known message or not (AT retries anything else); 422
/// problem for a body without an id or a known status.
async fn delivery_report(
    State(state): State<AppState>,
    Query(q): Query<SecretQuery>,
    meta: RequestMeta,
    body: Bytes,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    if !gateway_allowed(&settings.0.ussd, q.secret.as_deref(), meta.ip) {
        return Err(AppError::Forbidden(Denied::GatewaySecret));
    }
    let form = serde_urlencoded::from_bytes::<DeliveryReport>(&body)
        .map_err(|_| AppError::field("body", "must be a form-encoded delivery report"))?;
    let report = sms_delivery::Report::try_from(form)?;
    let mut unit = state.unit().await?;
    sms_delivery::apply_report(&mut unit, &report, state.clock.now()).await?;
    unit.commit().await?;
    Ok(plain(StatusCode::OK, "OK".into()))
}

/// `GET /api/v1/ussd/session/{id}`: one session with every hop.
async fn session(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Data<SessionView>>, AppError> {
    let mut conn = state.pool.acquire().await?;
    let view = super::views::session(&mut conn, &id).await?;
    Ok(Json(Data { data: view }))
}

/// The USSD service's state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UssdStatus {
    pub service_code: String,
    /// Whether the gateway's secret is set (without it the callback is closed).
    pub configured: bool,
    /// How many gateway addresses are allowed (0: any).
    pub ip_allowlist: usize,
    pub last_request_at: Option<DateTime<Utc>>,
    pub last_hour: LastHour,
}

/// `GET /api/v1/ussd/status`: whether the service is configured and answering, and what it
/// answered over the last hour.
async fn status(State(state): State<AppState>) -> Result<Json<Data<UssdStatus>>, AppError> {
    let settings = state.settings.get();
    let u = &settings.0.ussd;
    let mut conn = state.pool.acquire().await?;
    let h = super::views::last_hour(&mut conn, state.clock.now()).await?;
    Ok(Json(Data {
        data: UssdStatus {
            service_code: u.service_code.clone(),
            configured: u.endpoint_secret.is_set(),
            ip_allowlist: u.ip_allowlist.len(),
            last_request_at: h.last_request_at,
            last_hour: h,
        },
    }))
}

/// `GET /api/v1/ussd/interactions?since=&phone=&outcome=&from=&to=&cursor=&limit=`: the
/// interaction log, newest first, a page at a time, and a `cursor`; with `since` (an earlier
/// answer's cursor), only hops logged since that answer began, some of which the caller may
/// already have. Phone numbers as the caller may see them (decision 0025).
async fn interactions(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<MonitorQuery>,
    paging: Paging,
) -> Result<Json<Feed<Interaction>>, AppError> {
    let f = q.interactions()?;
    let d = Disclosure::of(&who);
    d.check_phone(f.phone.is_some())?;
    let before = paging.position::<i64>()?;
    let mut conn = state.pool.acquire().await?;
    let feed = super::views::recent(&mut conn, &f, before, paging.fetch()).await?;
    let page = paging.page(feed.data, |r| r.id);
    Ok(Json(Feed {
        data: d.interactions(page.data),
        next: page.next,
        next_cursor: page.next_cursor,
        cursor: feed.cursor,
    }))
}

/// `?ids=`: the rows the monitor shows whose payout is still in flight.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HeldRows {
    /// Redemption ids, comma-separated (at most 20): their current state comes back in `updates`.
    #[param(max_length = 800)]
    ids: Option<String>,
}

/// `GET /api/v1/ussd/redemptions?since=&ids=&phone=&from=&to=&cursor=&limit=`: redemptions newest
/// first (codes masked) a page at a time, and a `cursor`, as for interactions; `updates` holds
/// the current state of the redemptions named in `ids` (at most 20), so a row whose payout
/// completes changes in place. Amounts, payout states and phone numbers as the caller may see
/// them (decision 0025).
async fn redemptions(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<MonitorQuery>,
    Query(held): Query<HeldRows>,
    paging: Paging,
) -> Result<Json<RedemptionFeed>, AppError> {
    let f = q.redemptions()?;
    let d = Disclosure::of(&who);
    d.check_phone(f.phone.is_some())?;
    let ids =
        crate::web::extract::comma_separated_ids(held.ids.as_deref(), "ids", super::pages::REDEMPTION_ROWS as usize)?;
    let after = paging.position::<RedemptionAfter>()?;
    let mut conn = state.pool.acquire().await?;
    let feed = super::views::recent_redemptions(&mut conn, &f, after, paging.fetch()).await?;
    let updates = super::views::redemptions_by_id(&mut conn, &ids).await?;
    let page = paging.page(feed.data, |r| (r.created_at, r.id));
    let view = |rows: Vec<super::views::RedemptionRow>| -> Vec<_> {
        rows.into_iter().map(|r| d.monitor_redemption(r)).collect()
    };
    Ok(Json(RedemptionFeed {
        data: view(page.data),
        updates: view(updates),
        next: page.next,
        next_cursor: page.next_cursor,
        cursor: feed.cursor,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::model::Secret;

    #[test]
    fn the_gateway_needs_the_secret_and_a_listed_address() {
        let mut u = UssdSettings::default();
        assert!(
            !gateway_allowed(&u, Some(""), None),
            "an unset secret keeps the door shut"
        );
        u.endpoint_secret = Secret(Some("s3cret-value".to_owned().into()));
        assert!(gateway_allowed(&u, Some("s3cret-value"), None));
        assert!(!gateway_allowed(&u, Some("s3cret-valuf"), None));
        assert!(!gateway_allowed(&u, None, None));
        u.ip_allowlist = vec!["10.1.0.0/16".into(), "192.0.2.7".into()];
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        assert!(gateway_allowed(&u, Some("s3cret-value"), ip("10.1.2.3")));
        assert!(gateway_allowed(&u, Some("s3cret-value"), ip("192.0.2.7")));
        assert!(!gateway_allowed(&u, Some("s3cret-value"), ip("192.0.2.8")));
        assert!(!gateway_allowed(&u, Some("s3cret-value"), None));
    }

    #[test]
    fn the_form_keeps_the_plus_of_the_phone_number() {
        let hop =
            form(b"phoneNumber=%2B250788123456&serviceCode=%2A789%23&text=1%2AABC&sessionId=ATUid_1&networkCode=63510")
                .expect("a gateway request");
        assert_eq!(hop.phone_number, "+250788123456");
        assert_eq!(hop.service_code, "*789#");
        assert_eq!(hop.text, "1*ABC");
    }
}
