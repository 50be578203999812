//! The command line: every `mbelyco` command and its arguments (clap). `main.rs` runs them.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "mbelyco",
    version,
    about = "MBELYCO Promo: promo codes, USSD redemption, MoMo payouts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Web server and worker in one process (the default).
    Run,
    /// Web server only.
    Serve,
    /// Background worker only (jobs, audit sealing, schedules).
    Worker,
    /// Create the database if missing and apply migrations, then exit.
    Migrate,
    /// Create a staff user with the Super Administrator role.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Administrator")]
        name: String,
        /// Read the password from standard input (otherwise ADMIN_PASSWORD, otherwise generated).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Mint an API key for a staff member (shown once), acting with one of their roles: for
    /// scripts and integrations set up from the server (the panel's API keys page does the same).
    CreateApiKey {
        /// The owner's e-mail.
        #[arg(long)]
        email: String,
        /// What the key is for.
        #[arg(long)]
        name: String,
        /// The role the key acts with (one the owner holds).
        #[arg(long, default_value = "Super Administrator")]
        role: String,
        /// Days until it expires (at most 366).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Audit log tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Database backups: make, list, verify (by a restore), restore.
    Backup {
        #[command(subcommand)]
        command: mbelyco::backup::cli::BackupCommand,
    },
    /// Promo code tools.
    Codes {
        #[command(subcommand)]
        command: CodesCommand,
    },
    /// Run a gateway simulator (the development run starts it beside the app).
    Simulate {
        #[command(subcommand)]
        command: SimulateCommand,
    },
    /// Print the OpenAPI 3.1 document of the API (what `/api/v1/openapi.json` serves).
    Openapi,
    /// Benchmarks that print their figures.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
pub enum SimulateCommand {
    /// Africa's Talking USSD gateway with a web phone (AT_SIM_APP_URL, AT_SIM_EVENTS_URL).
    At {
        #[arg(long, default_value_t = mbelyco::devrun::AT_SIM_PORT)]
        port: u16,
    },
    /// MTN MoMo Disbursement API (MOMO_SIM_API_USER, MOMO_SIM_API_KEY, MOMO_SIM_DATA_DIR).
    Momo {
        #[arg(long, default_value_t = mbelyco::devrun::MOMO_SIM_PORT)]
        port: u16,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; exit 1 and name the first broken row if it was tampered with. With
    /// `--file`, check a JSON-lines export offline instead (no database needed).
    Verify {
        /// An export from the panel (`format=jsonl`): recompute every row's hash and link.
        #[arg(long)]
        file: Option<std::path::PathBuf>,
    },
    /// Seal pending rows into the chain now.
    Seal,
}

#[derive(Subcommand)]
pub enum CodesCommand {
    /// Generate codes into a batch (`--batch`), or into a new batch (`--new-batch` with
    /// `--amount` and `--expires`), with a progress line per round.
    Generate {
        /// An existing batch: its id, name or number (a top-up within the batch maximum).
        #[arg(long, conflicts_with = "new_batch")]
        batch: Option<String>,
        /// The name of a new batch to create first.
        #[arg(long, requires_all = ["amount", "expires"])]
        new_batch: Option<String>,
        /// Amount per code in whole RWF (new batch).
        #[arg(long)]
        amount: Option<i64>,
        /// Expiry date (new batch), e.g. 2027-06-30 (end of that day, Kigali time).
        #[arg(long)]
        expires: Option<String>,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long)]
        count: i64,
    },
    /// Export a batch's codes as CSV or printable PDF sheets, in serial order (recorded in the
    /// batch's chain of custody).
    Export {
        /// The batch: its id, name or number.
        #[arg(long)]
        batch: String,
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        serial_from: Option<i32>,
        #[arg(long)]
        serial_to: Option<i32>,
        /// Output file (default `<Batch Name>_<timestamp>.<ext>` here).
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Import codes from a CSV file (header `code`, optional `amount`) into an active batch.
    /// Exits 1 when nothing was imported.
    Import {
        /// The batch: its id, name or number.
        #[arg(long)]
        batch: String,
        #[arg(long)]
        file: std::path::PathBuf,
        /// `all_or_nothing` (any bad line: import nothing) or `valid_rows`.
        #[arg(long, default_value = "all_or_nothing")]
        mode: String,
    },
}

#[derive(Subcommand)]
pub enum BenchCommand {
    /// A backup and its verified restore of a database holding `--codes` codes: time and size,
    /// PASS/MISS of backup + verified restore against the `--frequency` interval (scratch database).
    Backup {
        #[arg(long, default_value_t = 10_000_000)]
        codes: i64,
        #[arg(long, default_value = "hourly")]
        frequency: String,
    },
    /// Audit append throughput with concurrent writers, and `audit verify` over many rows.
    /// Runs in a scratch database that it drops afterwards.
    Audit {
        #[arg(long, default_value_t = 32)]
        writers: usize,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 1_000_000)]
        verify_rows: usize,
        /// Rows the viewer's search runs over (written set-based after the chain figures).
        #[arg(long, default_value_t = 10_000_000)]
        search_rows: usize,
    },
    /// Sustained USSD redemptions over HTTP, and the same load on /api/health.
    Ussd {
        #[arg(long, default_value_t = 32)]
        connections: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// With the rollup triggers disabled in the scratch database.
        #[arg(long)]
        without_rollups: bool,
        /// With and without the rollup triggers alternately (`--rounds` pairs of `--seconds`
        /// runs): both rates, their ratio and PASS/MISS against a cost of at most 5 %.
        #[arg(long, conflicts_with = "without_rollups")]
        rollups_compare: bool,
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// The alert rules: a flood of wrong codes through the USSD endpoint (exactly one open alert
    /// per phone), `bench ussd`'s redemptions with and without the rule evaluator (within 5 %),
    /// and the e-mail latency of alert delivery (raise → accepted by SMTP, p99 <= 5 s).
    Alerts {
        /// Only the e-mail latency (skip the flood and the redemption load).
        #[arg(long)]
        email_only: bool,
        /// alerts raised for the e-mail latency
        #[arg(long, default_value_t = 1_000)]
        email_alerts: usize,
        /// seconds those alerts are spread over
        #[arg(long, default_value_t = 60)]
        email_seconds: u64,
        /// phones the flood comes from
        #[arg(long, default_value_t = 100)]
        phones: usize,
        /// wrong-code attempts in the flood
        #[arg(long, default_value_t = 10_000)]
        attempts: usize,
        /// seconds the flood is spread over
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// connections of the redemption load
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// seconds of each redemption run
        #[arg(long, default_value_t = 20)]
        load_seconds: u64,
        /// pairs of redemption runs, with and without the evaluator
        #[arg(long, default_value_t = 2)]
        rounds: usize,
    },
    /// Payouts end to end (redemption committed → SUCCESSFUL recorded) through the worker and
    /// the MoMo simulator: at once, then with 200 ms MoMo latency and default settings.
    Payouts {
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// redemptions committed per second in the first run
        #[arg(long, default_value_t = 330)]
        rate: u32,
        /// … and in the second (200 ms) run
        #[arg(long, default_value_t = 115)]
        slow_rate: u32,
    },
    /// A saved setting reaching separate `serve` and `worker` processes (goal: within 2 s).
    Settings {
        #[arg(long, default_value_t = 30)]
        changes: usize,
    },
    /// Code generation next to existing codes (vs a plain COPY) and the CSV export.
    Codes {
        #[arg(long, default_value_t = 1_000_000)]
        codes: i64,
    },
    /// Partial-code search p50/p95 and one batch's statistics with many codes stored
    /// (default 10 batches of 1,000,000), filled through the real generation path.
    Search {
        #[arg(long, default_value_t = 10)]
        batches: i64,
        #[arg(long, default_value_t = 1_000_000)]
        per_batch: i64,
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// keep the filled scratch database afterwards (its name is printed)
        #[arg(long)]
        keep: bool,
        /// time the searches in a database an earlier `--keep` run filled, instead of filling one
        #[arg(long, value_name = "DATABASE")]
        reuse: Option<String>,
    },
    /// The dashboard's data endpoint and page (p95 over `requests` each) with a campaign of
    /// 10,000,000 codes, 1,000,000 redemptions and 1,000,000 payouts stored (`--scale 100` for
    /// a hundredth of it), seeded straight into the tables.
    Dashboard {
        /// divide every size of the full campaign by this
        #[arg(long, default_value_t = 1)]
        scale: i64,
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// keep the filled scratch database afterwards (its name is printed)
        #[arg(long)]
        keep: bool,
        /// time the requests in a database an earlier `--keep` run filled, instead of filling one
        #[arg(long, value_name = "DATABASE")]
        reuse: Option<String>,
    },
    /// The financial report over 1,000,000 payouts (`--scale 100` for a hundredth): its CSV and
    /// a 50-page branded PDF with charts, against 2 s each.
    Reports {
        /// divide every size of the full campaign by this
        #[arg(long, default_value_t = 1)]
        scale: i64,
        /// keep the filled scratch database afterwards (its name is printed)
        #[arg(long)]
        keep: bool,
        /// time the report in a database an earlier `--keep` run filled, instead of filling one
        #[arg(long, value_name = "DATABASE")]
        reuse: Option<String>,
    },
    /// The PDF layout of printable sheets: time and peak memory.
    Pdf {
        #[arg(long, default_value_t = 100_000)]
        codes: usize,
    },
    /// A CSV import with full validation into a database that already holds codes.
    Import {
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 1_000_000)]
        existing: i64,
    },
}
