//! `mbelyco bench search`: partial-code searches over a scratch database of many batches.

use std::time::Instant;

use super::codes::bench_batch;
use super::{percentile, reopen, scratch};
use crate::audit::Actor;
use crate::clock::{self};
use crate::config::Config;

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
                generate::Spec {
                    batch_id: id,
                    actor: Actor::System,
                    alphabet: Alphabet::new(&set).map_err(anyhow::Error::msg)?,
                    checksum: false,
                    now: clock.now(),
                },
                per_batch,
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
