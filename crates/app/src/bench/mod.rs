//! `mbelyco bench …`: benchmarks that print their figures. Each runs in a scratch database on
//! the configured server and drops it afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod payouts;
pub mod ussd;

use anyhow::Context;
use secrecy::ExposeSecret;
use serde_json::json;
use sqlx::migrate::MigrateDatabase;
use sqlx::{PgPool, Postgres};

use crate::audit::{self, chain, Action, Actor, AuditEvent};
use crate::clock::{self, SharedClock};
use crate::config::{database_name, Config};

struct Scratch {
    url: String,
    pool: PgPool,
}

async fn scratch(config: &Config, tag: &str, connections: u32) -> anyhow::Result<Scratch> {
    let base = config.database_url.expose_secret();
    let name = database_name(base).context("DATABASE_URL names no database")?;
    let scratch_name = format!("{name}_bench_{tag}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let url = base.replacen(&format!("/{name}"), &format!("/{scratch_name}"), 1);
    Postgres::create_database(&url)
        .await
        .context("cannot create the scratch database")?;
    let pool = crate::db::connect_url(&url, connections).await?;
    crate::db::migrate(&pool).await?;
    println!("scratch database {scratch_name} created and migrated");
    Ok(Scratch { url, pool })
}

/// A database an earlier run kept (`--keep`), reopened without migrating or filling it.
async fn reopen(config: &Config, name: &str, connections: u32) -> anyhow::Result<Scratch> {
    let base = config.database_url.expose_secret();
    let current = database_name(base).context("DATABASE_URL names no database")?;
    let url = base.replacen(&format!("/{current}"), &format!("/{name}"), 1);
    let pool = crate::db::connect_url(&url, connections)
        .await
        .with_context(|| format!("cannot open the kept database {name}"))?;
    crate::db::migrate(&pool).await?;
    Ok(Scratch { url, pool })
}

impl Scratch {
    /// Leaves the database in place and says where it is.
    async fn keep(self) {
        self.pool.close().await;
        let name = self.url.rsplit('/').next().unwrap_or_default().to_owned();
        println!("scratch database kept: reuse it with --reuse {name}");
    }

    async fn drop(self) {
        self.pool.close().await;
        // forced: autovacuum may still be analysing the rows just written
        match Postgres::force_drop_database(&self.url).await {
            Ok(()) => println!("scratch database dropped"),
            Err(e) => println!("could not drop the scratch database: {e}"),
        }
    }
}

fn event(i: usize) -> AuditEvent {
    AuditEvent::new(Actor::System, Action::SettingsUpdated, "bench", i)
        .before(json!({"value": i}))
        .after(json!({"value": i + 1, "note": "benchmark row"}))
}

/// `rows` appends by `writers` concurrent writers, each row durable when its commit returns:
/// autocommit statements, or explicit transactions (three round trips per row). Returns seconds.
async fn append(
    pool: &PgPool,
    clock: &SharedClock,
    writers: usize,
    rows: usize,
    explicit: bool,
) -> anyhow::Result<f64> {
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..writers {
        let (pool, clock, done) = (pool.clone(), clock.clone(), Arc::clone(&done));
        tasks.spawn(async move {
            let mut conn = pool.acquire().await?;
            loop {
                let i = done.fetch_add(1, Ordering::Relaxed);
                if i >= rows {
                    return Ok::<_, sqlx::Error>(());
                }
                if explicit {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    audit::record(&mut tx, &event(i), clock.now()).await?;
                    tx.commit().await?;
                } else {
                    audit::record(&mut conn, &event(i), clock.now()).await?;
                }
            }
        });
    }
    let progress = {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                let n = done.load(Ordering::Relaxed).min(rows);
                println!("  {n:>9} rows appended ({:.0}%)", n as f64 * 100.0 / rows as f64);
                if n >= rows {
                    break;
                }
            }
        })
    };
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    progress.abort();
    Ok(started.elapsed().as_secs_f64())
}

