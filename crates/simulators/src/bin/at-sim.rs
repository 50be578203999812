//! `at-sim`: the Africa's Talking USSD gateway simulator for people.
//!
//! - `at-sim serve --port 8090`: a web phone at http://127.0.0.1:8090/
//! - `at-sim phone +250788123456`: a phone in the terminal (`cancel` or `q` hangs up)
//!
//! Both post to the app's callback (`--app-url`, AT_SIM_APP_URL) and notification URL
//! (`--events-url`, AT_SIM_EVENTS_URL). `serve` also answers AT's SMS API
//! (`POST /version1/messaging`) for `--sms-username`/`--sms-api-key`, and shows each number's
//! messages in the web phone's inbox.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use simulators::at::{self, DialOptions, Gateway, GatewayConfig, PrefillMode, Screen, ScreenKind, SmsConfig};
use tokio::io::{AsyncBufReadExt as _, BufReader};

#[derive(Parser)]
#[command(name = "at-sim", about = "Africa's Talking USSD gateway and SMS API simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the web phone and its JSON control API.
    Serve {
        #[arg(long, env = "AT_SIM_PORT", default_value_t = 8090)]
        port: u16,
        /// Address to bind; keep it on loopback.
        #[arg(long, env = "AT_SIM_HOST", default_value = "127.0.0.1")]
        host: String,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
    /// A phone in the terminal: prints each screen and reads your answers from stdin.
    Phone {
        /// The subscriber, E.164 with +.
        phone: String,
        /// networkCode: 63510 MTN Rwanda, 63514 Airtel Rwanda, 99999 AT sandbox.
        #[arg(long)]
        network: Option<String>,
        #[command(flatten)]
        gateway: GatewayArgs,
    },
}

#[derive(Args)]
struct GatewayArgs {
    /// The app's USSD session callback (with its ?secret=…).
    #[arg(
        long,
        env = "AT_SIM_APP_URL",
        default_value = "http://127.0.0.1:8080/api/v1/ussd/handle"
    )]
    app_url: String,
    /// The app's end-of-session notification URL.
    #[arg(
        long,
        env = "AT_SIM_EVENTS_URL",
        default_value = "http://127.0.0.1:8080/api/v1/webhooks/ussd/status"
    )]
    events_url: String,
    /// Send no end-of-session notifications.
    #[arg(long)]
    no_events: bool,
    #[arg(long, env = "AT_SIM_SERVICE_CODE", default_value = "*789#")]
    service_code: String,
    /// Default networkCode.
    #[arg(long, env = "AT_SIM_NETWORK", default_value = "63510")]
    network_code: String,
    /// Seconds the app has to answer a hop.
    #[arg(long, default_value_t = 10)]
    deadline_secs: u64,
    /// Seconds the subscriber may sit on a screen.
    #[arg(long, default_value_t = 60)]
    inactivity_secs: u64,
    /// Retries of a notification the app did not acknowledge with 200.
    #[arg(long, default_value_t = 3)]
    event_retries: u32,
    /// Fault: post every hop twice.
    #[arg(long)]
    duplicate: bool,
    /// Fault: dial with these inputs pre-filled, e.g. 1*2.
    #[arg(long)]
    extended_dial: Option<String>,
    /// Put pre-filled inputs in serviceCode (*789*1*2#) with an empty first text, instead of in text.
    #[arg(long)]
    prefill_in_service_code: bool,
    /// The username the SMS API accepts.
    #[arg(long, env = "AT_SIM_SMS_USERNAME", default_value = "sandbox")]
    sms_username: String,
    /// The apiKey header the SMS API accepts.
    #[arg(long, env = "AT_SIM_SMS_API_KEY", default_value = SmsConfig::DEFAULT_API_KEY)]
    sms_api_key: String,
    /// A sender ID or short code `from` may name (repeat for more); none accepts any.
    #[arg(long = "sms-sender-id")]
    sms_sender_ids: Vec<String>,
    /// Where SMS delivery reports go (the app's /api/v1/webhooks/ussd/delivery?secret=…); none
    /// sends none.
    #[arg(long, env = "AT_SIM_SMS_DELIVERY_URL")]
    sms_delivery_url: Option<String>,
    /// The status every delivery report gives: Success, Failed, Rejected, Buffered, …
    #[arg(long, env = "AT_SIM_SMS_DELIVERY_STATUS", default_value = "Success")]
    sms_delivery_status: String,
}

