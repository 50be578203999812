//! `mbelyco bench backup`: a backup and its verified restore (decision 0053) of a database
//! holding N codes (seeded straight into `promo_codes` with `generate_series`), with the time
//! and size of each, and PASS/MISS of "restore-verify finishes within the backup interval it
//! serves" for the frequency given.

use std::time::Instant;

use anyhow::bail;

use super::scratch;
use crate::backup::create::{self, Request};
use crate::backup::web::human_size;
use crate::backup::{verify, Env, Storage, StorageKind};
use crate::clock;
use crate::config::Config;
use crate::settings::model::BackupSettings;

pub async fn run(config: &Config, codes: i64, frequency: &str) -> anyhow::Result<()> {
    let interval_secs = match frequency {
        "hourly" => 3600.0,
        "daily" => 86_400.0,
        "weekly" => 604_800.0,
        other => bail!("--frequency must be hourly, daily or weekly, not {other}"),
    };
    let clock = clock::system();
    let s = scratch(config, "backup", 4).await?;
    let pool = s.pool.clone();
    let seeded = Instant::now();
    let batch: uuid::Uuid = sqlx::query_scalar(
        "insert into batches (name, total_codes, amount_per_code, expiration_date, created_at, updated_at) \
         values ('bench backup', $1, 1000, now() + interval '180 days', now(), now()) returning id",
    )
    .bind(codes.min(i64::from(i32::MAX)) as i32)
    .fetch_one(&pool)
    .await?;
    let step = 1_000_000i64;
    let mut from = 1i64;
    while from <= codes {
        let to = (from + step - 1).min(codes);
        sqlx::query(
            "insert into promo_codes (id, code, batch_id, serial, amount, currency, status, created_at, expires_at) \
             select gen_random_uuid(), \
                    substr(h, 1, 4) || '-' || substr(h, 5, 4) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4), \
                    $1, g, 1000, 'RWF', 'active', now(), now() + interval '180 days' \
             from generate_series($2::int8, $3::int8) g, \
                  lateral (select upper(substr(md5(g::text), 1, 8) || lpad(to_hex(g), 8, '0')) as h) x",
        )
        .bind(batch)
        .bind(from)
        .bind(to)
        .execute(&pool)
        .await?;
        println!("  {to} codes seeded, {:.0} s", seeded.elapsed().as_secs_f64());
        from = to + 1;
    }
    sqlx::query("vacuum analyze promo_codes").execute(&pool).await?;

    let settings = BackupSettings {
        storage_path: "bench-backups".into(),
        ..BackupSettings::default()
    };
    let env = Env::new(pool.clone(), config);
    let result = async {
        let t = Instant::now();
        let made = create::create(&env, &settings, Request::default(), &clock, &|_| {}).await?;
        let backup_secs = t.elapsed().as_secs_f64();
        println!(
            "backup: {codes} codes in {backup_secs:.1} s, {} stored (compressed, encrypted, local)",
            human_size(made.size as i64)
        );
        let t = Instant::now();
        let outcome = verify::verify(&env, &settings, made.id, &clock).await?;
        let verify_secs = t.elapsed().as_secs_f64();
        println!(
            "verified restore: {verify_secs:.1} s ({})",
            if outcome.passed { "passed" } else { "FAILED" }
        );
        let total = backup_secs + verify_secs;
        println!(
            "backup + verified restore: {total:.1} s against the {frequency} interval of {interval_secs:.0} s: {}",
            if outcome.passed && total <= interval_secs {
                "PASS"
            } else {
                "MISS"
            }
        );
        let key = Storage::key_for(StorageKind::Local, &settings, made.id);
        Storage::open(StorageKind::Local, &settings, &env.data_dir)?
            .delete(&key)
            .await?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    s.drop().await;
    result
}