/// Audit append throughput with `writers` concurrent writers (one row per transaction, the
/// sealer running alongside as in production), then `audit verify` over `verify_rows` rows.
pub async fn audit(config: &Config, writers: usize, rows: usize, verify_rows: usize) -> anyhow::Result<()> {
    let clock: SharedClock = clock::system();
    let s = scratch(config, "audit", writers as u32 + 4).await?;
    let pool = s.pool.clone();

    let stop_sealer = tokio_util::sync::CancellationToken::new();
    let sealer = {
        let (pool, clock, stop) = (pool.clone(), clock.clone(), stop_sealer.clone());
        tokio::spawn(async move {
            let mut sealed = 0u64;
            while !stop.is_cancelled() {
                sealed += chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH)
                    .await
                    .unwrap_or(0);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            sealed
        })
    };
    println!("appending {rows} audit rows with {writers} concurrent writers, each row committed on its own …");
    let append_secs = append(&pool, &clock, writers, rows, false).await?;
    println!("appending {rows} more inside explicit BEGIN … COMMIT transactions, as a use case writes them …");
    let tx_secs = append(&pool, &clock, writers, rows, true).await?;

    stop_sealer.cancel();
    let sealed_live = sealer.await.unwrap_or(0);
    let rest = chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH).await?;
    let forks: i64 = sqlx::query_scalar(
        "select count(*) from (select prev_hash from audit_chain group by prev_hash having count(*) > 1) f",
    )
    .fetch_one(&pool)
    .await?;
    let report = chain::verify(&pool).await?;
    let append_rate = rows as f64 / append_secs;
    let tx_rate = rows as f64 / tx_secs;
    println!(
        "  sealed {sealed_live} rows while writing, {rest} after; chain {}",
        if report.is_intact() { "intact" } else { "BROKEN" }
    );

    // top up to verify_rows with set-based inserts, seal, and time the verification
    let have: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(&pool)
        .await?;
    let mut have = have as usize;
    if verify_rows > have {
        println!("filling to {verify_rows} rows for the verify benchmark …");
    }
    while have < verify_rows {
        let n = (verify_rows - have).min(100_000);
        sqlx::query(
            "with a as ( \
               insert into audit_logs (actor_type, action, entity_type, entity_id, after, created_at) \
               select 'system', 'settings.updated', 'bench', g::text, jsonb_build_object('value', g), $2 \
               from generate_series(1, $1) g returning id, seq) \
             insert into audit_pending (seq, id) select seq, id from a",
        )
        .bind(n as i64)
        .bind(clock.now())
        .execute(&pool)
        .await?;
        let sealed = chain::seal_pending(&pool, clock.now(), chain::DEFAULT_SEAL_BATCH).await?;
        have += n;
        println!("  {have:>9} rows written and sealed ({sealed} this round)");
    }
    let started = Instant::now();
    let big = chain::verify(&pool).await?;
    let verify_secs = started.elapsed().as_secs_f64();

    println!();
    println!("== bench audit ==");
    println!(
        "audit append: {writers} writers, {rows} rows in {append_secs:.2} s = {append_rate:.0} rows/s (goal >= 5000) {}",
        if append_rate >= 5000.0 { "PASS" } else { "MISS" }
    );
    println!("  in explicit transactions: {rows} rows in {tx_secs:.2} s = {tx_rate:.0} rows/s");
    println!(
        "forks: {forks} (goal 0) {}",
        if forks == 0 && report.is_intact() {
            "PASS"
        } else {
            "FAIL"
        }
    );
    println!(
        "audit verify: {} rows in {verify_secs:.2} s (goal <= 10 s) {}{}",
        big.checked,
        if verify_secs <= 10.0 { "PASS" } else { "MISS" },
        if big.is_intact() {
            ""
        } else {
            " — chain reported BROKEN"
        }
    );
    s.drop().await;
    Ok(())
}

