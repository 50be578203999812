//! The code format `XXXX-XXYY-XXMM-XXDD`: ten characters from a CSPRNG (rejection sampling, so
//! every character of the alphabet is equally likely) and the generation date (Africa/Kigali).
//! With the check character on, the last random character is a Luhn mod N check over the other
//! random characters, so a mistyped code is told apart from a guessed one.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use rand::{CryptoRng, RngCore};

use crate::clock::kigali;

pub const RANDOM_CHARS: usize = 10;

/// The alphabet a fresh installation draws from: no 0/O or 1/I.
pub const DEFAULT_ALPHABET: &str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// Where the random characters (`R`), the date digits (`D`) and the dashes sit in a code.
const LAYOUT: &[u8; 19] = b"RRRR-RRDD-RRDD-RRDD";

/// The share of codes expected to contain `fragment` (upper-case letters, digits, dashes): a
/// planning estimate for the codes page (decision 0019). It sums, over every place the fragment
/// could sit in the layout, the chance that a code has it there: each random character is one of
/// `alphabet_len`, and a date digit always matches (a campaign's codes share their dates, so a date
/// digit filters nothing). A place that puts a letter on a date digit, or a dash anywhere but on a
/// dash, is no place at all.
pub fn expected_share(fragment: &str, alphabet_len: usize) -> f64 {
    let f = fragment.as_bytes();
    if f.is_empty() || f.len() > LAYOUT.len() {
        return 0.0;
    }
    let pick = 1.0 / alphabet_len.max(1) as f64;
    (0..=LAYOUT.len() - f.len())
        .map(|start| {
            f.iter()
                .zip(&LAYOUT[start..])
                .fold(1.0, |share, (&c, &slot)| match (slot, c) {
                    (b'-', b'-') => share,
                    (b'R', c) if c.is_ascii_alphanumeric() => share * pick,
                    (b'D', c) if c.is_ascii_digit() => share,
                    _ => 0.0,
                })
        })
        .sum()
}

/// The characters random positions are drawn from (from settings; the default leaves out the
/// look-alikes 0/O and 1/I).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alphabet {
    chars: Vec<u8>,
}

impl Alphabet {
    pub fn new(chars: &str) -> Result<Self, String> {
        let mut v: Vec<u8> = Vec::new();
        for c in chars.bytes() {
            if !(c.is_ascii_uppercase() || c.is_ascii_digit()) {
                return Err(format!("`{}` is not an upper-case letter or digit", c as char));
            }
            if v.contains(&c) {
                return Err(format!("`{}` appears twice", c as char));
            }
            v.push(c);
        }
        if !(16..=36).contains(&v.len()) {
            return Err("needs 16 to 36 characters".into());
        }
        Ok(Self { chars: v })
    }

    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The first character of `code` that no code can have: neither in this alphabet nor a digit
    /// (a generation date's digits sit between the random characters). Imported codes follow the
    /// same rule ([`super::import_csv`]).
    pub fn foreign(&self, code: &PromoCode) -> Option<char> {
        code.as_str()
            .bytes()
            .find(|&c| c != b'-' && !c.is_ascii_digit() && !self.chars.contains(&c))
            .map(char::from)
    }

    fn index(&self, c: u8) -> Option<usize> {
        self.chars.iter().position(|x| *x == c)
    }

    /// One uniformly random character: bytes at or above the largest multiple of the alphabet
    /// size are rejected, so no character is favoured.
    fn draw<R: RngCore + CryptoRng>(&self, rng: &mut R, buf: &mut [u8; 64], pos: &mut usize) -> u8 {
        let n = self.chars.len();
        let limit = 256 - (256 % n);
        loop {
            if *pos >= buf.len() {
                rng.fill_bytes(buf);
                *pos = 0;
            }
            let b = buf[*pos] as usize;
            *pos += 1;
            if b < limit {
                return self.chars[b % n];
            }
        }
    }

    /// Luhn mod N check character over `chars` (all from this alphabet).
    fn check_char(&self, chars: &[u8]) -> Option<u8> {
        let n = self.chars.len();
        let mut factor = 2;
        let mut sum = 0;
        for c in chars.iter().rev() {
            let mut addend = factor * self.index(*c)?;
            factor = if factor == 2 { 1 } else { 2 };
            addend = addend / n + addend % n;
            sum += addend;
        }
        Some(self.chars[(n - sum % n) % n])
    }

    fn check_ok(&self, chars: &[u8]) -> bool {
        let n = self.chars.len();
        let mut factor = 1;
        let mut sum = 0;
        for c in chars.iter().rev() {
            let Some(i) = self.index(*c) else { return false };
            let mut addend = factor * i;
            factor = if factor == 2 { 1 } else { 2 };
            addend = addend / n + addend % n;
            sum += addend;
        }
        sum % n == 0
    }
}

