//! The audit log viewer's figures for `mbelyco bench audit`: the streamed export of the sealed
//! rows (goal: 1,000,000 rows in at most 5 s), then the viewer's first page for filtered and
//! full-text queries over `search_rows` rows (goal: p95 at most 300 ms), through the viewer's
//! own query ([`crate::audit::query::list`]). The search rows are written set-based with
//! `generate_series` after the chain benchmarks (they are outside the chain; the search does
//! not read it).

use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use sqlx::PgPool;

use crate::audit::export::{self, Format};
use crate::audit::query::{self, ActorFilter, Filter, Outcome};

const ACTIONS: [&str; 10] = [
    "batch.created",
    "batch.updated",
    "code.status_changed",
    "disbursement.completed",
    "disbursement.failed",
    "auth.sign_in_succeeded",
    "auth.sign_in_failed",
    "settings.updated",
    "redemption.created",
    "user.updated",
];
const ENTITIES: [&str; 5] = ["batch", "promo_code", "disbursement", "user", "settings"];
const PLACES: [&str; 5] = ["Kigali", "Musanze", "Huye", "Rubavu", "Nyagatare"];

/// What the viewer's benchmark measured.
pub struct Figures {
    pub export_rows: u64,
    pub export_secs: f64,
    pub export_bytes: u64,
    pub search_rows: i64,
    pub filtered_p95_ms: f64,
    pub filtered_max: (f64, String),
    pub text_p95_ms: f64,
    pub text_max: (f64, String),
}

/// Streams the JSON-lines export of every sealed row to nowhere; returns rows, bytes, seconds.
async fn time_export(pool: &PgPool) -> anyhow::Result<(u64, u64, f64)> {
    let started = Instant::now();
    let mut rx = export::stream(pool.clone(), Filter::default(), Format::Jsonl);
    let (mut bytes, mut rows) = (0u64, 0u64);
    while let Some(chunk) = rx.recv().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        rows += chunk.iter().filter(|b| **b == b'\n').count() as u64;
    }
    Ok((rows, bytes, started.elapsed().as_secs_f64()))
}

fn user(n: u64) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0000 | u128::from(n))
}

/// Writes audit rows up to `target` in all, spread over a year ending `now`, set-based.
async fn fill(pool: &PgPool, target: i64, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let mut have: i64 = sqlx::query_scalar("select count(*) from audit_logs")
        .fetch_one(pool)
        .await?;
    let start = have;
    if target > have {
        println!("filling to {target} audit rows for the viewer's search …");
        // the year's monthly partitions, as a system that ran all year has them
        let mut month = crate::audit::retention::Month::of(now - chrono::Duration::days(366));
        while month.first_day <= now.date_naive() {
            sqlx::query("select audit_logs_ensure_partition($1)")
                .bind(month.first_day)
                .execute(pool)
                .await?;
            month = month.next();
        }
    }
    while have < target {
        let n = (target - have).min(500_000);
        sqlx::query(
            r#"insert into audit_logs (actor_type, actor_user_id, action, entity_type, entity_id, ip, request_id,
                 before, after, metadata, created_at)
               select case when g % 10 = 0 then 'system' else 'user' end,
                      case when g % 10 = 0 then null
                           else ('00000000-0000-4000-8000-' || lpad(to_hex(g % 50), 12, '0'))::uuid end,
                      ($3::text[])[1 + g % 10],
                      ($4::text[])[1 + (g / 10) % 5],
                      'e-' || (g % 200000),
                      ('10.' || (g % 200) || '.' || ((g / 200) % 250) || '.' || (g % 7 + 1))::inet,
                      'req-' || g,
                      case when g % 3 = 0 then jsonb_build_object('status', 'active', 'amount', g % 1000) end,
                      jsonb_build_object('name', 'w' || (g % 5000), 'place', ($5::text[])[1 + g % 5], 'amount', g % 1000),
                      '{}'::jsonb,
                      $6 - make_interval(secs => (($7 - g) * 3)::double precision)
               from generate_series($1::bigint, $2::bigint) g"#,
        )
        .bind(have + 1)
        .bind(have + n)
        .bind(ACTIONS.to_vec())
        .bind(ENTITIES.to_vec())
        .bind(PLACES.to_vec())
        .bind(now)
        .bind(target)
        .execute(pool)
        .await?;
        have += n;
        println!("  {have:>9} rows");
    }
    if have > start {
        sqlx::query("analyze audit_logs").execute(pool).await?;
    }
    Ok(have)
}

fn p95(mut v: Vec<(f64, String)>) -> (f64, (f64, String)) {
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let i = ((v.len() as f64) * 0.95).ceil() as usize;
    let p = v[i.saturating_sub(1).min(v.len() - 1)].0;
    (p, v.last().cloned().unwrap_or_default())
}