async fn bench_batch(pool: &PgPool, name: &str, n: i64) -> anyhow::Result<uuid::Uuid> {
    Ok(sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
         values ($1, $2, 1000, now() + interval '90 days', now(), now()) returning id",
    )
    .bind(name)
    .bind(n as i32)
    .fetch_one(pool)
    .await?)
}

/// `mbelyco bench codes`: generating and persisting codes next to an existing million, against a
/// plain COPY of the same number of rows into an identical empty table; and the CSV export.
pub async fn codes(config: &Config, n: i64) -> anyhow::Result<()> {
    use crate::codes::format::{Alphabet, Generator};
    use crate::codes::generate;
    use rand::SeedableRng;

    let clock = clock::system();
    let s = scratch(config, "codes", 8).await?;
    let pool = s.pool.clone();
    let alphabet = || {
        Alphabet::new(
            &crate::settings::Settings::default()
                .business
                .code_generation
                .character_set,
        )
        .map_err(anyhow::Error::msg)
    };
    let report = |label: &'static str| {
        move |done: i64, total: i64| async move {
            if done == total || done % 200_000 == 0 {
                println!("  {label}: {done:>9} / {total}");
            }
            Ok::<(), sqlx::Error>(())
        }
    };

    println!("filling: {n} codes already stored …");
    let first = bench_batch(&pool, "existing", n).await?;
    generate::run(
        &pool,
        first,
        n,
        Actor::System,
        alphabet()?,
        false,
        clock.now(),
        report("existing"),
    )
    .await?;
    sqlx::query("analyze promo_codes").execute(&pool).await?;

    println!("generating {n} new codes next to them …");
    let second = bench_batch(&pool, "measured", n).await?;
    let started = Instant::now();
    let summary = generate::run(
        &pool,
        second,
        n,
        Actor::System,
        alphabet()?,
        false,
        clock.now(),
        report("generate"),
    )
    .await?;
    let gen_secs = started.elapsed().as_secs_f64();

    println!("indexing them for partial-code search (the codes.index_search job's work) …");
    let started = Instant::now();
    {
        let mut conn = pool.acquire().await?;
        crate::codes::search_index::index_range(&mut conn, second, 1, n).await?;
    }
    let index_secs = started.elapsed().as_secs_f64();

    println!("baseline: plain COPY of {n} random codes into an identical empty table …");
    sqlx::query("create table promo_codes_copy (like promo_codes including all)")
        .execute(&pool)
        .await?;
    let third = bench_batch(&pool, "copy", n).await?;
    let mut g = Generator::new(
        alphabet()?,
        false,
        clock.now(),
        rand::rngs::StdRng::from_rng(rand::rngs::OsRng)?,
    );
    let mut data = String::with_capacity(n as usize * 80);
    let now = clock.now().to_rfc3339();
    for i in 1..=n {
        data.push_str(&format!("{}\t{third}\t{i}\t1000\t{now}\n", g.next_code()));
    }
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    let mut copy = conn
        .copy_in_raw("copy promo_codes_copy (code, batch_id, serial, amount, created_at) from stdin")
        .await?;
    copy.send(data.into_bytes()).await?;
    copy.finish().await?;
    let copy_secs = started.elapsed().as_secs_f64();
    drop(conn);

    println!("exporting the {n}-code batch as CSV …");
    let batch = {
        let mut c = pool.acquire().await?;
        crate::batches::get(&mut c, first)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
    };
    let info = crate::codes::export::sheet_info(&Default::default(), &batch);
    let req = crate::codes::export::Request::parse(Some("csv"), Some(first), None, None)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    // the download endpoint's own stream
    let mut chunks = crate::codes::export::stream(pool.clone(), req, info, n);
    let mut bytes = 0usize;
    while let Some(chunk) = chunks.recv().await {
        bytes += chunk?.len();
    }
    let csv_secs = started.elapsed().as_secs_f64();

    let ratio = gen_secs / copy_secs;
    println!();
    println!("== bench codes ==");
    println!(
        "generate + persist {} codes next to {n}: {gen_secs:.2} s (goal <= 8 s) {} ({} collisions regenerated)",
        summary.generated,
        if gen_secs <= 8.0 { "PASS" } else { "MISS" },
        summary.collisions_regenerated
    );
    println!("  then searchable by fragment after a further {index_secs:.2} s (search index job, off the insert path)");
    println!(
        "plain COPY of {n} codes into an identical empty table: {copy_secs:.2} s; ratio {ratio:.2} (goal <= 1.5) {}",
        if ratio <= 1.5 { "PASS" } else { "MISS" }
    );
    println!(
        "CSV export of {n} codes: {csv_secs:.2} s, {:.1} MB (goal <= 3 s) {}",
        bytes as f64 / 1e6,
        if csv_secs <= 3.0 { "PASS" } else { "MISS" }
    );
    s.drop().await;
    Ok(())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(0.0, |kb| kb / 1024.0)
}