/// A code in its canonical form `XXXX-XXYY-XXMM-XXDD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PromoCode(String);

impl PromoCode {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ten random characters, in order.
    fn random_part(&self) -> [u8; RANDOM_CHARS] {
        let b = self.0.as_bytes();
        [b[0], b[1], b[2], b[3], b[5], b[6], b[10], b[11], b[15], b[16]]
    }

    /// Whether the check character (the last random one) matches the others.
    pub fn check_ok(&self, alphabet: &Alphabet) -> bool {
        alphabet.check_ok(&self.random_part())
    }
}

impl fmt::Display for PromoCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("a code has only letters and digits; `*` cannot be part of it")]
    Star,
    #[error("a code has 16 letters and digits, like ABCD-EF26-GH11-JK25")]
    Length,
    #[error("a code has only letters and digits")]
    Characters,
}

/// Parses what a person typed: lower case, spaces and missing dashes are fine.
pub fn parse(input: &str) -> Result<PromoCode, ParseError> {
    if input.contains('*') {
        return Err(ParseError::Star);
    }
    let mut core = String::with_capacity(16);
    for c in input.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        if !c.is_ascii_alphanumeric() {
            return Err(ParseError::Characters);
        }
        core.push(c.to_ascii_uppercase());
    }
    if core.len() != 16 {
        return Err(ParseError::Length);
    }
    Ok(PromoCode(format!(
        "{}-{}-{}-{}",
        &core[0..4],
        &core[4..8],
        &core[8..12],
        &core[12..16]
    )))
}

/// Makes codes for one generation date.
pub struct Generator<R> {
    alphabet: Alphabet,
    checksum: bool,
    date: [u8; 6],
    rng: R,
    buf: [u8; 64],
    pos: usize,
}

impl<R: RngCore + CryptoRng> Generator<R> {
    pub fn new(alphabet: Alphabet, checksum: bool, at: DateTime<Utc>, rng: R) -> Self {
        let local = at.with_timezone(&kigali());
        let ymd = format!("{:02}{:02}{:02}", local.year() % 100, local.month(), local.day());
        let mut date = [0u8; 6];
        date.copy_from_slice(ymd.as_bytes());
        Self {
            alphabet,
            checksum,
            date,
            rng,
            buf: [0u8; 64],
            pos: 64,
        }
    }