impl GatewayArgs {
    fn config(self) -> GatewayConfig {
        let mut config = GatewayConfig::new(self.app_url);
        config.events_url = (!self.no_events).then_some(self.events_url);
        config.service_code = self.service_code;
        config.network_code = self.network_code;
        config.response_deadline = Duration::from_secs(self.deadline_secs);
        config.inactivity_timeout = Duration::from_secs(self.inactivity_secs);
        config.event_retries = self.event_retries;
        config.duplicate_delivery = self.duplicate;
        config.extended_dial = self.extended_dial;
        if self.prefill_in_service_code {
            config.prefill_mode = PrefillMode::ServiceCode;
        }
        config.sms = SmsConfig {
            sender_ids: self.sms_sender_ids,
            delivery_reports_url: self.sms_delivery_url.filter(|u| !u.is_empty()),
            delivery_status: self.sms_delivery_status,
            ..SmsConfig::new(self.sms_username, self.sms_api_key)
        };
        config
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve { port, host, gateway } => {
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .with_context(|| format!("binding {host}:{port}"))?;
            let address = listener.local_addr()?;
            println!("at-sim: web phone on http://{address}/, SMS API at http://{address}/version1/messaging");
            at::serve(gateway.config(), listener).await?;
        }
        Command::Phone {
            phone,
            network,
            gateway,
        } => terminal_phone(&phone, network, gateway.config()).await?,
    }
    Ok(())
}

async fn terminal_phone(phone: &str, network: Option<String>, config: GatewayConfig) -> anyhow::Result<()> {
    let gateway = Gateway::new(config)?;
    println!("Dialling {} from {phone}…", gateway.config().service_code);
    let (session, mut screen) = gateway
        .dial_with(
            phone,
            DialOptions {
                network_code: network,
                ..DialOptions::default()
            },
        )
        .await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        print_screen(&screen);
        if !screen.is_open() {
            break;
        }
        let line = tokio::select! {
            line = lines.next_line() => line?,
            () = session.ended() => {
                println!("[session ended while you were typing]");
                break;
            }
        };
        match line.as_deref().map(str::trim) {
            None | Some("cancel" | "q") => {
                session.cancel();
                println!("[you hung up]");
                break;
            }
            Some(input) => match session.send(input).await {
                Ok(next) => screen = next,
                Err(error) => {
                    println!("[{error}]");
                    break;
                }
            },
        }
    }
    let snapshot = session.snapshot();
    println!(
        "Session {} ended: {} ({})",
        snapshot.id,
        snapshot.status.unwrap_or_default(),
        snapshot.end_reason.unwrap_or_default()
    );
    if let Some(delivery) = session.event_delivery().await {
        let attempts: Vec<String> = delivery
            .attempts
            .iter()
            .map(|attempt| {
                attempt
                    .status
                    .map_or_else(|| attempt.error.clone().unwrap_or_default(), |s| s.to_string())
            })
            .collect();
        let outcome = if delivery.delivered {
            "delivered"
        } else {
            "NOT delivered"
        };
        println!("Notification {outcome} (attempts: {})", attempts.join(", "));
    }
    Ok(())
}

fn print_screen(screen: &Screen) {
    let label = match screen.kind {
        ScreenKind::Con => "CON",
        ScreenKind::End => "END",
        ScreenKind::Error => "ERROR",
    };
    let cost = screen
        .check
        .as_ref()
        .map(|check| format!(", {} chars {:?}", check.chars, check.encoding))
        .unwrap_or_default();
    println!("\n+---- {label} (hop {}{cost}) ----", screen.hop);
    for line in screen.text.lines() {
        println!("| {line}");
    }
    println!("+----");
    for violation in &screen.violations {
        let level = if violation.is_fatal() { "FATAL" } else { "warning" };
        println!("  {level}: {violation}");
    }
    if let Some(duplicate) = &screen.duplicate {
        if duplicate.identical {
            println!("  duplicate delivery: identical answer");
        } else {
            println!("  duplicate delivery: different answer: {}", duplicate.second_answer);
        }
    }
    if screen.is_open() {
        println!("Answer (cancel or q to hang up):");
    }
}
