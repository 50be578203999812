//! The staff's USSD pages: `/admin/ussd` (the live monitor: last hour's counters, the interaction
//! log and recent redemptions, filtered by a GET form that works without script; `app.js` then
//! polls the JSON endpoints in [`super::api`] and prepends new rows) and
//! `/admin/ussd/sessions/{id}` (one session as a phone-screen transcript).

use crate::web::extract::{Path, Query};
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::query::MonitorQuery;
use super::views::{self, Feed, Interaction, LastHour, OUTCOMES};
use crate::access::Permission::*;
use crate::clock::{local_display_or, local_display_seconds, local_input};
use crate::codes::pages::thousands;
use crate::disbursement::ops::disclosure::{Disclosure, MonitorRedemptionView};
use crate::error::AppError;
use crate::route;
use crate::web::auth::Principal;
use crate::web::pages::refusal_message;
use crate::web::routes::{path_segment, query_string, Access, RouteSpec};
use crate::web::shell::Shell;
use crate::web::AppState;

pub fn routes() -> Vec<RouteSpec> {
    vec![
        route!(GET "/admin/ussd", Access::Permission(RedemptionsMonitor), monitor_page),
        route!(GET "/admin/ussd/sessions/{id}", Access::Permission(RedemptionsRead), session_page),
    ]
}

/// Rows the monitor shows (and keeps, as new ones arrive).
pub const INTERACTION_ROWS: i64 = 100;
pub const REDEMPTION_ROWS: i64 = 20;

use crate::web::pages::html;

fn session_href(id: &str) -> String {
    format!("/admin/ussd/sessions/{}", path_segment(id))
}

struct HopLine {
    id: i64,
    time: String,
    phone: String,
    session: String,
    session_href: String,
    input: String,
    response: String,
    outcome: String,
    latency_ms: i32,
}

impl From<Interaction> for HopLine {
    fn from(i: Interaction) -> Self {
        HopLine {
            id: i.id,
            time: local_display_seconds(i.created_at),
            phone: i.phone_number,
            session_href: session_href(&i.session_id),
            session: i.session_id,
            input: i.input,
            response: i.response,
            outcome: i.outcome,
            latency_ms: i.latency_ms,
        }
    }
}

struct RedemptionLine {
    id: uuid::Uuid,
    /// When it was made, in ms since the epoch: where the live script slots a late row in.
    at: i64,
    /// Its state may still change: the live script asks for it again.
    open: bool,
    time: String,
    phone: String,
    code: String,
    status: String,
    /// The amount and the payout's state, for those who may see money (decision 0025).
    money: Option<(String, String)>,
}

impl From<MonitorRedemptionView> for RedemptionLine {
    fn from(r: MonitorRedemptionView) -> Self {
        RedemptionLine {
            id: r.id,
            at: r.created_at.timestamp_millis(),
            open: r.open,
            time: local_display_seconds(r.created_at),
            phone: r.phone_number,
            code: r.code,
            status: r.status.to_string(),
            money: r.money.map(|m| {
                (
                    format!("{} {}", thousands(m.amount), m.currency),
                    m.disbursement_status.unwrap_or_else(|| "none".into()),
                )
            }),
        }
    }
}

/// One bar of the last hour's outcome chart (horizontal, drawn by the template as SVG).
struct OutcomeBar {
    outcome: String,
    count: i64,
    y: i64,
    w: i64,
}

const BAR_LEFT: i64 = 140;
const BAR_MAX: i64 = 320;
const BAR_ROW: i64 = 20;