    pub fn next_code(&mut self) -> PromoCode {
        let mut r = [0u8; RANDOM_CHARS];
        let random = if self.checksum { RANDOM_CHARS - 1 } else { RANDOM_CHARS };
        for slot in r.iter_mut().take(random) {
            *slot = self.alphabet.draw(&mut self.rng, &mut self.buf, &mut self.pos);
        }
        if self.checksum {
            r[RANDOM_CHARS - 1] = self.alphabet.check_char(&r[..RANDOM_CHARS - 1]).unwrap_or(r[0]);
        }
        let d = self.date;
        let bytes = [
            r[0], r[1], r[2], r[3], b'-', r[4], r[5], d[0], d[1], b'-', r[6], r[7], d[2], d[3], b'-', r[8], r[9], d[4],
            d[5],
        ];
        PromoCode(String::from_utf8_lossy(&bytes).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const DEFAULT: &str = DEFAULT_ALPHABET;

    fn generator(checksum: bool) -> Generator<rand::rngs::StdRng> {
        let at = DateTime::parse_from_rfc3339("2026-11-25T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        Generator::new(
            Alphabet::new(DEFAULT).unwrap(),
            checksum,
            at,
            rand::rngs::StdRng::seed_from_u64(7),
        )
    }

    #[test]
    fn format_and_kigali_date() {
        let code = generator(false).next_code();
        let s = code.as_str();
        assert_eq!(s.len(), 19);
        // 23:30 UTC on the 25th is already the 26th in Kigali
        assert_eq!((&s[7..9], &s[12..14], &s[17..19]), ("26", "11", "26"));
        assert_eq!(s.matches('-').count(), 3);
        for (i, c) in s.chars().enumerate() {
            if [0, 1, 2, 3, 5, 6, 10, 11, 15, 16].contains(&i) {
                assert!(DEFAULT.contains(c), "{c} in {s}");
            }
        }
    }

    #[test]
    fn every_character_is_equally_likely() {
        let mut g = generator(false);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            for c in g.next_code().random_part() {
                *counts.entry(c).or_insert(0u32) += 1;
            }
        }
        assert_eq!(
            counts.len(),
            32,
            "no character of the alphabet is missing, none outside it"
        );
        let expected = 200_000.0 / 32.0;
        for (c, n) in counts {
            assert!(
                (f64::from(n) - expected).abs() < expected * 0.06,
                "{} drawn {n} times",
                c as char
            );
        }
        // an alphabet that does not divide 256 still draws uniformly (rejection sampling)
        let odd = Alphabet::new("ABCDEFGHJKLMNPQRSTUVWXYZ2345678").unwrap();
        assert_eq!(odd.len(), 31);
        let at = DateTime::parse_from_rfc3339("2026-01-05T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut g = Generator::new(odd, false, at, rand::rngs::StdRng::seed_from_u64(1));
        let mut counts = std::collections::HashMap::new();
        for _ in 0..20_000 {
            for c in g.next_code().random_part() {
                *counts.entry(c).or_insert(0u32) += 1;
            }
        }
        let expected = 200_000.0 / 31.0;
        assert!(counts
            .values()
            .all(|n| (f64::from(*n) - expected).abs() < expected * 0.06));
    }

    #[test]
    fn check_character_catches_single_typos_and_swaps() {
        let alphabet = Alphabet::new(DEFAULT).unwrap();
        let mut g = generator(true);
        for _ in 0..200 {
            let code = g.next_code();
            assert!(code.check_ok(&alphabet));
            let s = code.as_str().as_bytes().to_vec();
            for pos in [0usize, 1, 2, 3, 5, 6, 10, 11, 15] {
                for &c in DEFAULT.as_bytes() {
                    if c == s[pos] {
                        continue;
                    }
                    let mut t = s.clone();
                    t[pos] = c;
                    let typo = parse(std::str::from_utf8(&t).unwrap()).unwrap();
                    assert!(!typo.check_ok(&alphabet), "{typo} passes");
                }
            }
        }
        // neighbours swapped within a group: Luhn mod N catches nearly all
        let (mut swapped, mut caught) = (0, 0);
        for _ in 0..2000 {
            let mut t = g.next_code().as_str().as_bytes().to_vec();
            if t[0] == t[1] {
                continue;
            }
            t.swap(0, 1);
            swapped += 1;
            if !parse(std::str::from_utf8(&t).unwrap()).unwrap().check_ok(&alphabet) {
                caught += 1;
            }
        }
        assert!(caught * 100 >= swapped * 95, "caught {caught} of {swapped} swaps");
    }

    #[test]
    fn parsing_forgives_keypads_but_not_stars() {
        assert_eq!(parse("abcd ef26 gh11 jk25").unwrap().as_str(), "ABCD-EF26-GH11-JK25");
        assert_eq!(parse("ABCDEF26GH11JK25").unwrap().as_str(), "ABCD-EF26-GH11-JK25");
        assert_eq!(parse("ABCD*EF26"), Err(ParseError::Star));
        assert_eq!(parse("ABCD-EF26-GH11"), Err(ParseError::Length));
        assert_eq!(parse("ABCD-EF26-GH11-JK2#"), Err(ParseError::Characters));
    }

    #[test]
    fn characters_outside_the_alphabet_and_the_digits_are_foreign() {
        let a = Alphabet::new(DEFAULT).unwrap();
        assert_eq!(a.foreign(&parse("ABCD-EF26-GH11-JK25").unwrap()), None);
        assert_eq!(a.foreign(&parse("ABCD-EF26-GH11-JK05").unwrap()), None);
        assert_eq!(a.foreign(&parse("ABCD-EF26-GHI1-JKO5").unwrap()), Some('I'));
        assert_eq!(a.foreign(&generator(true).next_code()), None);
    }

    #[test]
    fn alphabets_are_checked() {
        assert!(Alphabet::new("ABC").is_err());
        assert!(Alphabet::new("AABCDEFGHJKLMNPQRS").is_err());
        assert!(Alphabet::new("abcdefghjklmnpqrs").is_err());
    }

    #[test]
    fn expected_share_counts_the_places_a_fragment_fits() {
        let k = 32.0_f64;
        // three random characters and the dash after the first group: only the three places that
        // put the dash on a dash, and only two of them keep the letters off the date
        let share = expected_share("YZ26-R", 32);
        assert!((share - (2.0 / k.powi(3) + 1.0 / k.powi(5))).abs() < 1e-12, "{share}");
        // a letter never sits on a date digit, a dash only on a dash, and no fragment is longer
        // than a code
        assert_eq!(expected_share("ABCDE", 32), 0.0);
        assert_eq!(expected_share("A-BCD", 32), 0.0);
        assert_eq!(expected_share("ABCD-EF26-GH11-JK25-", 32), 0.0);
        // date digits filter nothing: "26" fits on every year, month and day
        assert!(expected_share("26", 32) >= 3.0);
        // more pinned characters, rarer
        assert!(expected_share("8UM", 32) < expected_share("8U", 32));
        // a whole code fits in exactly one place
        let whole = expected_share("ABCD-EF26-GH11-JK25", 32);
        assert!((whole - 1.0 / k.powi(10)).abs() < 1e-20, "{whole}");
    }
}
