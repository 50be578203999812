//! The encrypted backup file (decision 0053). A key per backup: HKDF from `SECRET_KEY` with the
//! purpose `backup/<id>` (the existing [`SecretBox`] derivation), so a chunk counter can serve
//! as the nonce without ever repeating a (key, nonce) pair.
//!
//! ```text
//! file   = magic "MBKUP01\n" (8 bytes) ‖ backup id (16 bytes) ‖ frame* (the last one flagged)
//! frame  = length of ct (u32, big-endian) ‖ last (u8: 0 or 1) ‖ ct
//! ct     = AES-256-GCM(key, nonce = 0u32 ‖ counter u64 BE, plaintext ≤ 1 MiB,
//!                      aad = backup id ‖ counter u64 BE ‖ last)
//! ```
//!
//! A changed byte fails that chunk's tag; reordered, dropped or repeated chunks fail the counter
//! in the nonce; a cut-off file lacks the flagged last frame; bytes after it are refused; a file
//! of another backup fails the id in the header and in every chunk's associated data.

use secrecy::SecretString;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::crypto::SecretBox;

pub const MAGIC: &[u8; 8] = b"MBKUP01\n";
/// Plaintext bytes per chunk.
pub const CHUNK: usize = 1 << 20;
const TAG: usize = 16;

fn key(master: &SecretString, id: Uuid) -> SecretBox {
    SecretBox::derive(master, &format!("backup/{id}"))
}

fn nonce(counter: u64) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[4..].copy_from_slice(&counter.to_be_bytes());
    n
}

fn aad(id: Uuid, counter: u64, last: bool) -> [u8; 25] {
    let mut a = [0u8; 25];
    a[..16].copy_from_slice(id.as_bytes());
    a[16..24].copy_from_slice(&counter.to_be_bytes());
    a[24] = u8::from(last);
    a
}

/// Seals a backup chunk by chunk.
pub struct Sealer {
    key: SecretBox,
    id: Uuid,
    counter: u64,
}

impl Sealer {
    pub fn new(master: &SecretString, id: Uuid) -> Self {
        Self {
            key: key(master, id),
            id,
            counter: 0,
        }
    }

    pub fn header(&self) -> Vec<u8> {
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(self.id.as_bytes());
        h
    }

    /// One frame for `plain` (at most [`CHUNK`] bytes).
    pub fn frame(&mut self, plain: &[u8], last: bool) -> Vec<u8> {
        debug_assert!(plain.len() <= CHUNK);
        let ct = self
            .key
            .seal_chunk(&nonce(self.counter), plain, &aad(self.id, self.counter, last));
        self.counter += 1;
        let mut out = Vec::with_capacity(5 + ct.len());
        out.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        out.push(u8::from(last));
        out.extend_from_slice(&ct);
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    #[error("not a backup file of this system (bad header)")]
    Header,
    #[error("the file belongs to another backup")]
    OtherBackup,
    #[error("the file is cut off (no last chunk)")]
    Truncated,
    #[error("chunk {0} does not decrypt: changed, reordered or another key")]
    Chunk(u64),
    #[error("chunk {0} has an impossible length")]
    Length(u64),
    #[error("bytes follow the last chunk")]
    Trailing,
    #[error("reading the backup: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads a sealed backup from `input` and writes the plaintext to `out`; returns the plaintext
/// size. Nothing unauthenticated is written: each chunk is checked before it goes out.
pub async fn open_stream<R, W>(master: &SecretString, id: Uuid, mut input: R, out: &mut W) -> Result<u64, FormatError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut header = [0u8; 24];
    input.read_exact(&mut header).await.map_err(|_| FormatError::Header)?;
    if &header[..8] != MAGIC {
        return Err(FormatError::Header);
    }
    if header[8..] != id.as_bytes()[..] {
        return Err(FormatError::OtherBackup);
    }
    let key = key(master, id);
    let mut counter = 0u64;
    let mut written = 0u64;
    let mut ct = Vec::with_capacity(CHUNK + TAG);
    loop {
        let mut fh = [0u8; 5];
        if let Err(e) = input.read_exact(&mut fh).await {
            return Err(match e.kind() {
                std::io::ErrorKind::UnexpectedEof => FormatError::Truncated,
                _ => FormatError::Io(e),
            });
        }
        let len = u32::from_be_bytes([fh[0], fh[1], fh[2], fh[3]]) as usize;
        let last = match fh[4] {
            0 => false,
            1 => true,
            _ => return Err(FormatError::Chunk(counter)),
        };
        if !(TAG..=CHUNK + TAG).contains(&len) {
            return Err(FormatError::Length(counter));
        }
        ct.resize(len, 0);
        input.read_exact(&mut ct).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => FormatError::Truncated,
            _ => FormatError::Io(e),
        })?;
        let plain = key
            .open_chunk(&nonce(counter), &ct, &aad(id, counter, last))
            .map_err(|_| FormatError::Chunk(counter))?;
        out.write_all(&plain).await?;
        written += plain.len() as u64;
        counter += 1;
        if last {
            let mut probe = [0u8; 1];
            if input.read(&mut probe).await? != 0 {
                return Err(FormatError::Trailing);
            }
            out.flush().await?;
            return Ok(written);
        }
    }
}

/// Reads up to `buf.len()` bytes, stopping early only at the end of the input.
pub async fn fill<R: AsyncRead + Unpin>(input: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        let k = input.read(&mut buf[n..]).await?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn seal(master: &SecretString, id: Uuid, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = Sealer::new(master, id);
        let mut out = s.header();
        let mut chunks = data.chunks(chunk).peekable();
        if chunks.peek().is_none() {
            out.extend(s.frame(&[], true));
        }
        while let Some(c) = chunks.next() {
            out.extend(s.frame(c, chunks.peek().is_none()));
        }
        out
    }

    async fn open(master: &SecretString, id: Uuid, file: &[u8]) -> Result<Vec<u8>, FormatError> {
        let mut out = Vec::new();
        open_stream(master, id, file, &mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn backup_format_round_trips_and_refuses_every_change() {
        let master = SecretString::from("k".repeat(40));
        let id = Uuid::new_v4();
        let data: Vec<u8> = (0..5000u32).flat_map(|i| i.to_le_bytes()).collect();
        let file = seal(&master, id, &data, 4096).await;
        assert_eq!(open(&master, id, &file).await.unwrap(), data);
        assert_eq!(
            open(&master, id, &seal(&master, id, &[], 4096).await).await.unwrap(),
            Vec::<u8>::new()
        );

        let mut flipped = file.clone();
        flipped[100] ^= 1;
        assert!(matches!(open(&master, id, &flipped).await, Err(FormatError::Chunk(0))));
        let cut = &file[..file.len() - 30];
        assert!(matches!(open(&master, id, cut).await, Err(FormatError::Truncated)));
        let mut trailing = file.clone();
        trailing.push(0);
        assert!(matches!(open(&master, id, &trailing).await, Err(FormatError::Trailing)));
        assert!(matches!(
            open(&master, Uuid::new_v4(), &file).await,
            Err(FormatError::OtherBackup)
        ));
        let other_key = SecretString::from("x".repeat(40));
        assert!(matches!(open(&other_key, id, &file).await, Err(FormatError::Chunk(0))));
        // the last frame dropped: the one before it is not flagged last
        let frame = 5 + 4096 + 16;
        let without_last = &file[..24 + 4 * frame];
        assert!(matches!(
            open(&master, id, without_last).await,
            Err(FormatError::Truncated)
        ));
    }
}