/// Times the first page (50 rows) of `f`, in milliseconds.
async fn page(pool: &PgPool, f: &Filter) -> anyhow::Result<f64> {
    let mut conn = pool.acquire().await?;
    let started = Instant::now();
    query::list(&mut conn, f, None, 51).await?;
    Ok(started.elapsed().as_secs_f64() * 1000.0)
}

/// The export over the sealed rows, then the searches over `search_rows` rows.
pub async fn run(pool: &PgPool, search_rows: i64, now: DateTime<Utc>, rounds: usize) -> anyhow::Result<Figures> {
    println!("exporting every sealed row as JSON lines …");
    let (export_rows, export_bytes, export_secs) = time_export(pool).await?;
    let search_rows = fill(pool, search_rows, now).await?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(52);
    let mut filtered = Vec::new();
    let mut text = Vec::new();
    for _ in 0..rounds {
        let g: u64 = rng.gen_range(1..search_rows.max(2) as u64);
        let day = now - Duration::days(rng.gen_range(1..300));
        let cases: Vec<(&str, Filter)> = vec![
            ("latest", Filter::default()),
            (
                "action, 7 days",
                Filter {
                    action: Some(ACTIONS[(g % 10) as usize].to_owned()),
                    from: Some(day - Duration::days(7)),
                    to: Some(day),
                    ..Filter::default()
                },
            ),
            (
                "entity",
                Filter {
                    entity_type: Some(ENTITIES[((g / 10) % 5) as usize].to_owned()),
                    entity_id: Some(format!("e-{}", g % 200_000)),
                    ..Filter::default()
                },
            ),
            (
                "actor",
                Filter {
                    actor: Some(ActorFilter::User(user(g % 50))),
                    ..Filter::default()
                },
            ),
            (
                "ip",
                Filter {
                    ip: Some(format!("10.{}.{}.{}", g % 200, (g / 200) % 250, g % 7 + 1).parse()?),
                    ..Filter::default()
                },
            ),
            (
                "request id",
                Filter {
                    request_id: Some(format!("req-{g}")),
                    ..Filter::default()
                },
            ),
            (
                "failures, 30 days",
                Filter {
                    outcome: Some(Outcome::Failure),
                    from: Some(day - Duration::days(30)),
                    to: Some(day),
                    ..Filter::default()
                },
            ),
        ];
        for (name, f) in &cases {
            filtered.push((page(pool, f).await?, (*name).to_owned()));
        }
        let words: Vec<(&str, Filter)> = vec![
            (
                "rare word",
                Filter {
                    q: Some(format!("w{}", g % 5000)),
                    ..Filter::default()
                },
            ),
            (
                "common word",
                Filter {
                    q: Some(PLACES[(g % 5) as usize].to_owned()),
                    ..Filter::default()
                },
            ),
            (
                "word and action",
                Filter {
                    q: Some(format!("w{}", g % 5000)),
                    action: Some(ACTIONS[(g % 10) as usize].to_owned()),
                    ..Filter::default()
                },
            ),
            (
                "word, 30 days",
                Filter {
                    q: Some(PLACES[(g % 5) as usize].to_owned()),
                    from: Some(day - Duration::days(30)),
                    to: Some(day),
                    ..Filter::default()
                },
            ),
        ];
        for (name, f) in &words {
            text.push((page(pool, f).await?, (*name).to_owned()));
        }
    }
    let (filtered_p95_ms, filtered_max) = p95(filtered);
    let (text_p95_ms, text_max) = p95(text);
    Ok(Figures {
        export_rows,
        export_secs,
        export_bytes,
        search_rows,
        filtered_p95_ms,
        filtered_max,
        text_p95_ms,
        text_max,
    })
}

impl Figures {
    pub fn print(&self) {
        let pass = |ok: bool| if ok { "PASS" } else { "MISS" };
        let export_goal = 5.0 * self.export_rows as f64 / 1_000_000.0;
        println!(
            "audit export: {} rows ({:.0} MB of JSON lines) in {:.2} s (goal: 1,000,000 rows <= 5 s, here <= {export_goal:.2} s) {}",
            self.export_rows,
            self.export_bytes as f64 / 1e6,
            self.export_secs,
            pass(self.export_secs <= export_goal.max(0.001))
        );
        println!(
            "audit search over {} rows, filtered: p95 {:.1} ms, slowest {:.1} ms ({}) (goal p95 <= 300 ms) {}",
            self.search_rows,
            self.filtered_p95_ms,
            self.filtered_max.0,
            self.filtered_max.1,
            pass(self.filtered_p95_ms <= 300.0)
        );
        println!(
            "audit search over {} rows, full text: p95 {:.1} ms, slowest {:.1} ms ({}) (goal p95 <= 300 ms) {}",
            self.search_rows,
            self.text_p95_ms,
            self.text_max.0,
            self.text_max.1,
            pass(self.text_p95_ms <= 300.0)
        );
    }
}
