//! The audit hash chain: sealing committed rows into the chain, and verifying it.
//!
//! `integrity_hash = sha256(prev_hash ‖ chain_seq ‖ canonical row)`, where the canonical row is
//! every content column, length-prefixed in a fixed order (JSON as PostgreSQL's canonical jsonb
//! text). The first row's predecessor is 32 zero bytes. One sealer at a time (a transaction-level
//! advisory lock) takes committed, unsealed rows in insertion order and appends them, so writers
//! never wait on the chain head and the chain cannot fork (`prev_hash` is also unique).

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

/// Advisory lock key held by the sealer ("audit" in ASCII).
const SEAL_LOCK: i64 = 0x0061_7564_6974;
pub const GENESIS: [u8; 32] = [0u8; 32];
pub const DEFAULT_SEAL_BATCH: i64 = 5_000;

pub(crate) const CANON_COLUMNS: &str = "a.id, a.created_at, a.actor_type, a.actor_user_id, a.action, a.entity_type, \
     a.entity_id, a.session_id, a.ip::text as ip, a.user_agent, a.request_id, a.before::text as before, \
     a.after::text as after, a.metadata::text as metadata";

/// A row's content exactly as the chain hashes it (JSON as PostgreSQL's jsonb text, the IP as
/// `inet` text).
#[derive(Debug, Clone, FromRow)]
pub(crate) struct CanonRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub actor_type: String,
    pub actor_user_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub session_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub metadata: String,
}

fn put(h: &mut Sha256, field: Option<&[u8]>) {
    match field {
        None => h.update(u32::MAX.to_be_bytes()),
        Some(b) => {
            h.update((b.len() as u32).to_be_bytes());
            h.update(b);
        }
    }
}

pub(crate) fn row_hash(prev: &[u8], chain_seq: i64, r: &CanonRow) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(chain_seq.to_be_bytes());
    put(&mut h, Some(r.id.as_bytes()));
    put(&mut h, Some(&r.created_at.timestamp_micros().to_be_bytes()));
    put(&mut h, Some(r.actor_type.as_bytes()));
    put(&mut h, r.actor_user_id.as_ref().map(|u| &u.as_bytes()[..]));
    put(&mut h, Some(r.action.as_bytes()));
    put(&mut h, Some(r.entity_type.as_bytes()));
    put(&mut h, r.entity_id.as_deref().map(str::as_bytes));
    put(&mut h, r.session_id.as_ref().map(|u| &u.as_bytes()[..]));
    put(&mut h, r.ip.as_deref().map(str::as_bytes));
    put(&mut h, r.user_agent.as_deref().map(str::as_bytes));
    put(&mut h, r.request_id.as_deref().map(str::as_bytes));
    put(&mut h, r.before.as_deref().map(str::as_bytes));
    put(&mut h, r.after.as_deref().map(str::as_bytes));
    put(&mut h, Some(r.metadata.as_bytes()));
    h.finalize().into()
}

