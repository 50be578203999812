//! The description of every setting: what the console shows (label, help, input, unit,
//! bounds) and where the setting takes effect. One [`Key`] per leaf of [`super::Settings`]
//! (a [`Input::Localized`] pair counts as one key); the settings pages are generated from these,
//! `docs/settings.md` too, and the tests below fail when a stored key has no description, or a
//! key said to be applied is not read where the registry says.

use super::Category;

mod analytics;
mod backup;
mod branding;
mod business;
mod integrations;
mod notifications;
mod payments;
mod security;
mod ussd;

/// How a setting is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// One line of text, at most `max` characters.
    Text {
        max: u32,
    },
    /// Several lines (messages, custom CSS), at most `max` characters.
    LongText {
        max: u32,
    },
    /// `#rrggbb`.
    Color,
    /// A whole number from `min` to `max`, in `unit` ("RWF", "minutes", "%", "" for a count).
    Number {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    /// On or off.
    Toggle,
    /// One of these values.
    Select(&'static [&'static str]),
    /// A list of `item`s, at most `max` of them.
    List {
        item: Item,
        max: u32,
    },
    /// Write-only: the page shows whether a value is set, with "replace" and "clear".
    Secret,
    /// An `http(s)://` URL; `https` only when `https_in_production` and the app runs in
    /// production.
    Url {
        https_in_production: bool,
    },
    Email,
    /// An image uploaded as a `data:` URL (PNG, JPEG or SVG).
    Image,
    /// A text in English and Kinyarwanda (`{en, rw}`), at most `max` characters each.
    Localized {
        max: u32,
    },
    /// `HH:MM`, 24-hour.
    Time,
}

/// What a list holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    Text {
        max: u32,
    },
    /// An IP address or CIDR range.
    Cidr,
    Email,
    /// A web origin, `https://host[:port]`.
    Origin,
    /// A language code the USSD menu speaks.
    Language,
    Number {
        min: i64,
        max: i64,
        unit: &'static str,
    },
    Select(&'static [&'static str]),
}

/// Where a setting takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Read by these source files (paths under `crates/app/src/`), each of which must name the
    /// field (`.snake_case_name`).
    Applied { by: &'static [&'static str] },
    /// Not applied yet: the issue that applies it. The page says so in words.
    Later { issue: u32 },
}

/// One setting.
#[derive(Debug, Clone, Copy)]
pub struct Key {
    /// Dotted path inside the category, as the API names it: `maxAmount`,
    /// `expiration.autoExpireEnabled`.
    pub path: &'static str,
    pub label: &'static str,
    /// What the setting does, in the operator's words.
    pub help: &'static str,
    pub input: Input,
    pub effect: Effect,
}

/// A group of keys shown together on a category page.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    pub title: &'static str,
    pub keys: &'static [Key],
}

/// A category as the console shows it.
#[derive(Debug, Clone, Copy)]
pub struct CategoryDoc {
    pub category: Category,
    pub title: &'static str,
    /// One sentence: what this category governs.
    pub summary: &'static str,
    pub sections: &'static [Section],
}

impl CategoryDoc {
    pub fn keys(&self) -> impl Iterator<Item = &'static Key> + '_ {
        self.sections.iter().flat_map(|s| s.keys.iter())
    }

    pub fn key(&self, path: &str) -> Option<&'static Key> {
        self.keys().find(|k| k.path == path)
    }
}

/// Every category's description, in the console's order.
pub fn all() -> [&'static CategoryDoc; 9] {
    [
        &branding::DOC,
        &ussd::DOC,
        &payments::DOC,
        &business::DOC,
        &security::DOC,
        &notifications::DOC,
        &analytics::DOC,
        &integrations::DOC,
        &backup::DOC,
    ]
}

pub fn of(category: Category) -> &'static CategoryDoc {
    match all().into_iter().find(|d| d.category == category) {
        Some(d) => d,
        None => unreachable!("every category has a description (tested)"),
    }
}

/// `autoExpireEnabled` → `auto_expire_enabled`.
pub fn snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Keys shorthand for the category files.
#[allow(unused_macros)] // until the categories are described
macro_rules! key {
    ($path:literal, $label:literal, $help:literal, $input:expr, $effect:expr) => {
        $crate::settings::registry::Key {
            path: $path,
            label: $label,
            help: $help,
            input: $input,
            effect: $effect,
        }
    };
}
pub(crate) use key;

#[cfg(test)]
mod tests;
