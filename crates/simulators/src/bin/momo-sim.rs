//! `momo-sim`: the MTN MoMo Disbursement API simulator for people and dev runs.
//!
//! `momo-sim serve --port 8091 --data-dir ./momo-sim-data` serves MoMo's API (point the app's
//! MoMo base URL at http://127.0.0.1:8091) and a control API under /sim/ (faults, top-up,
//! transfers, callbacks, statement.csv). The ledger in --data-dir survives restarts.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use simulators::momo::{self, CallbackMethod, CallbackMode, Faults, ReasonMode, SimConfig};

#[derive(Parser)]
#[command(name = "momo-sim", about = "MTN MoMo Disbursement API simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the Disbursement API and the /sim/ control API.
    Serve(Box<ServeArgs>),
}

#[derive(Clone, Copy, ValueEnum)]
enum Callbacks {
    None,
    Once,
    Retry,
}

#[derive(Clone, Copy, ValueEnum)]
enum Reason {
    Object,
    String,
    Omitted,
}

#[derive(Clone, Copy, ValueEnum)]
enum Method {
    Put,
    Post,
}

#[derive(clap::Args)]
struct ServeArgs {
    #[arg(long, env = "MOMO_SIM_PORT", default_value_t = 8091)]
    port: u16,
    /// Address to bind; keep it on loopback.
    #[arg(long, env = "MOMO_SIM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Where the ledger (momo-ledger.jsonl) lives; without it nothing survives a restart.
    #[arg(long, env = "MOMO_SIM_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// The Ocp-Apim-Subscription-Key accepted.
    #[arg(long, env = "MOMO_SIM_SUBSCRIPTION_KEY", default_value = "momo-sim-subscription-key")]
    subscription_key: String,
    /// X-Target-Environment accepted: sandbox, mtnrwanda, …
    #[arg(long, env = "MOMO_SIM_TARGET_ENVIRONMENT", default_value = "sandbox")]
    target_environment: String,
    /// The account's currency (sandbox EUR, Rwanda RWF).
    #[arg(long, env = "MOMO_SIM_CURRENCY", default_value = "EUR")]
    currency: String,
    /// A pre-provisioned API user (as from the partner portal); needs --api-key.
    #[arg(long, env = "MOMO_SIM_API_USER", requires = "api_key")]
    api_user: Option<String>,
    #[arg(long, env = "MOMO_SIM_API_KEY")]
    api_key: Option<String>,
    /// That user's registered callback host.
    #[arg(long, env = "MOMO_SIM_CALLBACK_HOST", default_value = "localhost")]
    callback_host: String,
    /// Opening balance of a new ledger.
    #[arg(long, default_value_t = 10_000_000)]
    balance: u64,
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// How long ordinary transfers stay PENDING.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// How long 46733123454 ("delayed") stays PENDING.
    #[arg(long, default_value_t = 30)]
    delayed_settle_secs: u64,
    #[arg(long, value_enum, default_value = "object")]
    reason: Reason,
    #[arg(long, value_enum, default_value = "once")]
    callbacks: Callbacks,
    /// Waits between callback retries with --callbacks retry, e.g. 1s*20,2m*30,1h*24 (MTN's).
    #[arg(long, default_value = "1s*20,2m*30,1h*24")]
    callback_schedule: String,
    #[arg(long, value_enum, default_value = "put")]
    callback_method: Method,
    /// Deliver callbacks this late (after the client's polls).
    #[arg(long, default_value_t = 0)]
    callback_delay_ms: u64,
    /// Deliver every callback twice.
    #[arg(long)]
    duplicate_callbacks: bool,
    /// Inactive account holders: exact MSISDNs or prefixes ending in * (e.g. 25072*).
    #[arg(long)]
    inactive: Vec<String>,
    /// Longest payerMessage/payeeNote accepted (MTN says 128 or 160).
    #[arg(long, default_value_t = 128)]
    note_max: usize,
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 0.0)]
    error_500_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    error_503_rate: f64,
    #[arg(long, default_value_t = 0.0)]
    rate_429: f64,
    /// Fraction of transfers recorded and then answered only after --hang-ms.
    #[arg(long, default_value_t = 0.0)]
    timeout_after_create_rate: f64,
    #[arg(long, default_value_t = 60_000)]
    hang_ms: u64,
    /// Fraction of transfers recorded and then answered by closing the connection.
    #[arg(long, default_value_t = 0.0)]
    drop_after_create_rate: f64,
    #[arg(long)]
    drop_callbacks: bool,
}

impl ServeArgs {
    fn config(self) -> anyhow::Result<SimConfig> {
        let mut config = SimConfig {
            subscription_key: self.subscription_key,
            target_environment: self.target_environment,
            currency: self.currency,
            token_ttl: Duration::from_secs(self.token_ttl_secs),
            settle_after: Duration::from_millis(self.settle_ms),
            delayed_settle_after: Duration::from_secs(self.delayed_settle_secs),
            starting_balance: self.balance,
            reason_mode: match self.reason {
                Reason::Object => ReasonMode::Object,
                Reason::String => ReasonMode::String,
                Reason::Omitted => ReasonMode::Omitted,
            },
            callbacks: match self.callbacks {
                Callbacks::None => CallbackMode::None,
                Callbacks::Once => CallbackMode::Once,
                Callbacks::Retry => {
                    CallbackMode::Retry(momo::parse_schedule(&self.callback_schedule).map_err(anyhow::Error::msg)?)
                }
            },
            callback_method: match self.callback_method {
                Method::Put => CallbackMethod::Put,
                Method::Post => CallbackMethod::Post,
            },
            callback_delay: Duration::from_millis(self.callback_delay_ms),
            duplicate_callbacks: self.duplicate_callbacks,
            inactive: self.inactive,
            note_max: self.note_max,
            data_dir: self.data_dir,
            faults: Faults {
                latency_ms: self.latency_ms,
                error_500_rate: self.error_500_rate,
                error_503_rate: self.error_503_rate,
                rate_429: self.rate_429,
                timeout_after_create_rate: self.timeout_after_create_rate,
                hang_ms: self.hang_ms,
                drop_after_create_rate: self.drop_after_create_rate,
                drop_callbacks: self.drop_callbacks,
            },
            ..SimConfig::default()
        };
        if let (Some(user), Some(key)) = (self.api_user, self.api_key) {
            config = config.with_user(&user, &key, &self.callback_host);
        }
        Ok(config)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => {
            let (host, port) = (args.host.clone(), args.port);
            let config = args.config()?;
            let listener = tokio::net::TcpListener::bind((host.as_str(), port))
                .await
                .with_context(|| format!("binding {host}:{port}"))?;
            println!(
                "momo-sim: MoMo Disbursement API on http://{} ({} / {})",
                listener.local_addr()?,
                config.target_environment,
                config.currency
            );
            momo::serve(config, listener).await?;
        }
    }
    Ok(())
}
