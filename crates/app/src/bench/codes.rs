//! `mbelyco bench codes|pdf|import`: generating, laying out and importing codes.

use std::time::Instant;

use sqlx::PgPool;

use super::{peak_rss_mb, scratch};
use crate::audit::Actor;
use crate::clock::{self};
use crate::config::Config;

pub(super) async fn bench_batch(pool: &PgPool, name: &str, n: i64) -> anyhow::Result<uuid::Uuid> {
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
        generate::Spec {
            batch_id: first,
            actor: Actor::System,
            alphabet: alphabet()?,
            checksum: false,
            now: clock.now(),
        },
        n,
        report("existing"),
    )
    .await?;
    sqlx::query("analyze promo_codes").execute(&pool).await?;

    println!("generating {n} new codes next to them …");
    let second = bench_batch(&pool, "measured", n).await?;
    let started = Instant::now();
    let summary = generate::run(
        &pool,
        generate::Spec {
            batch_id: second,
            actor: Actor::System,
            alphabet: alphabet()?,
            checksum: false,
            now: clock.now(),
        },
        n,
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

/// `mbelyco bench pdf`: lays out `n` codes on A4 sheets the way the export does (page by page,
/// written out as it goes) and reports the time and the process's peak memory.
pub fn pdf(n: usize) -> anyhow::Result<()> {
    use crate::codes::pdf::{page_content, page_count, Contact, SheetInfo, Slot, StreamingPdf, PER_PAGE};
    use std::io::Write;
    let info = SheetInfo {
        company: "MBELYCO Paints".into(),
        tagline: "Quality paints, rewarded".into(),
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
        generate::Spec {
            batch_id: first,
            actor: Actor::System,
            alphabet: alphabet.clone(),
            checksum: false,
            now: clock.now(),
        },
        existing,
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
