//! `mbelyco codes generate|export` for operators who script: the same domain functions as the
//! web (batch rules, generation rounds, the chain-of-custody record), with progress lines.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use super::export::{self, Format};
use super::format::Alphabet;
use super::generate;
use crate::audit::{Actor, RequestMeta};
use crate::batches::{self, NewBatch};
use crate::unit::Acting;
use crate::web::AppState;

/// Finds a batch by id, exact name or batch number.
pub async fn find_batch(pool: &PgPool, key: &str) -> anyhow::Result<Option<Uuid>> {
    if let Ok(id) = key.parse::<Uuid>() {
        return Ok(Some(id));
    }
    Ok(
        sqlx::query_scalar("select id from batches where name = $1 or batch_number::text = $1")
            .bind(key)
            .fetch_optional(pool)
            .await?,
    )
}

fn cli_meta() -> RequestMeta {
    RequestMeta {
        user_agent: Some("mbelyco-cli".into()),
        ..Default::default()
    }
}

/// What `codes generate` was asked to do.
pub enum Target {
    Existing(String),
    New(NewBatch),
}

/// Creates the batch (or finds it), checks the quantity limit, and generates `count` codes in
/// rounds, printing a line per round. Returns the batch id.
pub async fn generate(state: &AppState, target: Target, count: i64) -> anyhow::Result<Uuid> {
    let settings = state.settings.get();
    let now = state.clock.now();
    let batch_id = match target {
        Target::Existing(key) => find_batch(&state.pool, &key)
            .await?
            .with_context(|| format!("no batch with the id, name or number `{key}`"))?,
        Target::New(new) => {
            let mut unit = state.unit().await?;
            let (batch, _) = batches::create(
                &mut unit,
                &settings.0,
                &new,
                &Acting::new(Actor::System, cli_meta(), now),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{}", crate::error::describe(&e)))?;
            unit.commit().await?;
            println!("created batch {} \"{}\" ({})", batch.batch_number, batch.name, batch.id);
            batch.id
        }
    };
    // the top-up's rules, as the API and the page apply them (the CLI then generates in place)
    let mut conn = state.pool.acquire().await?;
    let t = batches::topup::TopUp { batch_id, count };
    match batches::topup::check(&mut conn, &settings.0, &t).await {
        Ok(_) => {}
        Err(crate::error::AppError::Validation(errors)) if errors.iter().any(|e| e.field == "count") => {
            let why = errors.iter().find(|e| e.field == "count").map(|e| e.message.clone());
            anyhow::bail!("--count {}", why.unwrap_or_default());
        }
        Err(e) => anyhow::bail!("{}", crate::error::describe(&e)),
    }
    drop(conn);
    let cg = &settings.0.business.code_generation;
    let alphabet = Alphabet::new(&cg.character_set).map_err(anyhow::Error::msg)?;
    let checksum = generate::batch_checks(&state.pool, batch_id).await?;
    let started = Instant::now();
    let summary = generate::run(
        &state.pool,
        generate::Spec {
            batch_id,
            actor: Actor::System,
            alphabet,
            checksum,
            now,
        },
        count,
        |done, total| async move {
            println!(
                "  generated {done:>9} / {total} ({:.0} %) in {:.1} s",
                100.0 * done as f64 / total as f64,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        },
    )
    .await?;
    println!(
        "generated {} codes, serials {}–{}, {} collisions made again, in {:.2} s; the worker indexes them for search",
        summary.generated,
        summary.first_serial,
        summary.last_serial,
        summary.collisions_regenerated,
        started.elapsed().as_secs_f64()
    );
    Ok(batch_id)
}

/// Exports a batch to `out` (or `<Batch Name>_<timestamp>.<ext>` in the current directory),
/// recorded in the chain of custody like a web download. Returns the path written.
pub async fn export(
    state: &AppState,
    batch: &str,
    format: &str,
    serial_from: Option<i32>,
    serial_to: Option<i32>,
    out: Option<std::path::PathBuf>,
) -> anyhow::Result<std::path::PathBuf> {
    let batch_id = find_batch(&state.pool, batch).await?;
    let req = export::Request::parse(Some(format), batch_id, serial_from, serial_to)
        .map_err(|e| anyhow::anyhow!("{}", crate::error::describe(&e)))?;
    let settings = state.settings.get();
    let now = state.clock.now();
    let mut unit = state.unit().await?;
    let b = batches::get(&mut unit, req.batch_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", crate::error::describe(&e)))?;
    let count = export::record(&mut unit, &req, &Acting::new(Actor::System, cli_meta(), now))
        .await
        .map_err(|e| anyhow::anyhow!("{}", crate::error::describe(&e)))?;
    unit.commit().await?;
    let path = out.unwrap_or_else(|| export::file_name(&b, req.format, now).into());
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("cannot write {}", path.display()))?,
    );
    println!(
        "exporting {count} codes of batch {} \"{}\" as {} to {}",
        b.batch_number,
        b.name,
        req.format.key(),
        path.display()
    );
    let started = Instant::now();
    let mut chunks = export::stream(state.pool.clone(), req, export::sheet_info(&settings.0, &b), count);
    let (mut bytes, mut next_report) = (0usize, 0usize);
    while let Some(chunk) = chunks.recv().await {
        let chunk = chunk?;
        file.write_all(&chunk)?;
        bytes += chunk.len();
        if bytes >= next_report {
            println!("  written {:.1} MB", bytes as f64 / 1e6);
            next_report = bytes + 10_000_000;
        }
    }
    file.flush()?;
    let what = match req.format {
        Format::Csv => format!("{count} rows"),
        Format::Pdf => format!("{} pages", super::pdf::page_count(count as usize)),
    };
    println!(
        "wrote {} ({what}, {:.1} MB) in {:.2} s",
        path.display(),
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}
