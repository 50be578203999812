//! The status-query budget (DESIGN.md §5: MoMo's status queries stay under 10 a second), shared
//! by every `GET /transfer/{ref}` — the payout worker's first read after a transfer, the reads a
//! callback woke, crash recoveries, polls of PENDING transfers, and reconciliation runs — in
//! every process: the next free slot is kept in PostgreSQL (one row of an unlogged table), and
//! each query takes the next one, at least `1.05 / rate` seconds after the one before, so no
//! second, however it is cut, holds more than `rate` of them. A caller takes its slot right
//! before it asks (after any other limiter), so waiting elsewhere cannot bunch two queries.

use std::time::Duration;

use sqlx::PgPool;

/// Takes the next free status-query slot under `per_second` and waits until it comes.
pub async fn acquire(pool: &PgPool, per_second: u32) -> Result<(), sqlx::Error> {
    let interval_us = (1_050_000.0 / f64::from(per_second.max(1))).round() as i64;
    let wait_ms: f64 = sqlx::query_scalar(
        r#"insert into momo_status_budget as b (id, next_at)
           values (true, clock_timestamp() + make_interval(secs => $1 / 1e6))
           on conflict (id) do update
             set next_at = greatest(b.next_at, clock_timestamp()) + make_interval(secs => $1 / 1e6)
           returning (extract(epoch from (next_at - make_interval(secs => $1 / 1e6) - clock_timestamp())) * 1000)::float8"#,
    )
    .bind(interval_us as f64)
    .fetch_one(pool)
    .await?;
    if wait_ms > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait_ms / 1000.0)).await;
    }
    Ok(())
}
