//! What a USSD hop's text looks like once stored: typed codes masked (issue 17, item 3).
//!
//! Africa's Talking sends the whole input history (`1*ABCD-EF26-GH11-JK25`). The session row,
//! the interaction log and the end-of-session notification keep that history, and staff who may
//! not read codes see it. So every part of it that is not a menu choice is masked before it is
//! stored, with the mask the monitor already uses for codes (`ABCD-…-JK25`); anything else a
//! customer typed at a code prompt becomes `…`. The mask works part by part (between the `*`s)
//! and needs no menu state, so the same function serves the hop, the notification and the
//! migration that masked the rows stored before (migration 23 repeats it in SQL).
//!
//! The protocol still needs the real text: a repeated hop is recognised by a digest of it
//! ([`digest`]), and the newest input is cut from the text by counting parts
//! ([`crate::ussd::menu::new_input`]).

use std::borrow::Cow;

use crate::codes::format;

/// A menu choice kept as typed: nothing, one digit, or `00`.
fn is_choice(bare: &str) -> bool {
    bare.is_empty() || bare == "00" || (bare.len() == 1 && bare.as_bytes()[0].is_ascii_digit())
}

/// A part that is already a mask (`ABCD-…-JK25` or `…`): masking twice changes nothing.
fn is_masked(part: &str) -> bool {
    if part == "…" {
        return true;
    }
    let alnum4 = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    matches!(part.split_once("-…-"), Some((head, tail)) if alnum4(head) && alnum4(tail))
}

/// One part of the input history, masked unless it is a menu choice.
fn mask_part(part: &str) -> Cow<'_, str> {
    let bare = part.trim().trim_end_matches('#').trim();
    if is_choice(bare) || is_masked(part) {
        return Cow::Borrowed(part);
    }
    match format::parse(bare) {
        Ok(code) => Cow::Owned(super::views::mask_code(code.as_str())),
        Err(_) => Cow::Borrowed("…"),
    }
}

/// The input history as it is stored and shown: every part that is not a menu choice masked.
/// Keeps the number of parts, so a stored history still tells where the newest input starts.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, part) in text.split('*').enumerate() {
        if i > 0 {
            out.push('*');
        }
        out.push_str(&mask_part(part));
    }
    out
}

/// What the session keeps to recognise a repeated hop: SHA-256 of the real text.
pub fn digest(text: &str) -> Vec<u8> {
    crate::crypto::token_hash(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_masked_and_menu_choices_kept() {
        assert_eq!(mask(""), "");
        assert_eq!(mask("1"), "1");
        assert_eq!(mask("3*2*00*0"), "3*2*00*0");
        assert_eq!(mask("2*DPNP-MD26-UP12-4E07"), "2*DPNP-…-4E07");
        assert_eq!(mask("1*dpnp md26 up12 4e07#"), "1*DPNP-…-4E07");
        // slips at the code prompt: nothing of them is kept
        assert_eq!(mask("1*abc*DPNPMD26UP124E07"), "1*…*DPNP-…-4E07");
        assert_eq!(mask("1*DP*NP*MD*26*UP*12*4E*07"), "1*…*…*…*…*…*…*…*…");
        // as many parts as the text had
        let t = "1*ABCD*EF26GH11JK25*0";
        assert_eq!(mask(t).split('*').count(), t.split('*').count());
        // masking twice changes nothing
        for t in ["2*DPNP-MD26-UP12-4E07", "1*abc*x", "1*ABCD-…-JK25*…*0"] {
            assert_eq!(mask(&mask(t)), mask(t));
        }
    }

    #[test]
    fn the_digest_tells_texts_apart() {
        assert_eq!(digest("1*ABCD-EF26-GH11-JK25"), digest("1*ABCD-EF26-GH11-JK25"));
        assert_ne!(digest("1*ABCD-EF26-GH11-JK25"), digest("1*ABCD-EF27-GH11-JK25"));
    }
}
