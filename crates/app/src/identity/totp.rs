//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s) for staff two-factor sign-in, with replay protection:
//! a code is accepted for the current step or one step either side, and only for a step later
//! than the last one accepted.

use qrcode::render::svg;
use qrcode::QrCode;
use rand::RngCore;
use totp_rs::{Algorithm, TOTP};

pub const ISSUER: &str = "MBELYCO Promo";
const STEP: u64 = 30;

/// A new random 160-bit secret, base32 (what authenticator apps show for manual entry).
pub fn new_secret() -> String {
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &bytes)
}

fn totp(secret_b32: &str, account: &str) -> Option<TOTP> {
    let bytes = base32::decode(base32::Alphabet::Rfc4648 { padding: false }, secret_b32)?;
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP,
        bytes,
        Some(ISSUER.to_owned()),
        account.to_owned(),
    )
    .ok()
}

/// The `otpauth://` URL an authenticator app scans.
pub fn provisioning_url(secret_b32: &str, account: &str) -> Option<String> {
    totp(secret_b32, account).map(|t| t.get_url())
}

/// The provisioning URL as an SVG QR code, rendered on the server.
pub fn qr_svg(secret_b32: &str, account: &str) -> Option<String> {
    let url = provisioning_url(secret_b32, account)?;
    let code = QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(220, 220)
            .dark_color(svg::Color("#111827"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}

pub fn code_at(secret_b32: &str, unix_secs: u64) -> Option<String> {
    totp(secret_b32, "").map(|t| t.generate(unix_secs))
}

/// The time step a code belongs to (current ±1), if it is valid and later than `last_step`.
pub fn matching_step(secret_b32: &str, code: &str, unix_secs: u64, last_step: Option<i64>) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "")?;
    let now_step = (unix_secs / STEP) as i64;
    for step in [now_step - 1, now_step, now_step + 1] {
        if step < 0 || last_step.is_some_and(|last| step <= last) {
            continue;
        }
        let expected = t.generate(step as u64 * STEP);
        if constant_time_eq(expected.as_bytes(), code.as_bytes()) {
            return Some(step);
        }
    }
    None
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // the 6-digit code is its last six digits.
        let secret = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, b"12345678901234567890");
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
    }

    #[test]
    fn accepts_neighbouring_steps_once() {
        let s = new_secret();
        let now = 1_700_000_000u64;
        let code = code_at(&s, now).unwrap();
        let step = matching_step(&s, &code, now, None).expect("valid now");
        assert_eq!(step, (now / 30) as i64);
        assert_eq!(
            matching_step(&s, &code, now + 30, None),
            Some(step),
            "a little clock drift is fine"
        );
        assert_eq!(matching_step(&s, &code, now + 90, None), None, "too old");
        assert_eq!(
            matching_step(&s, &code, now, Some(step)),
            None,
            "a used code cannot be replayed"
        );
        assert_eq!(matching_step(&s, "12345", now, None), None);
        assert_eq!(matching_step(&s, "abcdef", now, None), None);
    }

    #[test]
    fn qr_is_svg_of_an_otpauth_url() {
        let s = new_secret();
        let url = provisioning_url(&s, "amina@mbelyco.rw").unwrap();
        assert!(url.starts_with("otpauth://totp/"));
        assert!(url.contains(&s));
        let svg = qr_svg(&s, "amina@mbelyco.rw").unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
