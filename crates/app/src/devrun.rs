//! The development run (`cargo run` outside production): demo data, the USSD endpoint opened to
//! the local gateway simulator, customer SMS sent through the simulator's SMS API, and the
//! simulator itself started as a separate process beside the app (the same binary,
//! `mbelyco simulate at`), so a newcomer can dial `*789#` in a browser and read the SMS there.
//!
//! Nothing here runs in production (`APP_ENV=production`) or with `SIMULATORS=off`.

use std::process::Stdio;

use anyhow::Context as _;
use serde_json::json;

use crate::batches::NewBatch;
use crate::settings::Category;
use crate::web::AppState;

/// Where the web phone listens.
pub const AT_SIM_PORT: u16 = 8090;
/// Where the MoMo Disbursement simulator listens.
pub const MOMO_SIM_PORT: u16 = 8091;
const MOMO_SIM_SUBSCRIPTION_KEY: &str = "momo-sim-subscription-key";
/// The AT username the development run sends SMS as (AT's sandbox app is `sandbox`).
const AT_SIM_SMS_USERNAME: &str = "sandbox";
const DEMO_BATCH: &str = "Demo batch";

/// Applies a settings change as the system (validated, versioned and audited like any change) and
/// reloads this process's settings. For operator tooling: the development run and the benches.
pub async fn apply_settings(
    state: &AppState,
    category: Category,
    patch: serde_json::Value,
    reason: &str,
) -> anyhow::Result<()> {
    apply_all_settings(state, vec![(category, patch, reason.to_owned())]).await
}

/// Several settings changes in one transaction, then one reload: every process (this one
/// included) takes them in at once and says so once.
pub async fn apply_all_settings(
    state: &AppState,
    changes: Vec<(Category, serde_json::Value, String)>,
) -> anyhow::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut tx = state.pool.begin().await?;
    let acting = crate::unit::Acting::system(state.clock.now());
    for (category, patch, reason) in changes {
        crate::settings::update(
            &mut tx,
            state.settings.secrets(),
            category,
            patch.as_object().cloned().unwrap_or_default(),
            Some(reason),
            &acting,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", crate::error::describe(&e)))?;
    }
    tx.commit().await?;
    state.settings.refresh().await?;
    Ok(())
}

/// Opens the USSD endpoint with a fresh secret (unless one is set), creates the demo batch (once)
/// and returns the callback URLs with their secret.
pub async fn prepare(state: &AppState, base: &str) -> anyhow::Result<(String, String, Vec<String>)> {
    let settings = state.settings.get();
    let mut changes = Vec::new();
    let secret = match settings.0.ussd.endpoint_secret.expose() {
        Some(s) => s.to_owned(),
        None => {
            let s = crate::crypto::random_token(24);
            changes.push((
                Category::Ussd,
                json!({"endpointSecret": s}),
                "development run: open the USSD endpoint to the local gateway simulator".to_owned(),
            ));
            s
        }
    };
    if settings.0.payments.momo_api_user.expose().is_none() {
        // the MoMo simulator's API user: generated once, kept in the (encrypted) payment settings
        let user = uuid::Uuid::new_v4().to_string();
        changes.push((
            Category::Payments,
            json!({
                "momoBaseUrl": format!("http://127.0.0.1:{MOMO_SIM_PORT}"),
                "momoApiUser": user,
                "momoApiKey": crate::crypto::random_token(24),
                "momoSubscriptionKey": MOMO_SIM_SUBSCRIPTION_KEY,
                "momoTargetEnvironment": "mtnrwanda",
                // the simulator calls back on this app (its API user's callback host is 127.0.0.1)
                "callbackBaseUrl": format!("http://127.0.0.1:{}", state.config.bind_addr.port()),
            }),
            "development run: pay through the local MoMo simulator".to_owned(),
        ));
    }
    if settings.0.ussd.africas_talking_api_key.expose().is_none() {
        // the AT simulator's SMS API: a key generated once, kept in the (encrypted) USSD settings;
        // the simulator is started with it (`spawn_at_sim`)
        changes.push((
            Category::Ussd,
            json!({
                "africasTalkingApiKey": crate::crypto::random_token(24),
                "africasTalkingUsername": AT_SIM_SMS_USERNAME,
                "africasTalkingBaseUrl": format!("http://127.0.0.1:{AT_SIM_PORT}"),
            }),
            "development run: send customer SMS through the local Africa's Talking simulator".to_owned(),
        ));
    }
    // one transaction: the first run's set-up is one change, reloaded (and logged) once
    apply_all_settings(state, changes).await?;
    let exists: bool = sqlx::query_scalar("select exists (select 1 from batches where name = $1)")
        .bind(DEMO_BATCH)
        .fetch_one(&state.pool)
        .await?;
    if !exists {
        let expires = (state.clock.now() + chrono::Duration::days(180))
            .format("%Y-%m-%d")
            .to_string();
        crate::codes::cli::generate(
            state,
            crate::codes::cli::Target::New(NewBatch {
                name: DEMO_BATCH.into(),
                description: "Codes to try the USSD flow with the local simulator".into(),
                total_codes: 120,
                amount_per_code: 1000,
                expires_at: expires,
                assigned_user_id: None,
                generate: false,
            }),
            120,
        )
        .await
        .context("creating the demo batch")?;
    }
    let codes: Vec<String> = sqlx::query_scalar(
        "select c.code from promo_codes c join batches b on b.id = c.batch_id \
         where b.name = $1 and c.status = 'active' order by c.serial limit 3",
    )
    .bind(DEMO_BATCH)
    .fetch_all(&state.pool)
    .await?;
    Ok((
        format!("{base}/api/v1/ussd/handle?secret={secret}"),
        format!("{base}/api/v1/webhooks/ussd/status?secret={secret}"),
        codes,
    ))
}