fn outcome_bars(h: &LastHour) -> Vec<OutcomeBar> {
    let max = h.outcomes.iter().map(|o| o.count).max().unwrap_or(0).max(1);
    h.outcomes
        .iter()
        .enumerate()
        .map(|(i, o)| OutcomeBar {
            outcome: o.outcome.clone(),
            count: o.count,
            y: i as i64 * BAR_ROW,
            w: (o.count * BAR_MAX / max).max(1),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ussd.html")]
struct MonitorPage {
    shell: Shell,
    /// The service as customers know it (settings `ussd`): its name, code and description.
    service_name: String,
    service_code: String,
    service_description: String,
    error: Option<String>,
    hour: LastHour,
    p95: String,
    bars: Vec<OutcomeBar>,
    chart_height: i64,
    bar_left: i64,
    bar_max: i64,
    bar_row: i64,
    /// The reader may see amounts and payout states, full phone numbers (decision 0025).
    money: bool,
    phones: bool,
    outcomes: &'static [&'static str],
    phone: String,
    outcome: String,
    from: String,
    to: String,
    /// The filters as a query string, for the script's polling (`None`: filters invalid, no polling).
    live_query: Option<String>,
    hops: Vec<HopLine>,
    /// Where each table's polling starts ([`views::Horizon`]).
    hops_cursor: String,
    redemptions: Vec<RedemptionLine>,
    redemptions_cursor: String,
}

async fn monitor_page(
    State(state): State<AppState>,
    who: Principal,
    Query(q): Query<MonitorQuery>,
) -> Result<Response, AppError> {
    let q = q.without_since();
    let d = Disclosure::of(&who);
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let hour = views::last_hour(&mut conn, state.clock.now()).await?;
    let mut status = StatusCode::OK;
    let mut error = None;
    let parsed = q
        .interactions()
        .and_then(|f| Ok((f, q.redemptions()?)))
        .and_then(|(f, rf)| d.check_phone(f.phone.is_some()).map(|()| (f, rf)));
    let (hops, redemptions, live_query, from, to) = match parsed {
        Ok((f, rf)) => {
            let hops = views::recent(&mut conn, &f, None, INTERACTION_ROWS).await?;
            let redemptions = views::recent_redemptions(&mut conn, &rf, None, REDEMPTION_ROWS).await?;
            let live = query_string(&[
                ("phone", f.phone.clone()),
                ("outcome", f.outcome.clone()),
                ("from", f.from.map(|t| t.to_rfc3339())),
                ("to", f.to.map(|t| t.to_rfc3339())),
            ]);
            (
                hops,
                redemptions,
                Some(live),
                f.from.map(local_input),
                f.to.map(local_input),
            )
        }
        Err(e) => {
            status = StatusCode::UNPROCESSABLE_ENTITY;
            error = Some(refusal_message(&e).ok_or(e)?);
            (Feed::default(), Feed::default(), None, None, None)
        }
    };
    let bars = outcome_bars(&hour);
    let page = MonitorPage {
        shell: Shell::new(&who, "/admin/ussd", &settings.0.branding.company_name),
        service_name: settings.0.ussd.service_name.clone(),
        service_code: settings.0.ussd.service_code.clone(),
        service_description: settings.0.ussd.service_description.clone(),
        error,
        p95: hour.latency_p95_ms.map_or_else(|| "—".into(), |v| format!("{v:.0} ms")),
        chart_height: bars.len() as i64 * BAR_ROW,
        bar_left: BAR_LEFT,
        bar_max: BAR_MAX,
        bar_row: BAR_ROW,
        money: d.money,
        phones: d.phones,
        bars,
        hour,
        outcomes: OUTCOMES,
        phone: q.phone.clone().unwrap_or_default(),
        outcome: q.outcome.clone().unwrap_or_default(),
        from: from.or_else(|| q.from.clone()).unwrap_or_default(),
        to: to.or_else(|| q.to.clone()).unwrap_or_default(),
        live_query,
        hops_cursor: hops.cursor,
        hops: d.interactions(hops.data).into_iter().map(HopLine::from).collect(),
        redemptions_cursor: redemptions.cursor,
        redemptions: redemptions
            .data
            .into_iter()
            .map(|r| RedemptionLine::from(d.monitor_redemption(r)))
            .collect(),
    };
    html(status, &page)
}

/// One hop of a transcript: what the customer sent and the screen they got back.
struct Screen {
    time: String,
    sent: String,
    text: String,
    ends: bool,
    outcome: String,
    latency_ms: i32,
}

/// The gateway resends the whole input (`1*ABCD…`) on every hop; a transcript shows what was
/// newly typed when the previous input is a prefix of this one.
fn transcript(hops: &[Interaction], service_code: &str) -> Vec<Screen> {
    let mut prev: Option<&str> = None;
    hops.iter()
        .map(|h| {
            let sent = match prev {
                _ if h.input.is_empty() => format!("dialled {service_code}"),
                Some(p) if !p.is_empty() && h.input.starts_with(&format!("{p}*")) => h.input[p.len() + 1..].to_owned(),
                _ => h.input.clone(),
            };
            prev = Some(&h.input);
            let (text, ends) = match h.response.split_at_checked(4) {
                Some(("CON ", rest)) => (rest.to_owned(), false),
                Some(("END ", rest)) => (rest.to_owned(), true),
                _ => (h.response.clone(), true),
            };
            Screen {
                time: local_display_seconds(h.created_at),
                sent,
                text,
                ends,
                outcome: h.outcome.clone(),
                latency_ms: h.latency_ms,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ussd_session.html")]
struct SessionPage {
    shell: Shell,
    session: views::Session,
    started: String,
    ended: String,
    duration: String,
    hop_count: usize,
    screens: Vec<Screen>,
    redemption: Option<(RedemptionLine, uuid::Uuid)>,
    can_monitor: bool,
    can_open_code: bool,
}

async fn session_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let settings = state.settings.get();
    let mut conn = state.pool.acquire().await?;
    let view = views::session(&mut conn, &id).await?;
    let redemption = views::session_redemption(&mut conn, &id).await?;
    let s = view.session;
    let page = SessionPage {
        shell: Shell::new(&who, "/admin/ussd", &settings.0.branding.company_name),
        started: local_display_seconds(s.started_at),
        ended: local_display_or(s.ended_at, "not notified yet"),
        duration: s
            .duration_ms
            .map_or_else(|| "—".into(), |ms| format!("{}.{} s", ms / 1000, (ms % 1000) / 100)),
        hop_count: view.interactions.len(),
        screens: transcript(&view.interactions, &s.service_code),
        redemption: redemption.map(|r| {
            let code = r.promo_code_id;
            (RedemptionLine::from(Disclosure::of(&who).monitor_redemption(r)), code)
        }),
        can_monitor: who.can(RedemptionsMonitor),
        can_open_code: who.can(PromoCodesRead),
        session: s,
    };
    html(StatusCode::OK, &page)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn hop(input: &str, response: &str) -> Interaction {
        Interaction {
            id: 1,
            session_id: "s".into(),
            phone_number: "+250788123456".into(),
            network_code: None,
            input: input.into(),
            response: response.into(),
            outcome: "menu".into(),
            latency_ms: 3,
            created_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_transcript_shows_what_was_newly_typed_and_whether_the_screen_ends() {
        let s = transcript(
            &[
                hop("", "CON Welcome\n1. Redeem"),
                hop("1", "CON Enter the code"),
                hop("1*ABCD", "END Congratulations!"),
            ],
            "*789#",
        );
        let sent: Vec<&str> = s.iter().map(|x| x.sent.as_str()).collect();
        assert_eq!(sent, ["dialled *789#", "1", "ABCD"]);
        assert_eq!(s[0].text, "Welcome\n1. Redeem");
        assert_eq!((s[1].ends, s[2].ends), (false, true));
    }
}
