//! The `mbelyco` binary: one program, several roles.

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use mbelyco::config::Config;
use mbelyco::{audit, bench, clock, identity, startup, telemetry};

mod args;

use args::*;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // an auditor checks an export on their own machine: no configuration, no database
    if let Some(Command::Audit {
        command: AuditCommand::Verify { file: Some(file) },
    }) = &cli.command
    {
        return verify_export_file(file);
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mbelyco: {e}");
            return ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Run);
    if matches!(command, Command::Run | Command::Serve) {
        if let Err(e) = config.check_serving() {
            eprintln!("mbelyco: {e}");
            return ExitCode::from(2);
        }
    }
    telemetry::init(&config.log_filter, config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("mbelyco: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mbelyco: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    let clock = clock::system();
    match command {
        Command::Run | Command::Serve | Command::Worker => {
            let web = !matches!(command, Command::Worker);
            let worker = !matches!(command, Command::Serve);
            let bind = config.bind_addr;
            let base = config.public_base_url.clone();
            let simulators = web && config.simulators;
            let data_dir = config.data_dir.clone();
            let prepared = startup::prepare(config, clock).await?;
            let state = prepared.state;
            let shutdown = CancellationToken::new();
            let role = match command {
                Command::Serve => mbelyco::settings::ProcessRole::Serve,
                Command::Worker => mbelyco::settings::ProcessRole::Worker,
                _ => mbelyco::settings::ProcessRole::Run,
            };
            let watcher = state.settings.spawn_watcher(role, shutdown.clone());
            let _templates_watcher = state.templates.spawn_watcher(shutdown.clone());
            let mut tasks = tokio::task::JoinSet::new();
            if web {
                let listener = tokio::net::TcpListener::bind(bind)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot listen on {bind} (BIND_ADDR): {e}"))?;
                tasks.spawn(startup::serve(state.clone(), listener, shutdown.clone()));
                println!("MBELYCO Promo is running at {base}  (Ctrl-C to stop)");
            }
            // kept until the app stops: dropping them stops the simulators
            let mut _at_sim = None;
            let mut _momo_sim = None;
            if simulators {
                let (app_url, events_url, codes) = mbelyco::devrun::prepare(&state, &base).await?;
                let service_code = state.settings.get().0.ussd.service_code.clone();
                _at_sim = Some(mbelyco::devrun::spawn_at_sim(
                    &state,
                    &app_url,
                    &events_url,
                    &service_code,
                )?);
                println!(
                    "USSD simulator (Africa's Talking): http://127.0.0.1:{}  dial {service_code} as +250788123456; payout SMS arrive in its inbox",
                    mbelyco::devrun::AT_SIM_PORT
                );
                if !codes.is_empty() {
                    println!("  demo codes to redeem: {}", codes.join("  "));
                }
                _momo_sim = Some(mbelyco::devrun::spawn_momo_sim(&state, &data_dir)?);
                println!(
                    "MoMo Disbursement simulator: http://127.0.0.1:{}  (statement: /sim/statement.csv)",
                    mbelyco::devrun::MOMO_SIM_PORT
                );
            }
            if worker {
                tasks.spawn(startup::run_worker(state.clone(), shutdown.clone()));
                if !web {
                    println!("MBELYCO Promo worker is running  (Ctrl-C to stop)");
                }
            }
            let stop = shutdown.clone();
            tokio::spawn(async move {
                startup::shutdown_signal().await;
                stop.cancel();
            });
            let mut failed = false;
            while let Some(r) = tasks.join_next().await {
                let err = match r {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(e) => Some(anyhow::Error::from(e)),
                };
                if let Some(e) = err {
                    eprintln!("mbelyco: {e:#}");
                    failed = true;
                    shutdown.cancel();
                }
            }
            shutdown.cancel();
            let _ = watcher.await;
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Command::Openapi => {
            println!("{}", *mbelyco::web::openapi::DOCUMENT_JSON);
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            command: SimulateCommand::At { port },
        } => {
            mbelyco::devrun::run_at_sim(port).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Simulate {
            command: SimulateCommand::Momo { port },
        } => {
            mbelyco::devrun::run_momo_sim(port).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            if mbelyco::db::ensure_database(&config).await? {
                println!("created the database");
            }
            let pool = mbelyco::db::connect(&config).await?;
            mbelyco::db::migrate(&pool).await?;
            let status = mbelyco::db::migration_status(&pool).await?;
            println!("migrations: {} of {} applied", status.applied, status.embedded);
            Ok(ExitCode::SUCCESS)
        }
        Command::CreateAdmin {
            email,
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                Some(SecretString::from(s.trim_end_matches(['\r', '\n']).to_owned()))
            } else {
                config.admin_password.clone()
            };
            let generated = password.is_none();
            let password = password.unwrap_or_else(identity::password::generate);
            if secrecy::ExposeSecret::expose_secret(&password).chars().count() < 12 {
                eprintln!("mbelyco: the password must be at least 12 characters");
                return Ok(ExitCode::from(2));
            }
            let prepared = startup::prepare(config, clock.clone()).await?;
            let mut tx = prepared.state.pool.begin().await?;
            let new = identity::NewStaff {
                email: &email,
                full_name: &name,
                password: Some(&password),
                roles: &[mbelyco::access::SUPER_ADMIN],
            };
            match identity::create_staff(&mut tx, &new, &mbelyco::unit::Acting::system(clock.now())).await {
                Ok(id) => {
                    tx.commit().await?;
                    println!("created Super Administrator {email} ({id})");
                    if generated {
                        println!(
                            "password (shown once): {}",
                            secrecy::ExposeSecret::expose_secret(&password)
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("mbelyco: {}", mbelyco::error::describe(&e));
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::CreateApiKey {
            email,
            name,
            role,
            days,
        } => {
            let pool = mbelyco::db::connect(&config).await?;
            let acting = mbelyco::unit::Acting::system(clock.now());
            let mut tx = pool.begin().await?;
            match identity::api_keys::create_for(&mut tx, &email, &name, &role, days, &acting).await {
                Ok(key) => {
                    tx.commit().await?;
                    println!("{}", key.key);
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("mbelyco: {}", mbelyco::error::describe(&e));
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Backup { command } => mbelyco::backup::cli::run(&config, clock.clone(), command).await,
        Command::Audit { command } => {
            let pool = mbelyco::db::connect(&config).await?;
            match command {
                AuditCommand::Seal => {
                    let n = audit::chain::seal_pending(&pool, clock.now(), audit::chain::DEFAULT_SEAL_BATCH).await?;
                    println!("sealed {n} rows");
                    Ok(ExitCode::SUCCESS)
                }
                AuditCommand::Verify { .. } => {
                    let started = std::time::Instant::now();
                    let report = audit::chain::verify(&pool).await?;
                    let secs = started.elapsed().as_secs_f64();
                    println!(
                        "checked {} rows ({} chain heads) in {secs:.2} s; {} rows not yet sealed",
                        report.checked, report.heads_checked, report.unsealed
                    );
                    match report.first_break {
                        None => {
                            println!("audit chain intact");
                            Ok(ExitCode::SUCCESS)
                        }
                        Some(b) => {
                            let id = b.id.map(|i| i.to_string()).unwrap_or_else(|| "-".to_owned());
                            println!(
                                "TAMPERING DETECTED at chain position {} (row {id}): {}",
                                b.chain_seq, b.reason
                            );
                            Ok(ExitCode::FAILURE)
                        }
                    }
                }
            }
        }
        Command::Bench {
            command:
                BenchCommand::Audit {
                    writers,
                    rows,
                    verify_rows,
                    search_rows,
                },
        } => {
            bench::audit(&config, writers, rows, verify_rows, search_rows).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Ussd {
                    connections,
                    seconds,
                    without_rollups,
                    rollups_compare,
                    rounds,
                },
        } => {
            use mbelyco::bench::ussd::Rollups;
            let rollups = match (rollups_compare, without_rollups) {
                (true, _) => Rollups::Compare { rounds },
                (false, true) => Rollups::Without,
                (false, false) => Rollups::With,
            };
            mbelyco::bench::ussd::run(&config, connections, seconds, rollups).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Payouts {
                    seconds,
                    rate,
                    slow_rate,
                },
        } => {
            mbelyco::bench::payouts::run(&config, seconds, rate, slow_rate).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Settings { changes },
        } => {
            mbelyco::bench::settings::run(&config, changes.max(1)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Codes { codes },
        } => {
            bench::codes(&config, codes).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Search {
                    batches,
                    per_batch,
                    queries,
                    keep,
                    reuse,
                },
        } => {
            bench::search(&config, batches, per_batch, queries, keep, reuse.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Backup { codes, frequency },
        } => {
            mbelyco::bench::backup::run(&config, codes, &frequency).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Dashboard {
                    scale,
                    requests,
                    keep,
                    reuse,
                },
        } => {
            mbelyco::bench::dashboard::run(&config, scale, requests, keep, reuse.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command:
                BenchCommand::Alerts {
                    email_only,
                    email_alerts,
                    email_seconds,
                    phones,
                    attempts,
                    seconds,
                    connections,
                    load_seconds,
                    rounds,
                },
        } => {
            let o = mbelyco::bench::alerts::Options {
                email_only,
                email_alerts,
                email_seconds,
                phones,
                attempts,
                seconds,
                connections,
                load_seconds,
                rounds,
            };
            mbelyco::bench::alerts::run(&config, o).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Reports { scale, keep, reuse },
        } => {
            mbelyco::bench::reports::run(&config, scale, keep, reuse.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Pdf { codes },
        } => {
            bench::pdf(codes)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            command: BenchCommand::Import { rows, existing },
        } => {
            bench::import(&config, rows, existing).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Codes {
            command: CodesCommand::Import { batch, file, mode },
        } => codes_import(config, clock, &batch, &file, &mode).await,
        Command::Codes {
            command:
                CodesCommand::Generate {
                    batch,
                    new_batch,
                    amount,
                    expires,
                    description,
                    count,
                },
        } => {
            use mbelyco::codes::cli::{self, Target};
            let target = match (batch, new_batch) {
                (Some(b), _) => Target::Existing(b),
                (None, Some(name)) => Target::New(mbelyco::batches::NewBatch {
                    name,
                    description,
                    total_codes: count,
                    amount_per_code: amount.unwrap_or_default(),
                    expires_at: expires.unwrap_or_default(),
                    assigned_user_id: None,
                    generate: false,
                }),
                (None, None) => {
                    eprintln!(
                        "mbelyco: give --batch (an existing batch) or --new-batch NAME --amount A --expires DATE"
                    );
                    return Ok(ExitCode::from(2));
                }
            };
            let prepared = startup::prepare(config, clock).await?;
            match cli::generate(&prepared.state, target, count).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("mbelyco: {e:#}");
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Codes {
            command:
                CodesCommand::Export {
                    batch,
                    format,
                    serial_from,
                    serial_to,
                    out,
                },
        } => {
            let prepared = startup::prepare(config, clock).await?;
            match mbelyco::codes::cli::export(&prepared.state, &batch, &format, serial_from, serial_to, out).await {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("mbelyco: {e:#}");
                    Ok(ExitCode::from(2))
                }
            }
        }
    }
}

/// `mbelyco codes import`: progress lines, the summary and the first rejected lines.
async fn codes_import(
    config: Config,
    clock: clock::SharedClock,
    batch: &str,
    file: &std::path::Path,
    mode: &str,
) -> anyhow::Result<ExitCode> {
    use mbelyco::codes::import::{self, Mode, Progress, Upload};
    let Some(mode) = Mode::parse(mode) else {
        eprintln!("mbelyco: --mode must be all_or_nothing or valid_rows");
        return Ok(ExitCode::from(2));
    };
    let data = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    println!("read {} bytes from {}", data.len(), file.display());
    let prepared = startup::prepare(config, clock.clone()).await?;
    let state = prepared.state;
    let batch_id = mbelyco::codes::cli::find_batch(&state.pool, batch).await?;
    let Some(batch_id) = batch_id else {
        eprintln!("mbelyco: no batch with the id, name or number `{batch}`");
        return Ok(ExitCode::from(2));
    };
    let file_name = import::clip(
        &file
            .file_name()
            .map_or_else(|| "upload.csv".into(), |n| n.to_string_lossy()),
    );
    let settings = state.settings.get();
    let started = std::time::Instant::now();
    let mut progress = |p: Progress| match p {
        Progress::Read(n) => println!("  rows read: {n}"),
        Progress::Validated { valid, rejected } => println!("  validated: {valid} valid, {rejected} rejected"),
        Progress::Inserted(n) => println!("  inserted: {n}"),
    };
    let mut tx = state.pool.begin().await?;
    let up = Upload {
        batch_id,
        file_name: &file_name,
        mode,
        data: &data,
    };
    let summary = match import::import(
        &mut tx,
        &settings.0,
        up,
        audit::Actor::System,
        Default::default(),
        clock.now(),
        &mut progress,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mbelyco: {}", mbelyco::error::describe(&e));
            return Ok(ExitCode::from(2));
        }
    };
    tx.commit().await?;
    let mut conn = state.pool.acquire().await?;
    let lines = import::errors(&mut conn, summary.id, 20).await?;
    println!(
        "import {}: {} — {} line(s), {} accepted, {} rejected{} in {:.2} s",
        summary.id,
        summary.status,
        summary.total_rows,
        summary.accepted,
        summary.rejected,
        match (summary.serial_from, summary.serial_to) {
            (Some(f), Some(t)) => format!(", serials {f}–{t}"),
            _ => String::new(),
        },
        started.elapsed().as_secs_f64()
    );
    for l in &lines {
        println!("  line {}: {} — {}", l.line, l.value, l.reason);
    }
    if i64::from(summary.rejected) > lines.len() as i64 {
        println!(
            "  … the full report: GET {}",
            mbelyco::codes::import_api::report_url(summary.id)
        );
    }
    Ok(if summary.accepted > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `mbelyco audit verify --file export.jsonl` (or a retention archive, `….jsonl.gz`): recomputes
/// every row's hash and link of an export; exit 0 with the rows' range, or 1 naming the first row
/// that fails.
fn verify_export_file(path: &std::path::Path) -> ExitCode {
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mbelyco: cannot read {}: {e}", path.display());
            return ExitCode::from(2);
        }
    };
    // an archive of the retention job is gzip'd (`.jsonl.gz`): read through it
    let reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    match audit::export::verify_export(std::io::BufReader::new(reader)) {
        Err(e) => {
            eprintln!("mbelyco: cannot read {}: {e}", path.display());
            ExitCode::from(2)
        }
        Ok(Ok(r)) => {
            println!(
                "OK: {} rows, chain positions {} to {}{}",
                r.rows,
                r.first_seq,
                r.last_seq,
                if r.gaps > 0 {
                    format!(
                        " ({} gaps: a filtered export; each row still checks against the hash it follows)",
                        r.gaps
                    )
                } else {
                    String::new()
                }
            );
            println!(
                "last hash {} — it matches the head hash on the panel when the export reaches the chain's head",
                r.last_hash
            );
            ExitCode::SUCCESS
        }
        Ok(Err(b)) => {
            println!("FAILED at {b}");
            ExitCode::FAILURE
        }
    }
}
