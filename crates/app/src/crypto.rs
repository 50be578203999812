//! Secrets at rest: AES-256-GCM under keys derived (HKDF-SHA256) from `SECRET_KEY`, one key per
//! purpose, and hashing helpers for tokens. A ciphertext is bound to where it is stored (the
//! associated data), so a value copied from one setting into another fails to decrypt.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use hkdf::Hkdf;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const ENVELOPE_PREFIX: &str = "v1:";

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored secret is not a valid envelope")]
    Malformed,
    #[error("the stored secret cannot be decrypted with this SECRET_KEY")]
    Decrypt,
}

/// Encrypts and decrypts small secrets for one purpose (settings, TOTP secrets, …).
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn derive(master: &SecretString, purpose: &str) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"mbelyco-promo/v1"), master.expose_secret().as_bytes());
        let mut key = [0u8; 32];
        hk.expand(purpose.as_bytes(), &mut key)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            cipher: Aes256Gcm::new(&key.into()),
        }
    }

    /// `v1:` + base64(nonce ‖ ciphertext+tag).
    pub fn seal(&self, plaintext: &str, context: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        let mut out = Vec::with_capacity(12 + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        format!("{ENVELOPE_PREFIX}{}", B64.encode(out))
    }

    pub fn open(&self, envelope: &str, context: &str) -> Result<SecretString, CryptoError> {
        let raw = envelope.strip_prefix(ENVELOPE_PREFIX).ok_or(CryptoError::Malformed)?;
        let bytes = B64.decode(raw).map_err(|_| CryptoError::Malformed)?;
        if bytes.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ct) = bytes.split_at(12);
        let pt = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(pt)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Decrypt)
    }

    /// Seals `msg` under a nonce the caller guarantees is used once with this key (the backup
    /// format: a key per backup, the chunk counter as the nonce).
    pub fn seal_chunk(&self, nonce: &[u8; 12], msg: &[u8], aad: &[u8]) -> Vec<u8> {
        self.cipher
            .encrypt(Nonce::from_slice(nonce), Payload { msg, aad })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail")
    }

    /// Opens what [`SecretBox::seal_chunk`] sealed; fails on any changed byte, nonce or `aad`.
    pub fn open_chunk(&self, nonce: &[u8; 12], ct: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .map_err(|_| CryptoError::Decrypt)
    }

    pub fn is_envelope(value: &str) -> bool {
        value.starts_with(ENVELOPE_PREFIX)
    }
}

/// The keys derived from `SECRET_KEY`, one per purpose.
#[derive(Clone, Debug)]
pub struct Keys {
    pub settings: SecretBox,
    pub totp: SecretBox,
    hmac: [u8; 32],
}

impl Keys {
    pub fn derive(master: &SecretString) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"mbelyco-promo/v1"), master.expose_secret().as_bytes());
        let mut hmac = [0u8; 32];
        hk.expand(b"backup-codes", &mut hmac)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self {
            settings: SecretBox::derive(master, "settings"),
            totp: SecretBox::derive(master, "totp"),
            hmac,
        }
    }

    /// Keyed hash for low-entropy one-time codes (backup codes): a database leak alone does not
    /// let anyone test guesses offline.
    pub fn code_mac(&self, code: &str) -> String {
        use hmac::Mac;
        let mut mac = <hmac::Hmac<Sha256> as Mac>::new_from_slice(&self.hmac).expect("HMAC takes any key length");
        mac.update(code.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// SHA-256 of a bearer token (session cookie, API key, set-up link): tokens are stored hashed.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A URL-safe random token with `bytes` bytes of entropy.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Shows only the last four characters of a secret: `••••••wxyz`.
pub fn mask(secret: &str) -> String {
    let n = secret.chars().count();
    if n <= 4 {
        return "••••".to_owned();
    }
    let tail: String = secret.chars().skip(n - 4).collect();
    format!("••••••{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(purpose: &str) -> SecretBox {
        SecretBox::derive(&SecretString::from("x".repeat(40)), purpose)
    }

    #[test]
    fn round_trip_and_binding() {
        let b = boxed("settings");
        let env = b.seal("momo-api-key-123", "payments.momoApiKey");
        assert!(!env.contains("momo-api-key"));
        assert_eq!(
            b.open(&env, "payments.momoApiKey").unwrap().expose_secret(),
            "momo-api-key-123"
        );
        // bound to its place, and to its purpose
        assert!(b.open(&env, "ussd.africasTalkingApiKey").is_err());
        assert!(boxed("totp").open(&env, "payments.momoApiKey").is_err());
        // fresh nonce every time
        assert_ne!(env, b.seal("momo-api-key-123", "payments.momoApiKey"));
    }

    #[test]
    fn other_secret_key_cannot_open() {
        let env = boxed("settings").seal("s3cret", "c");
        let other = SecretBox::derive(&SecretString::from("y".repeat(40)), "settings");
        assert!(matches!(other.open(&env, "c"), Err(CryptoError::Decrypt)));
        assert!(matches!(other.open("garbage", "c"), Err(CryptoError::Malformed)));
    }

    #[test]
    fn masks_keep_only_the_tail() {
        assert_eq!(mask("abcdefghij"), "••••••ghij");
        assert_eq!(mask("abc"), "••••");
    }
}
