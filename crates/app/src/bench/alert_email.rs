//! `mbelyco bench alerts`, part 3: from an alert raised to its e-mail accepted by the SMTP server.
//!
//! An in-process SMTP server ([`super::smtp_sink`]) is the notification settings' mail server, and
//! every warning goes by e-mail to one address. `alerts` new alerts are raised evenly over
//! `seconds`, each in its own transaction as a rule would, while an in-process worker (the app's
//! job registry, `WORKER_CONCURRENCY` jobs at a time) sends them. The latency of each is from
//! just before its raise to the moment the server answered `250` to its message; the goal is
//! p99 <= 5 s.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::smtp_sink::{Mode, SmtpSink};
use crate::access::Permission;
use crate::alerts::{self, NewAlert, Severity};
use crate::config::Config;
use crate::jobs::{Worker, WorkerOptions};
use crate::web::AppState;

const GOAL: Duration = Duration::from_secs(5);
const TO: &str = "on-call@bench.mbelyco.test";

/// Runs the measure and prints its lines; true when it met the goal.
pub async fn run(config: &Config, state: &AppState, alerts: usize, seconds: u64) -> anyhow::Result<bool> {
    let sink = SmtpSink::start(Mode::Accept).await?;
    crate::devrun::apply_settings(
        state,
        crate::settings::Category::Notifications,
        serde_json::json!({
            "emailEnabled": true, "smtpHost": "127.0.0.1", "smtpPort": sink.port, "smtpSecurity": "none",
            "fromEmail": "promo@bench.mbelyco.test", "alertRecipients": {"emails": [TO], "phones": []},
            "alertRouting": {"warning": ["email"]},
        }),
        "bench",
    )
    .await?;
    let stop = CancellationToken::new();
    let worker = Arc::new(Worker::new(
        state.pool.clone(),
        crate::startup::registry(state),
        state.clock.clone(),
        WorkerOptions {
            worker_id: "bench-alert-email".into(),
            concurrency: config.worker_concurrency,
            ..WorkerOptions::default()
        },
    ));
    let running = tokio::spawn(Arc::clone(&worker).run(stop.clone()));
    println!(
        "e-mail latency: {alerts} alerts raised over {seconds} s, each e-mailed to one address through an in-process SMTP server …"
    );
    let alerts = alerts.max(1);
    let interval = Duration::from_secs_f64(seconds as f64 / alerts as f64);
    let started = Instant::now();
    let mut raised_at: HashMap<usize, Instant> = HashMap::with_capacity(alerts);
    let mut errors = 0usize;
    for k in 0..alerts {
        tokio::time::sleep_until((started + interval.mul_f64(k as f64)).into()).await;
        let alert = NewAlert::new(
            "bench.email",
            Severity::Warning,
            Permission::SystemAlertsView,
            format!("bench alert {k} of the e-mail latency"),
        )
        .dedupe(format!("bench.email:{k}"));
        let t = Instant::now();
        let done = async {
            let mut tx = state.pool.begin().await?;
            alerts::raise(&mut tx, &alert, state.clock.now()).await?;
            tx.commit().await
        }
        .await;
        match done {
            Ok(()) => {
                raised_at.insert(k, t);
            }
            Err(e) => {
                errors += 1;
                tracing::warn!(error = %e, "raising a bench alert failed");
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while sink.received().len() < raised_at.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    let _ = running.await;

    let mut latencies: Vec<f64> = sink
        .received()
        .iter()
        .filter_map(|m| {
            let k = number(&m.data)?;
            let at = raised_at.get(&k)?;
            Some(m.accepted_at.saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let missing = raised_at.len().saturating_sub(latencies.len());
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return f64::INFINITY;
        }
        let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let (p50, p99, max) = (pct(0.50), pct(0.99), latencies.last().copied().unwrap_or(f64::INFINITY));
    let pass = missing == 0 && errors == 0 && p99 <= GOAL.as_secs_f64() * 1000.0;
    println!(
        "  {} e-mails accepted of {} alerts raised ({missing} missing, {errors} raise errors) in {:.1} s",
        latencies.len(),
        raised_at.len(),
        started.elapsed().as_secs_f64()
    );
    println!("  raise → accepted by SMTP: p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms");
    println!(
        "  goal p99 <= {} s with every e-mail accepted: {}",
        GOAL.as_secs(),
        if pass { "PASS" } else { "MISS" }
    );
    Ok(pass)
}

/// `k` of "bench alert k of …" in a message.
fn number(data: &str) -> Option<usize> {
    let at = data.find("bench alert ")? + "bench alert ".len();
    let digits: String = data[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
