//! Staff addresses (`security.ipAllowlist`, `security.ipBlocklist`): the panel, sign-in and the
//! staff API refuse a client address that is blocked, or not allowed when the allow list is not
//! empty — 403, a problem on `/api`, a page on the panel. The gateways' and MoMo's callbacks,
//! health, metrics, the public status page, the API document and static files are not staff
//! routes and stay open. The address is the connection's peer, as [`crate::audit::RequestMeta`]
//! records it; the lists are the live settings.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use sqlx::types::ipnetwork::IpNetwork;

use super::AppState;
use crate::error::problem_response;
use crate::settings::model::SecuritySettings;

/// Routes that are not the staff's: callbacks authenticated by their own secrets, probes,
/// public documents and assets.
fn exempt(path: &str) -> bool {
    path.starts_with("/api/v1/webhooks/")
        || path.starts_with("/static/")
        || matches!(
            path,
            "/api/v1/ussd/handle" | "/api/health" | "/api/metrics" | "/status" | "/api/v1/openapi.json" | "/api/docs"
        )
}

/// Whether `ip` falls in any address or CIDR range of `list` (entries that do not parse match
/// nothing). Also the USSD gateway's allow list.
pub fn listed(list: &[String], ip: IpAddr) -> bool {
    list.iter()
        .any(|entry| entry.trim().parse::<IpNetwork>().is_ok_and(|net| net.contains(ip)))
}

/// Why `ip` may not reach the staff routes under `security`; `None` when it may. An unknown
/// address passes only when neither list names anything.
pub fn refusal(security: &SecuritySettings, ip: Option<IpAddr>) -> Option<&'static str> {
    let (allow, block) = (&security.ip_allowlist, &security.ip_blocklist);
    if allow.is_empty() && block.is_empty() {
        return None;
    }
    let Some(ip) = ip.map(|ip| ip.to_canonical()) else {
        return Some("the address of this connection is unknown");
    };
    if listed(block, ip) {
        return Some("this address is blocked");
    }
    if !allow.is_empty() && !listed(allow, ip) {
        return Some("this address is not on the list of addresses staff may work from");
    }
    None
}

pub async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if exempt(req.uri().path()) {
        return next.run(req).await;
    }
    let ip = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let why = refusal(&state.settings.get().0.security, ip);
    match why {
        None => next.run(req).await,
        Some(why) => {
            tracing::warn!(ip = ?ip, path = req.uri().path(), why, "staff route refused by address");
            problem_response(
                StatusCode::FORBIDDEN,
                "address-refused",
                "Address not allowed",
                format!("The panel and the staff API cannot be used from here: {why}. Ask an administrator."),
                Vec::new(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sec(allow: &[&str], block: &[&str]) -> SecuritySettings {
        SecuritySettings {
            ip_allowlist: allow.iter().map(|s| s.to_string()).collect(),
            ip_blocklist: block.iter().map(|s| s.to_string()).collect(),
            ..SecuritySettings::default()
        }
    }

    #[test]
    fn the_block_list_wins_and_a_non_empty_allow_list_refuses_the_rest() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        assert_eq!(refusal(&sec(&[], &[]), None), None);
        assert!(refusal(&sec(&["10.0.0.0/8"], &[]), ip("192.168.1.1")).is_some());
        assert_eq!(refusal(&sec(&["10.0.0.0/8"], &[]), ip("10.1.2.3")), None);
        assert!(refusal(&sec(&["10.0.0.0/8"], &["10.1.0.0/16"]), ip("10.1.2.3")).is_some());
        assert!(refusal(&sec(&[], &["127.0.0.1"]), ip("::ffff:127.0.0.1")).is_some());
        assert!(refusal(&sec(&[], &["127.0.0.1"]), None).is_some());
    }
}
