//! Will this text fit on a handset's USSD screen? (INTEGRATIONS.md B5, B11.6)
//!
//! A USSD screen carries 160 octets: 182 characters of the GSM 03.38 7-bit alphabet, or about 80
//! when a single character outside it (an emoji, a smart quote) forces the whole screen to UCS-2.
//! The house budget is 160 characters after the `CON `/`END ` prefix, leaving room for operators
//! that truncate early.

use serde::Serialize;

/// The house budget for one screen's text.
pub const SOFT_LIMIT: usize = 160;
/// The most GSM-7 characters one USSD screen can carry.
pub const GSM7_HARD_LIMIT: usize = 182;
/// The most UCS-2 characters one USSD screen can carry.
pub const UCS2_HARD_LIMIT: usize = 80;

/// The GSM 03.38 basic character set (without the escape code itself).
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: each costs two septets (escape + code).
const EXTENSION: &str = "\u{0C}^{}\\[~]|€";

/// How many septets `c` takes in GSM-7, or `None` if GSM-7 cannot encode it.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The GSM-7 length of `text` (extension characters count 2), or `None` if any character is
/// outside the GSM 03.38 basic set and extension table.
pub fn gsm7_length(text: &str) -> Option<usize> {
    text.chars().map(septets).sum()
}

/// The encoding a screen's text forces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// What a screen's text costs and whether it breaks a limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScreenCheck {
    /// GSM-7 septets, or UTF-16 code units when the text needs UCS-2 (an emoji counts 2).
    pub chars: usize,
    pub encoding: Encoding,
    /// Above the house budget of [`SOFT_LIMIT`]: shorten it.
    pub over_soft_limit: bool,
    /// Above what a USSD screen can carry at all ([`GSM7_HARD_LIMIT`] / [`UCS2_HARD_LIMIT`]).
    pub over_hard_limit: bool,
    /// The characters outside GSM-7 that forced UCS-2, each once, in order of appearance.
    pub non_gsm7: Vec<char>,
}

/// Checks the text of one screen (the part after `CON `/`END `).
pub fn screen_check(text: &str) -> ScreenCheck {
    match gsm7_length(text) {
        Some(chars) => ScreenCheck {
            chars,
            encoding: Encoding::Gsm7,
            over_soft_limit: chars > SOFT_LIMIT,
            over_hard_limit: chars > GSM7_HARD_LIMIT,
            non_gsm7: Vec::new(),
        },
        None => {
            let chars = text.encode_utf16().count();
            let mut non_gsm7: Vec<char> = Vec::new();
            for c in text.chars().filter(|&c| septets(c).is_none()) {
                if !non_gsm7.contains(&c) {
                    non_gsm7.push(c);
                }
            }
            ScreenCheck {
                chars,
                encoding: Encoding::Ucs2,
                over_soft_limit: chars > SOFT_LIMIT,
                over_hard_limit: chars > UCS2_HARD_LIMIT,
                non_gsm7,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_menus_are_gsm7() {
        assert_eq!(gsm7_length("1. Redeem code\n2. Help"), Some(22));
        assert_eq!(gsm7_length("Murakoze! Café à 5000 RWF"), Some(25));
        assert_eq!(gsm7_length(""), Some(0));
    }

    #[test]
    fn extension_characters_count_two() {
        assert_eq!(gsm7_length("[1]"), Some(5));
        assert_eq!(gsm7_length("^{}\\[~]|€"), Some(18));
    }

    #[test]
    fn emoji_and_smart_quotes_are_not_gsm7() {
        assert_eq!(gsm7_length("INJIZA 📒"), None);
        assert_eq!(gsm7_length("Don’t"), None);
        assert_eq!(gsm7_length("ç"), None, "only the capital Ç is in the basic set");
    }

    #[test]
    fn limits_follow_the_encoding() {
        let at_soft = "a".repeat(160);
        let check = screen_check(&at_soft);
        assert_eq!((check.chars, check.encoding), (160, Encoding::Gsm7));
        assert!(!check.over_soft_limit && !check.over_hard_limit);

        let over_soft = screen_check(&"a".repeat(161));
        assert!(over_soft.over_soft_limit && !over_soft.over_hard_limit);

        let over_hard = screen_check(&"a".repeat(183));
        assert!(over_hard.over_hard_limit);

        let braces = screen_check(&"{".repeat(92));
        assert_eq!(braces.chars, 184);
        assert!(braces.over_hard_limit, "extension characters use the budget twice");
    }

    #[test]
    fn one_emoji_switches_the_screen_to_ucs2() {
        let text = format!("{}📒’", "a".repeat(77));
        let check = screen_check(&text);
        assert_eq!(check.encoding, Encoding::Ucs2);
        assert_eq!(check.chars, 80);
        assert!(!check.over_hard_limit);
        assert_eq!(check.non_gsm7, vec!['📒', '’']);
        assert!(screen_check(&format!("{text}a")).over_hard_limit);
    }
}