/// The `AT_SIM_*` variables the development run starts the Africa's Talking simulator with: the
/// app's USSD callbacks and SMS delivery-report URL, and the USSD settings' AT username and API
/// key for its SMS API.
pub fn at_sim_env(
    state: &AppState,
    app_url: &str,
    events_url: &str,
    service_code: &str,
) -> Vec<(&'static str, String)> {
    let settings = state.settings.get();
    let u = &settings.0.ussd;
    vec![
        ("AT_SIM_APP_URL", app_url.to_owned()),
        ("AT_SIM_EVENTS_URL", events_url.to_owned()),
        // the delivery reports go beside the session notifications, with the same secret
        (
            "AT_SIM_SMS_DELIVERY_URL",
            events_url.replacen("/webhooks/ussd/status", "/webhooks/ussd/delivery", 1),
        ),
        ("AT_SIM_SERVICE_CODE", service_code.to_owned()),
        ("AT_SIM_SMS_USERNAME", u.africas_talking_username.clone()),
        (
            "AT_SIM_SMS_API_KEY",
            u.africas_talking_api_key.expose().unwrap_or_default().to_owned(),
        ),
    ]
}

/// Starts the Africa's Talking simulator as a child process (killed when the app stops) with
/// [`at_sim_env`].
pub fn spawn_at_sim(
    state: &AppState,
    app_url: &str,
    events_url: &str,
    service_code: &str,
) -> anyhow::Result<tokio::process::Child> {
    let exe = std::env::current_exe().context("finding the mbelyco binary")?;
    tokio::process::Command::new(exe)
        .args(["simulate", "at", "--port", &AT_SIM_PORT.to_string()])
        .envs(at_sim_env(state, app_url, events_url, service_code))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the Africa's Talking simulator")
}

