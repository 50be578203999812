//! Filling a template, and what its text costs on the channel it goes out on: pure functions,
//! shared by the senders, the editor's live preview and the checks made when a template is saved.
//!
//! A variable is a lowercase name in braces (`{amount}`); any other brace is text.

use africastalking::gsm7;
use serde::Serialize;
use utoipa::ToSchema;

use super::catalogue::Channel;

/// The variables `text` names, in order (repeats included).
pub fn variables(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let open = rest.find('{')?;
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            rest = "";
            return None;
        };
        let name = &after[..close];
        if is_name(name) {
            rest = &after[close + 1..];
            return Some(name);
        }
        // `{` without a name after it is text: look again from the next character
        rest = after;
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// `template` with each `{name}` of `values` put in; other braces are left as they are.
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let filled = after.find('}').and_then(|close| {
            let name = &after[..close];
            let value = values.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)?;
            Some((value, close))
        });
        match filled {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The encoding an SMS or USSD text needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum Encoding {
    #[serde(rename = "GSM-7")]
    Gsm7,
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// What a rendered text costs on its channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cost {
    /// Characters as the channel counts them: GSM-7 septets (an extension character such as
    /// `€` or `{` counts 2) or UTF-16 units (an emoji counts 2); plain characters for e-mail.
    pub characters: usize,
    /// SMS and USSD: the encoding the text forces.
    pub encoding: Option<Encoding>,
    /// SMS: how many messages it is sent as (and paid for).
    pub segments: Option<usize>,
    /// SMS: the characters one message of this encoding carries (160 / 70 alone, 153 / 67 each
    /// when concatenated).
    pub per_segment: Option<usize>,
    /// USSD: the most one screen carries in this encoding (182 GSM-7, 80 UCS-2).
    pub limit: Option<usize>,
    /// USSD: over [`Self::limit`], or over the house budget of 160.
    pub over_limit: bool,
    pub over_budget: bool,
    /// The characters outside GSM-7 that forced UCS-2, each once.
    pub non_gsm7: Vec<String>,
}

/// SMS sizes: one message alone, and each part of a concatenated one (the rest is the header).
const GSM7_SINGLE: usize = 160;
const GSM7_PART: usize = 153;
const UCS2_SINGLE: usize = 70;
const UCS2_PART: usize = 67;

/// What `text` costs on `channel`.
pub fn cost(channel: Channel, text: &str) -> Cost {
    let check = gsm7::screen_check(text);
    let encoding = match check.encoding {
        gsm7::Encoding::Gsm7 => Encoding::Gsm7,
        gsm7::Encoding::Ucs2 => Encoding::Ucs2,
    };
    let non_gsm7 = check.non_gsm7.iter().map(|c| c.to_string()).collect();
    match channel {
        Channel::Email => Cost {
            characters: text.chars().count(),
            encoding: None,
            segments: None,
            per_segment: None,
            limit: None,
            over_limit: false,
            over_budget: false,
            non_gsm7: Vec::new(),
        },
        Channel::Sms => {
            let (single, part) = match encoding {
                Encoding::Gsm7 => (GSM7_SINGLE, GSM7_PART),
                Encoding::Ucs2 => (UCS2_SINGLE, UCS2_PART),
            };
            let n = check.chars;
            let (segments, per) = if n <= single {
                (1, single)
            } else {
                (n.div_ceil(part), part)
            };
            Cost {
                characters: n,
                encoding: Some(encoding),
                segments: Some(segments),
                per_segment: Some(per),
                limit: None,
                over_limit: false,
                over_budget: false,
                non_gsm7,
            }
        }
        Channel::Ussd => Cost {
            characters: check.chars,
            encoding: Some(encoding),
            segments: None,
            per_segment: None,
            limit: Some(match encoding {
                Encoding::Gsm7 => gsm7::GSM7_HARD_LIMIT,
                Encoding::Ucs2 => gsm7::UCS2_HARD_LIMIT,
            }),
            over_limit: check.over_hard_limit,
            over_budget: check.over_soft_limit,
            non_gsm7,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_lowercase_names_in_braces() {
        let found: Vec<&str> = variables("Hi {name}, {amount} {x y} {} {Big} {{ref}} {open").collect();
        assert_eq!(found, vec!["name", "amount", "ref"]);
        assert_eq!(
            render(
                "Hi {name}: {amount} {x y} {ref}{",
                &[("name", "Ana"), ("amount", "5,000")]
            ),
            "Hi Ana: 5,000 {x y} {ref}{"
        );
        // a value holding braces is not filled again
        assert_eq!(render("{a}{b}", &[("a", "{b}"), ("b", "2")]), "{b}2");
    }

    #[test]
    fn sms_segments_follow_the_encoding() {
        let one = cost(Channel::Sms, &"a".repeat(160));
        assert_eq!(
            (one.encoding, one.segments, one.per_segment),
            (Some(Encoding::Gsm7), Some(1), Some(160))
        );
        let two = cost(Channel::Sms, &"a".repeat(161));
        assert_eq!((two.segments, two.per_segment), (Some(2), Some(153)));
        assert_eq!(cost(Channel::Sms, &"a".repeat(306)).segments, Some(2));
        assert_eq!(cost(Channel::Sms, &"a".repeat(307)).segments, Some(3));
        let curly = cost(Channel::Sms, &format!("Don’t {}", "a".repeat(60)));
        assert_eq!(curly.encoding, Some(Encoding::Ucs2));
        assert_eq!(
            (curly.characters, curly.segments, curly.per_segment),
            (66, Some(1), Some(70))
        );
        assert_eq!(curly.non_gsm7, vec!["’"]);
        let long = cost(Channel::Sms, &format!("😀{}", "a".repeat(69)));
        assert_eq!(
            (long.characters, long.segments, long.per_segment),
            (71, Some(2), Some(67))
        );
    }

    #[test]
    fn ussd_screens_have_one_limit_per_encoding() {
        let fits = cost(Channel::Ussd, &"a".repeat(182));
        assert_eq!(
            (fits.limit, fits.over_limit, fits.over_budget),
            (Some(182), false, true)
        );
        assert!(cost(Channel::Ussd, &"a".repeat(183)).over_limit);
        let emoji = cost(Channel::Ussd, &format!("😀{}", "a".repeat(79)));
        assert_eq!((emoji.limit, emoji.over_limit), (Some(80), true));
    }
}
