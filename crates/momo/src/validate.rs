//! What MoMo rejects with 400, checked on our side first so a payout never fails for a reason we
//! could have seen (A5, A13, A16.9). The simulator applies the same rules to what it receives.

use thiserror::Error;
use uuid::Uuid;

/// The longest `payerMessage` / `payeeNote`: MTN's pages say 160 and 128; the stricter one holds (A13).
pub const NOTE_MAX: usize = 128;

/// A request MoMo would refuse with 400.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidRequest {
    #[error("amount {0:?} is not a whole positive number of units")]
    Amount(String),
    #[error("currency {0:?} is not a 3-letter ISO 4217 code")]
    Currency(String),
    #[error("partyIdType {0:?}: only MSISDN is supported")]
    PartyIdType(String),
    #[error("MSISDN {0:?} is not 8–15 digits with the country code and without +")]
    Msisdn(String),
    #[error("{field}: {problem}")]
    Text { field: &'static str, problem: &'static str },
    #[error("reference id {0} is not a UUID v4")]
    ReferenceId(Uuid),
}

/// `"5000"`: digits only, no leading zero, no decimals (MoMo: "unsupported decimals"; RWF has none).
pub fn check_amount(amount: &str) -> Result<(), InvalidRequest> {
    let digits = !amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit());
    if digits && !amount.starts_with('0') {
        Ok(())
    } else {
        Err(InvalidRequest::Amount(amount.to_owned()))
    }
}

/// Three upper-case letters. Whether it matches the environment is MoMo's call (500 INVALID_CURRENCY).
pub fn check_currency(currency: &str) -> Result<(), InvalidRequest> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(())
    } else {
        Err(InvalidRequest::Currency(currency.to_owned()))
    }
}

/// E.164 digits without `+`, country code first: `250788123456` (A5, A14).
pub fn check_msisdn(msisdn: &str) -> Result<(), InvalidRequest> {
    let digits = msisdn.bytes().all(|b| b.is_ascii_digit());
    if digits && (8..=15).contains(&msisdn.len()) && !msisdn.starts_with('0') {
        Ok(())
    } else {
        Err(InvalidRequest::Msisdn(msisdn.to_owned()))
    }
}

/// MoMo demands `X-Reference-Id` be a UUID v4 (A2, A13).
pub fn check_reference(reference: Uuid) -> Result<(), InvalidRequest> {
    if reference.get_version_num() == 4 {
        Ok(())
    } else {
        Err(InvalidRequest::ReferenceId(reference))
    }
}

/// A note: non-empty, at most [`NOTE_MAX`] characters, only characters MoMo accepts.
pub fn check_note(field: &'static str, note: &str) -> Result<(), InvalidRequest> {
    if note.chars().count() > NOTE_MAX {
        return Err(InvalidRequest::Text {
            field,
            problem: "longer than 128 characters",
        });
    }
    check_text(field, note)
}

/// A free-text field: non-empty and only [`is_accepted`] characters.
pub fn check_text(field: &'static str, text: &str) -> Result<(), InvalidRequest> {
    if text.trim().is_empty() {
        return Err(InvalidRequest::Text {
            field,
            problem: "empty",
        });
    }
    if !text.chars().all(is_accepted) {
        return Err(InvalidRequest::Text {
            field,
            problem: "contains an apostrophe, a quote, a control or a non-ASCII character",
        });
    }
    Ok(())
}

/// Printable ASCII without the apostrophe MoMo is documented to reject, and without the quote,
/// backtick, backslash and angle brackets that gateways commonly reject with it (A13, conservative).
pub fn is_accepted(c: char) -> bool {
    (c.is_ascii_graphic() || c == ' ') && !matches!(c, '\'' | '"' | '`' | '\\' | '<' | '>')
}

/// A note MoMo accepts, from any text: accented Latin letters lose their accent, apostrophes
/// (Kinyarwanda `n'`, `w'`) become spaces, other rejected characters go, spaces collapse, and the
/// result is cut to [`NOTE_MAX`] characters. May be empty; [`check_note`] says so.
pub fn clean_note(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().map(fold) {
        let c = if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '`' | '\u{b4}') || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if !is_accepted(c) || (c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            continue;
        }
        out.push(c);
    }
    out.truncate(NOTE_MAX);
    out.trim_end().to_owned()
}

/// The base letter of a common accented Latin letter; anything else unchanged.
fn fold(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' => 'o',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        'ç' => 'c',
        'Ç' => 'C',
        'ñ' => 'n',
        'Ñ' => 'N',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_whole_positive_numbers() {
        assert!(check_amount("5000").is_ok());
        for bad in ["", "0", "050", "5000.00", "-5", "5 000", "1e3"] {
            assert!(check_amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn msisdns_are_digits_with_country_code() {
        assert!(check_msisdn("250788123456").is_ok());
        assert!(check_msisdn("46733123450").is_ok());
        for bad in ["+250788123456", "0788123456", "07XXXXXXXX", "2507", ""] {
            assert!(check_msisdn(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinyarwanda_notes_become_plain_ascii() {
        assert_eq!(
            clean_note("Wahawe n'amafaranga ya MBELYCO"),
            "Wahawe n amafaranga ya MBELYCO"
        );
        assert_eq!(clean_note("Murakoze  cyane’ — café"), "Murakoze cyane cafe");
        assert_eq!(clean_note("say \"hi\"\n<b>"), "say hi b");
        let long = "x".repeat(300);
        assert_eq!(clean_note(&long).len(), NOTE_MAX);
        assert!(check_note("payeeNote", &clean_note("Wahawe n'amafaranga")).is_ok());
    }

    #[test]
    fn notes_with_apostrophes_or_too_long_are_refused() {
        assert!(check_note("payeeNote", "n'amafaranga").is_err());
        assert!(check_note("payeeNote", "café").is_err());
        assert!(check_note("payeeNote", &"x".repeat(129)).is_err());
        assert!(check_note("payeeNote", " ").is_err());
        assert!(check_note("payeeNote", &"x".repeat(128)).is_ok());
    }

    #[test]
    fn only_v4_references() {
        assert!(check_reference(Uuid::new_v4()).is_ok());
        assert!(check_reference(Uuid::now_v7()).is_err());
    }
}