/// `mbelyco bench pdf`: lays out `n` codes on A4 sheets the way the export does (page by page,
/// written out as it goes) and reports the time and the process's peak memory.
pub fn pdf(n: usize) -> anyhow::Result<()> {
    use crate::codes::pdf::{page_content, page_count, Contact, SheetInfo, Slot, StreamingPdf, PER_PAGE};
    use std::io::Write;
    let info = SheetInfo {
        company: "MBELYCO Paints".into(),
        batch_number: 1,
        batch_name: "Benchmark".into(),
        generated_on: "2026-11-25".into(),
        service_code: "*789#".into(),
        logo: None,
        contact: Contact {
            phone: "+250 788 300 400".into(),
            email: "care@mbelyco.rw".into(),
            website: "https://mbelyco.rw".into(),
        },
    };
    let before = peak_rss_mb();
    let started = Instant::now();
    let pages = page_count(n);
    let (mut w, head) = StreamingPdf::start(pages, None);
    let mut sink = std::io::sink();
    let mut bytes = head.len();
    sink.write_all(&head)?;
    let mut slots = Vec::with_capacity(PER_PAGE);
    for page in 0..pages {
        slots.clear();
        for k in 0..PER_PAGE {
            let serial = page * PER_PAGE + k + 1;
            if serial > n {
                break;
            }
            slots.push(Slot {
                code: format!("ABCD-EF26-GH11-{:04}", serial % 10_000),
                serial: serial as i32,
                amount: 1000,
                currency: "RWF".into(),
            });
        }
        let chunk = w.page(page, &page_content(&info, &slots, page + 1, pages));
        bytes += chunk.len();
        sink.write_all(&chunk)?;
    }
    let tail = w.finish();
    bytes += tail.len();
    let secs = started.elapsed().as_secs_f64();
    let peak = peak_rss_mb();
    println!("== bench pdf ==");
    println!(
        "PDF of {n} codes ({pages} pages, {:.1} MB): {secs:.2} s (goal <= 3 s) {}; peak memory {peak:.0} MB (was {before:.0} MB before; goal <= 150 MB) {}",
        bytes as f64 / 1e6,
        if secs <= 3.0 { "PASS" } else { "MISS" },
        if peak <= 150.0 { "PASS" } else { "MISS" }
    );
    Ok(())
}