/// Seals every committed, unsealed row, in rounds of `batch_size`. Returns how many rows it
/// sealed; 0 if another sealer holds the lock.
#[tracing::instrument(skip_all, err)]
pub async fn seal_pending(pool: &PgPool, now: DateTime<Utc>, batch_size: i64) -> Result<u64, sqlx::Error> {
    let mut total = 0u64;
    loop {
        let mut tx = pool.begin().await?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)")
            .bind(SEAL_LOCK)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(total);
        }
        let head: Option<(i64, Vec<u8>)> =
            sqlx::query_as("select chain_seq, integrity_hash from audit_chain order by chain_seq desc limit 1")
                .fetch_optional(&mut *tx)
                .await?;
        let rows: Vec<PendingRow> = sqlx::query_as(&format!(
            "select p.seq as pending_seq, {CANON_COLUMNS} from audit_pending p \
             join audit_logs a on a.id = p.id and a.created_at = p.created_at order by p.seq limit $1"
        ))
        .bind(batch_size)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(total);
        }
        let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_vec()));
        let n = rows.len();
        let mut pending = Vec::with_capacity(n);
        let mut ids = Vec::with_capacity(n);
        let mut seqs = Vec::with_capacity(n);
        let mut prevs = Vec::with_capacity(n);
        let mut hashes = Vec::with_capacity(n);
        for r in &rows {
            seq += 1;
            let h = row_hash(&prev, seq, &r.canon);
            pending.push(r.pending_seq);
            ids.push(r.canon.id);
            seqs.push(seq);
            prevs.push(std::mem::replace(&mut prev, h.to_vec()));
            hashes.push(h.to_vec());
        }
        sqlx::query(
            "insert into audit_chain (chain_seq, audit_id, prev_hash, integrity_hash, sealed_at) \
             select v.chain_seq, v.audit_id, v.prev_hash, v.hash, $5 \
             from unnest($1::int8[], $2::uuid[], $3::bytea[], $4::bytea[]) as v(chain_seq, audit_id, prev_hash, hash)",
        )
        .bind(&seqs)
        .bind(&ids)
        .bind(&prevs)
        .bind(&hashes)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("delete from audit_pending where seq = any($1)")
            .bind(&pending)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into audit_chain_heads (chain_seq, head_hash, kind, created_at) values ($1, $2, 'seal', $3)",
        )
        .bind(seq)
        .bind(&prev)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        total += n as u64;
        if (n as i64) < batch_size {
            return Ok(total);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainBreak {
    /// The chain position where verification failed.
    pub chain_seq: i64,
    /// The audit row found there, if any.
    pub id: Option<Uuid>,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub checked: u64,
    /// Of the positions checked, those whose rows were archived by retention (link checked only).
    pub archived: u64,
    pub unsealed: i64,
    pub heads_checked: u64,
    pub first_break: Option<ChainBreak>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

#[derive(FromRow)]
struct PendingRow {
    pending_seq: i64,
    #[sqlx(flatten)]
    canon: CanonRow,
}

#[derive(FromRow)]
struct ChainRow {
    chain_seq: i64,
    prev_hash: Vec<u8>,
    integrity_hash: Vec<u8>,
    /// Whether the audit row is still stored (not archived by retention, nor deleted).
    present: bool,
    #[sqlx(flatten)]
    canon: CanonRow,
}

/// [`CANON_COLUMNS`] over a left join: a chain position whose row is gone reads as `present =
/// false` with placeholder contents.
const WALK_COLUMNS: &str = "c.audit_id as id, coalesce(a.created_at, 'epoch') as created_at, \
     coalesce(a.actor_type, '') as actor_type, a.actor_user_id, coalesce(a.action, '') as action, \
     coalesce(a.entity_type, '') as entity_type, a.entity_id, a.session_id, a.ip::text as ip, a.user_agent, \
     a.request_id, a.before::text as before, a.after::text as after, coalesce(a.metadata::text, '') as metadata, \
     a.id is not null as present";

/// Walks the whole chain in order and reports the first row that breaks it: a changed row
/// (hash mismatch), a removed or reordered row (broken link or gap), or rows cut off the end
/// (a recorded chain head that no longer matches). The chain's own rows are kept for ever; a
/// position whose audit row was archived by retention (at or before the last `retention` head)
/// has its link checked but not its contents, which are in the archive file.
pub async fn verify(pool: &PgPool) -> Result<VerifyReport, sqlx::Error> {
    verify_observed(pool, None).await
}

/// [`verify`], publishing how many rows it has checked so far on `progress` (every 1,000 rows)
/// for a job to report.
#[tracing::instrument(skip_all, err)]
pub async fn verify_observed(
    pool: &PgPool,
    progress: Option<&tokio::sync::watch::Sender<u64>>,
) -> Result<VerifyReport, sqlx::Error> {
    let heads: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("select chain_seq, head_hash from audit_chain_heads order by chain_seq")
            .fetch_all(pool)
            .await?;
    let unsealed: i64 = sqlx::query_scalar("select count(*) from audit_pending")
        .fetch_one(pool)
        .await?;
    let archived_upto: i64 =
        sqlx::query_scalar("select coalesce(max(chain_seq), 0) from audit_chain_heads where kind = 'retention'")
            .fetch_one(pool)
            .await?;
    let mut report = VerifyReport {
        unsealed,
        ..Default::default()
    };
    let mut heads = heads.into_iter().peekable();
    let mut expected_seq = 1i64;
    let mut prev: Vec<u8> = GENESIS.to_vec();

    let sql = format!(
        "select c.chain_seq, c.prev_hash, c.integrity_hash, {WALK_COLUMNS} \
         from audit_chain c left join audit_logs a on a.id = c.audit_id order by c.chain_seq"
    );
    let mut stream = sqlx::query_as::<_, ChainRow>(&sql).fetch(pool);
    while let Some(row) = stream.try_next().await? {
        let broken = |reason: String| ChainBreak {
            chain_seq: row.chain_seq,
            id: Some(row.canon.id),
            reason,
        };
        if row.chain_seq != expected_seq {
            report.first_break = Some(ChainBreak {
                chain_seq: expected_seq,
                id: None,
                reason: format!(
                    "row missing: the chain jumps from position {} to {}",
                    expected_seq - 1,
                    row.chain_seq
                ),
            });
            return Ok(report);
        }
        if row.prev_hash != prev {
            report.first_break = Some(broken(
                "link broken: prev_hash does not match the previous row's hash".into(),
            ));
            return Ok(report);
        }
        if !row.present && row.chain_seq > archived_upto {
            report.first_break = Some(broken(format!(
                "row missing: the audit row of chain position {} is gone and was not archived",
                row.chain_seq
            )));
            return Ok(report);
        }
        if !row.present {
            report.archived += 1;
        } else if row.integrity_hash != row_hash(&prev, row.chain_seq, &row.canon) {
            report.first_break = Some(broken(
                "content changed: the row's hash does not match its contents".into(),
            ));
            return Ok(report);
        }
        while let Some((head_seq, head_hash)) = heads.peek() {
            if *head_seq > row.chain_seq {
                break;
            }
            if *head_seq == row.chain_seq && *head_hash != row.integrity_hash {
                report.first_break = Some(broken("chain head recorded at sealing does not match".into()));
                return Ok(report);
            }
            report.heads_checked += 1;
            heads.next();
        }
        report.checked += 1;
        if let Some(p) = progress.filter(|_| report.checked % 1000 == 0) {
            p.send_replace(report.checked);
        }
        expected_seq += 1;
        prev = row.integrity_hash;
    }
    drop(stream);
    if let Some((head_seq, _)) = heads.next() {
        report.first_break = Some(ChainBreak {
            chain_seq: expected_seq,
            id: None,
            reason: format!(
                "rows removed from the end: the chain stops at position {} but sealing reached {head_seq}",
                expected_seq - 1
            ),
        });
        return Ok(report);
    }
    // a row that is neither in the chain nor waiting to be sealed was written around `record`
    let orphan: Option<Uuid> = sqlx::query_scalar(
        "select a.id from audit_logs a where not exists (select 1 from audit_chain c where c.audit_id = a.id) \
         and not exists (select 1 from audit_pending p where p.id = a.id) order by a.seq limit 1",
    )
    .fetch_optional(pool)
    .await?;
    if let Some(id) = orphan {
        report.first_break = Some(ChainBreak {
            chain_seq: expected_seq,
            id: Some(id),
            reason: "row outside the chain: it is neither sealed nor waiting to be sealed".into(),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> CanonRow {
        CanonRow {
            id: Uuid::nil(),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            actor_type: "system".into(),
            actor_user_id: None,
            action: "settings.updated".into(),
            entity_type: "settings".into(),
            entity_id: Some("ussd".into()),
            session_id: None,
            ip: None,
            user_agent: None,
            request_id: None,
            before: None,
            after: Some(r#"{"a": 1}"#.into()),
            metadata: "{}".into(),
        }
    }

    #[test]
    fn hash_covers_every_field_and_position() {
        let base = row_hash(&GENESIS, 1, &row());
        assert_ne!(base, row_hash(&GENESIS, 2, &row()), "position is hashed");
        assert_ne!(base, row_hash(&[1u8; 32], 1, &row()), "predecessor is hashed");
        let mut r = row();
        r.after = Some(r#"{"a": 2}"#.into());
        assert_ne!(base, row_hash(&GENESIS, 1, &r));
        // None and empty differ (length prefix)
        let mut r = row();
        r.entity_id = Some(String::new());
        let mut r2 = row();
        r2.entity_id = None;
        assert_ne!(row_hash(&GENESIS, 1, &r), row_hash(&GENESIS, 1, &r2));
    }
}