/// Starts the MoMo Disbursement simulator as a child process with the payment settings' API user,
/// its ledger under `data_dir`.
pub fn spawn_momo_sim(state: &AppState, data_dir: &std::path::Path) -> anyhow::Result<tokio::process::Child> {
    let settings = state.settings.get();
    let p = &settings.0.payments;
    let exe = std::env::current_exe().context("finding the mbelyco binary")?;
    tokio::process::Command::new(exe)
        .args(["simulate", "momo", "--port", &MOMO_SIM_PORT.to_string()])
        .env("MOMO_SIM_DATA_DIR", data_dir.join("momo-sim"))
        .env("MOMO_SIM_API_USER", p.momo_api_user.expose().unwrap_or_default())
        .env("MOMO_SIM_API_KEY", p.momo_api_key.expose().unwrap_or_default())
        .env(
            "MOMO_SIM_SUBSCRIPTION_KEY",
            p.momo_subscription_key.expose().unwrap_or(MOMO_SIM_SUBSCRIPTION_KEY),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the MoMo simulator")
}

/// `mbelyco simulate momo`: the Disbursement API (Rwanda: mtnrwanda, RWF), configured from
/// `MOMO_SIM_*` variables; the ledger survives restarts in `MOMO_SIM_DATA_DIR`.
pub async fn run_momo_sim(port: u16) -> anyhow::Result<()> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let mut config = simulators::momo::SimConfig::rwanda();
    config.subscription_key = var("MOMO_SIM_SUBSCRIPTION_KEY").unwrap_or_else(|| MOMO_SIM_SUBSCRIPTION_KEY.into());
    config.data_dir = var("MOMO_SIM_DATA_DIR").map(std::path::PathBuf::from);
    let millis = |k: &str| {
        var(k)
            .and_then(|v| v.parse::<u64>().ok())
            .map(std::time::Duration::from_millis)
    };
    if let Some(d) = millis("MOMO_SIM_SETTLE_MS") {
        config.settle_after = d;
    }
    if let Some(ms) = var("MOMO_SIM_LATENCY_MS").and_then(|v| v.parse().ok()) {
        config.faults.latency_ms = ms;
    }
    if let Some(b) = var("MOMO_SIM_BALANCE").and_then(|v| v.parse().ok()) {
        config.starting_balance = b;
    }
    match var("MOMO_SIM_CALLBACKS").as_deref() {
        Some("none") => config.callbacks = simulators::momo::CallbackMode::None,
        Some("mtn") => config.callbacks = simulators::momo::CallbackMode::mtn_schedule(),
        _ => {}
    }
    if let (Some(user), Some(key)) = (var("MOMO_SIM_API_USER"), var("MOMO_SIM_API_KEY")) {
        config = config.with_user(&user, &key, "127.0.0.1");
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} for the MoMo simulator"))?;
    simulators::momo::serve(config, listener)
        .await
        .map_err(|e| anyhow::anyhow!("MoMo simulator: {e}"))
}

/// The Africa's Talking simulator's configuration from `AT_SIM_*` variables looked up with `var`.
pub fn at_sim_config(var: impl Fn(&str) -> Option<String>) -> simulators::at::GatewayConfig {
    let var = |k: &str, d: &str| var(k).filter(|v| !v.is_empty()).unwrap_or_else(|| d.to_owned());
    let mut config =
        simulators::at::GatewayConfig::new(var("AT_SIM_APP_URL", "http://127.0.0.1:8080/api/v1/ussd/handle"))
            .with_events_url(var(
                "AT_SIM_EVENTS_URL",
                "http://127.0.0.1:8080/api/v1/webhooks/ussd/status",
            ));
    config.service_code = var("AT_SIM_SERVICE_CODE", "*789#");
    config.sms = simulators::at::SmsConfig::new(
        var("AT_SIM_SMS_USERNAME", AT_SIM_SMS_USERNAME),
        var("AT_SIM_SMS_API_KEY", simulators::at::SmsConfig::DEFAULT_API_KEY),
    );
    let delivery = var("AT_SIM_SMS_DELIVERY_URL", "");
    config.sms.delivery_reports_url = (!delivery.is_empty()).then_some(delivery);
    config.sms.delivery_status = var("AT_SIM_SMS_DELIVERY_STATUS", "Success");
    config
}

/// `mbelyco simulate at`: the web phone, the gateway and the SMS API, configured from `AT_SIM_*`
/// variables ([`at_sim_config`]).
pub async fn run_at_sim(port: u16) -> anyhow::Result<()> {
    let config = at_sim_config(|k| std::env::var(k).ok());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} for the USSD simulator"))?;
    simulators::at::serve(config, listener)
        .await
        .map_err(|e| anyhow::anyhow!("USSD simulator: {e}"))
}