/// `mbelyco bench import`: a CSV of `rows` lines (BOM, CRLF, quoted fields, an amount column,
/// 1 % of lines repeating stored codes) imported with full validation in `valid_rows` mode into
/// a batch, next to `existing` stored codes.
pub async fn import(config: &Config, rows: usize, existing: i64) -> anyhow::Result<()> {
    use crate::codes::format::{Alphabet, Generator};
    use crate::codes::{generate, import};
    use rand::SeedableRng;

    let clock = clock::system();
    let s = scratch(config, "import", 4).await?;
    let pool = s.pool.clone();
    let settings = crate::settings::Settings::default();
    let alphabet = Alphabet::new(&settings.business.code_generation.character_set).map_err(anyhow::Error::msg)?;
    println!("filling: {existing} codes already stored …");
    let first = bench_batch(&pool, "existing", existing.max(1)).await?;
    generate::run(
        &pool,
        first,
        existing,
        Actor::System,
        alphabet.clone(),
        false,
        clock.now(),
        |done, total| async move {
            if done == total || done % 200_000 == 0 {
                println!("  existing: {done:>9} / {total}");
            }
            Ok::<(), sqlx::Error>(())
        },
    )
    .await?;
    sqlx::query("analyze promo_codes").execute(&pool).await?;
    let stored: Vec<String> = sqlx::query_scalar("select code from promo_codes limit $1")
        .bind((rows / 100) as i64)
        .fetch_all(&pool)
        .await?;

    let mut g = Generator::new(
        alphabet,
        false,
        clock.now() - chrono::Duration::days(400),
        rand::rngs::StdRng::from_rng(rand::rngs::OsRng)?,
    );
    let mut csv = String::with_capacity(rows * 32 + 16);
    csv.push_str("\u{feff}code,amount\r\n");
    for i in 0..rows {
        let code = match stored.get(i / 100).filter(|_| i % 100 == 99) {
            Some(c) => c.clone(),
            None => g.next_code().as_str().to_owned(),
        };
        if i % 10 == 0 {
            csv.push_str(&format!("\"{}\",\"1500\"\r\n", code.to_ascii_lowercase()));
        } else {
            csv.push_str(&format!("{code},\r\n"));
        }
    }
    let target = bench_batch(&pool, "imported", rows as i64).await?;
    println!("importing a {:.1} MB CSV of {rows} lines …", csv.len() as f64 / 1e6);
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    let summary = import::import(
        &mut tx,
        &settings,
        import::Upload {
            batch_id: target,
            file_name: "bench.csv",
            mode: import::Mode::ValidRows,
            data: csv.as_bytes(),
        },
        Actor::System,
        Default::default(),
        clock.now(),
        &mut |p| println!("  {:>5.2} s  {p:?}", started.elapsed().as_secs_f64()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("import failed: {e}"))?;
    tx.commit().await?;
    let secs = started.elapsed().as_secs_f64();
    println!();
    println!("== bench import ==");
    println!(
        "CSV import of {rows} lines next to {existing} stored codes: {secs:.2} s (goal <= 3 s) {}; {} accepted, {} rejected",
        if secs <= 3.0 { "PASS" } else { "MISS" },
        summary.accepted,
        summary.rejected
    );
    s.drop().await;
    Ok(())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// `mbelyco bench search`: fills a scratch database with `batches` batches of `per_batch` codes
/// through the real generation path (and the search-index job's work), then times partial-code
/// searches as the codes page runs them and the statistics of one full batch.
pub async fn search(
    config: &Config,
    batches: i64,
    per_batch: i64,
    queries: usize,
    keep: bool,
    reuse: Option<&str>,
) -> anyhow::Result<()> {
    use crate::codes::admin::{self, CodeFilter, CodeQuery};
    use crate::codes::format::Alphabet;
    use crate::codes::{generate, search_index};
    use rand::seq::SliceRandom;
    use rand::Rng;

    let clock = clock::system();
    let s = match reuse {
        Some(name) => reopen(config, name, 4).await?,
        None => scratch(config, "search", 4).await?,
    };
    let pool = s.pool.clone();
    let set = crate::settings::Settings::default()
        .business
        .code_generation
        .character_set;
    let mut ids: Vec<uuid::Uuid> = Vec::new();
    if reuse.is_some() {
        ids = sqlx::query_scalar("select id from batches order by created_at")
            .fetch_all(&pool)
            .await?;
        anyhow::ensure!(!ids.is_empty(), "the kept database holds no batches");
        println!("reusing {} batches of codes", ids.len());
    } else {
        let total = batches * per_batch;
        println!("filling: {batches} batches of {per_batch} codes ({total} in all), then their search index …");
        let started = Instant::now();
        for b in 0..batches {
            let id = bench_batch(&pool, &format!("search {b}"), per_batch).await?;
            let t = Instant::now();
            generate::run(
                &pool,
                id,
                per_batch,
                Actor::System,
                Alphabet::new(&set).map_err(anyhow::Error::msg)?,
                false,
                clock.now(),
                |_, _| async { Ok::<(), sqlx::Error>(()) },
            )
            .await?;
            let gen = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut conn = pool.acquire().await?;
            search_index::index_range(&mut conn, id, 1, per_batch).await?;
            println!(
                "  batch {}: generated in {gen:.1} s, indexed in {:.1} s ({} codes stored, {:.0} s so far)",
                b + 1,
                t.elapsed().as_secs_f64(),
                (b + 1) * per_batch,
                started.elapsed().as_secs_f64()
            );
            ids.push(id);
        }
    }
    let total: i64 = sqlx::query_scalar("select count(*) from promo_codes")
        .fetch_one(&pool)
        .await?;
    let per_batch: i64 = sqlx::query_scalar("select count(*) from promo_codes where batch_id = $1")
        .bind(ids[0])
        .fetch_one(&pool)
        .await?;
    sqlx::query("vacuum analyze promo_codes").execute(&pool).await?;
    sqlx::query("vacuum analyze promo_code_search").execute(&pool).await?;

    // fragments people type: 3 to 8 characters cut from stored codes
    let sample: Vec<String> = sqlx::query_scalar("select code from promo_codes tablesample system (0.1) limit $1")
        .bind(queries as i64)
        .fetch_all(&pool)
        .await?;
    let mut rng = rand::thread_rng();
    let mut conn = pool.acquire().await?;
    let mut times = Vec::with_capacity(sample.len());
    let mut slowest: Vec<(f64, String, bool, usize)> = Vec::new();
    let mut found = 0usize;
    for code in &sample {
        let len = rng.gen_range(3..=8usize);
        let start = rng.gen_range(0..=code.len() - len);
        let q = CodeQuery::parse(&code[start..start + len]).map_err(|e| anyhow::anyhow!("{e}"))?;
        let f = CodeFilter {
            q: Some(q),
            batch_id: if rng.gen_bool(0.3) {
                ids.choose(&mut rng).copied()
            } else {
                None
            },
            ..Default::default()
        };
        let t = Instant::now();
        let (rows, _) = admin::list(&mut conn, &f, None, 50)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        times.push(ms);
        slowest.push((
            ms,
            f.q.as_ref().map(|q| q.as_str().to_owned()).unwrap_or_default(),
            f.batch_id.is_some(),
            rows.len(),
        ));
        found += rows.len();
    }
    times.sort_by(f64::total_cmp);
    slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("slowest searches (what to look at when p95 misses):");
    for (ms, q, in_batch, rows) in slowest.iter().take(12) {
        println!(
            "  {ms:>7.1} ms  {q:<10} {} {rows} rows",
            if *in_batch { "in one batch," } else { "all codes,  " }
        );
    }
    let mut stats_times = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        crate::batches::stats(&mut conn, ids[0], clock.now())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        stats_times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    stats_times.sort_by(f64::total_cmp);
    drop(conn);
    let p95 = percentile(&times, 0.95);
    let s95 = percentile(&stats_times, 0.95);
    println!();
    println!("== bench search ==");
    println!(
        "partial-code search over {total} codes, {} queries of 3-8 characters (30 % within a batch), {found} rows: \
         p50 {:.1} ms, p95 {p95:.1} ms, max {:.1} ms (goal p95 <= 50 ms) {}",
        times.len(),
        percentile(&times, 0.5),
        percentile(&times, 1.0),
        if p95 <= 50.0 { "PASS" } else { "MISS" }
    );
    println!(
        "statistics of a {per_batch}-code batch (20 runs): p50 {:.1} ms, p95 {s95:.1} ms (goal <= 100 ms) {}",
        percentile(&stats_times, 0.5),
        if s95 <= 100.0 { "PASS" } else { "MISS" }
    );
    if keep || reuse.is_some() {
        s.keep().await;
    } else {
        s.drop().await;
    }
    Ok(())
}
