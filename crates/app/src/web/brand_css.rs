//! The branding settings as CSS: the brand stylesheet (custom properties on `:root` that
//! `static/app.css` uses in place of literal colours, fonts and sizes), the rules a custom
//! stylesheet must follow, and the colour contrast the validation asks of text.

use crate::settings::model::BrandingSettings;

/// The brand stylesheet: every look-related branding setting as a `--brand-*` custom property.
/// Only validated values reach here, and each is written in a form that cannot leave its
/// declaration (colours are `#rrggbb`, sizes numbers, fonts quoted names, the shadow checked by
/// [`shadow_problem`]).
pub fn stylesheet(b: &BrandingSettings) -> String {
    let color = |v: &str, fallback: &str| {
        if is_hex_color(v) {
            v.to_owned()
        } else {
            fallback.to_owned()
        }
    };
    let (primary, on_primary) = primary(b);
    let secondary = color(&b.secondary_color, "#1F2937");
    let shadow = if shadow_problem(&b.box_shadow).is_none() {
        b.box_shadow.trim().to_owned()
    } else {
        "none".to_owned()
    };
    let shadow = if shadow.is_empty() { "none".to_owned() } else { shadow };
    let vars = [
        ("primary", primary.clone()),
        ("on-primary", on_primary.to_owned()),
        ("secondary", secondary.clone()),
        ("on-secondary", on_color(&secondary).to_owned()),
        ("accent", color(&b.accent_color, "#F59E0B")),
        ("background", color(&b.background_color, "#F8FAFC")),
        ("surface", surface(&b.background_color)),
        ("text", color(&b.text_color, "#111827")),
        ("link", color(&b.link_color, "#0B5FA5")),
        ("success", color(&b.success_color, "#15803D")),
        ("warning", color(&b.warning_color, "#B45309")),
        ("error", color(&b.error_color, "#B91C1C")),
        ("font", font_stack(&b.primary_font)),
        ("font-secondary", font_stack(&b.secondary_font)),
        ("font-heading", font_stack(&b.heading_font)),
        ("font-size", format!("{}px", b.body_font_size)),
        ("heading-size", format!("{}px", b.heading_font_size)),
        ("sidebar-width", format!("{}px", b.sidebar_width)),
        ("header-height", format!("{}px", b.header_height)),
        ("radius", format!("{}px", b.border_radius)),
        ("shadow", shadow),
    ];
    let mut out = String::from("/* MBELYCO Promo: the brand, generated from the branding settings. */\n:root {\n");
    for (name, value) in vars {
        out.push_str(&format!("  --brand-{name}: {value};\n"));
    }
    out.push_str("}\n");
    out
}

/// The primary colour and the text colour that reads on it.
pub fn primary(b: &BrandingSettings) -> (String, &'static str) {
    let primary = if is_hex_color(&b.primary_color) {
        b.primary_color.clone()
    } else {
        "#0B5FA5".to_owned()
    };
    let on = on_color(&primary);
    (primary, on)
}

/// The colour of cards, the sidebar and inputs on `background`: white on a light background, the
/// background lightened a little on a dark one. Text must read on it as on the background.
pub fn surface(background: &str) -> String {
    match luminance(background) {
        Some(l) if l < 0.4 => {
            let mix = |i: usize| {
                let v = u8::from_str_radix(&background[i..i + 2], 16).unwrap_or(0) as f64;
                (v + (255.0 - v) * 0.1).round() as u8
            };
            format!("#{:02X}{:02X}{:02X}", mix(1), mix(3), mix(5))
        }
        _ => "#FFFFFF".to_owned(),
    }
}

fn is_hex_color(v: &str) -> bool {
    v.len() == 7 && v.starts_with('#') && v[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// The text colour that reads best on `bg`: white or near-black.
fn on_color(bg: &str) -> &'static str {
    let white = contrast_ratio(bg, "#FFFFFF").unwrap_or(21.0);
    let dark = contrast_ratio(bg, "#111827").unwrap_or(0.0);
    if white >= dark {
        "#FFFFFF"
    } else {
        "#111827"
    }
}

const GENERIC_FONTS: &[&str] = &[
    "serif",
    "sans-serif",
    "monospace",
    "cursive",
    "fantasy",
    "system-ui",
    "ui-serif",
    "ui-sans-serif",
    "ui-monospace",
    "ui-rounded",
    "math",
    "emoji",
];

/// `Inter, system-ui` → `"Inter", system-ui, sans-serif`: each family quoted unless generic,
/// and a generic fallback at the end.
pub fn font_stack(v: &str) -> String {
    let mut parts: Vec<String> = v
        .split(',')
        .map(|p| {
            p.trim()
                .trim_matches('\'')
                .chars()
                .filter(|c| c.is_alphanumeric() || " -_".contains(*c))
                .collect::<String>()
        })
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let p = p.trim().to_owned();
            if GENERIC_FONTS.contains(&p.to_ascii_lowercase().as_str()) {
                p.to_ascii_lowercase()
            } else {
                format!("\"{p}\"")
            }
        })
        .collect();
    if !parts
        .iter()
        .any(|p| p == "sans-serif" || p == "serif" || p == "monospace")
    {
        parts.push("sans-serif".into());
    }
    parts.join(", ")
}

/// The WCAG contrast ratio of two `#rrggbb` colours (1 to 21); `None` for a malformed one.
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (luminance(a)?, luminance(b)?);
    let (hi, lo) = if la > lb { (la, lb) } else { (lb, la) };
    Some((hi + 0.05) / (lo + 0.05))
}

fn luminance(c: &str) -> Option<f64> {
    if !is_hex_color(c) {
        return None;
    }
    let channel = |i: usize| -> Option<f64> {
        let v = u8::from_str_radix(&c[i..i + 2], 16).ok()? as f64 / 255.0;
        Some(if v <= 0.04045 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        })
    };
    Some(0.2126 * channel(1)? + 0.7152 * channel(3)? + 0.0722 * channel(5)?)
}

/// Why a box shadow cannot be used, if it cannot: lengths, `#rrggbb`, `rgb[a]()`/`hsl[a]()`,
/// `inset`, commas between shadows, or `none`; nothing that could end the declaration.
pub fn shadow_problem(v: &str) -> Option<&'static str> {
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || " .,#()%-".contains(c)) {
        return Some("may hold only lengths, colours and commas (no ; { } or quotes)");
    }
    let lower = v.to_ascii_lowercase();
    for (i, _) in lower.match_indices('(') {
        let before = &lower[..i];
        if !["rgb", "rgba", "hsl", "hsla"].iter().any(|f| before.ends_with(f)) {
            return Some("may use only the rgb(), rgba(), hsl() and hsla() functions");
        }
    }
    None
}

/// Why a custom stylesheet is refused, if it is. The sheet is served as its own file under the
/// page's Content-Security-Policy; these rules keep it from loading anything from elsewhere,
/// running script in old browsers, or hiding either behind escapes.
pub fn custom_css_problem(css: &str) -> Option<String> {
    if css.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Some("must not contain control characters".into());
    }
    if css.contains('\\') {
        return Some("must not use CSS escapes (\\)".into());
    }
    if css.contains('<') {
        return Some("must not contain `<` (no HTML, no closing </style>)".into());
    }
    let lower = css.to_ascii_lowercase();
    for word in [
        "@import",
        "@charset",
        "@namespace",
        "expression(",
        "javascript:",
        "vbscript:",
        "behavior:",
        "behaviour:",
        "-moz-binding",
        "image-set(",
        "src(",
    ] {
        if lower.contains(word) {
            return Some(format!("must not use `{word}`"));
        }
    }
    let mut rest = lower.as_str();
    while let Some(at) = rest.find("url(") {
        let arg = rest[at + 4..].trim_start().trim_start_matches(['"', '\'']);
        let same_origin = (arg.starts_with('/') && !arg.starts_with("//"))
            || arg.starts_with("data:image/png")
            || arg.starts_with("data:image/jpeg")
            || arg.starts_with("data:image/gif")
            || arg.starts_with("data:image/webp");
        if !same_origin {
            return Some("may use url() only for this site's paths (/…) or data: images".into());
        }
        rest = &rest[at + 4..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contrast_follows_wcag() {
        let r = contrast_ratio("#000000", "#FFFFFF").unwrap();
        assert!((r - 21.0).abs() < 0.01, "{r}");
        assert!((contrast_ratio("#777777", "#777777").unwrap() - 1.0).abs() < 1e-9);
        // the defaults read well
        assert!(contrast_ratio("#111827", "#F8FAFC").unwrap() > 15.0);
        assert!(contrast_ratio("#0B5FA5", "#F8FAFC").unwrap() > 4.5);
        assert_eq!(contrast_ratio("red", "#FFFFFF"), None);
    }

    #[test]
    fn fonts_are_quoted_names_with_a_generic_fallback() {
        assert_eq!(font_stack("system-ui"), "system-ui, sans-serif");
        assert_eq!(font_stack("Open Sans, serif"), "\"Open Sans\", serif");
        assert_eq!(font_stack("'Fira Sans'"), "\"Fira Sans\", sans-serif");
    }

    #[test]
    fn the_default_brand_is_the_panels_look() {
        let css = stylesheet(&BrandingSettings::default());
        for want in [
            "--brand-primary: #0B5FA5;",
            "--brand-on-primary: #FFFFFF;",
            "--brand-text: #111827;",
            "--brand-background: #F8FAFC;",
            "--brand-font: system-ui, sans-serif;",
            "--brand-font-size: 15px;",
            "--brand-heading-size: 30px;",
            "--brand-sidebar-width: 220px;",
            "--brand-header-height: 56px;",
            "--brand-radius: 6px;",
            "--brand-shadow: 0 1px 3px rgba(0,0,0,0.12);",
        ] {
            assert!(css.contains(want), "{want} missing from\n{css}");
        }
        // a light primary gets dark text on it
        let b = BrandingSettings {
            primary_color: "#FDE68A".into(),
            ..Default::default()
        };
        assert!(stylesheet(&b).contains("--brand-on-primary: #111827;"));
        assert_eq!(surface("#F8FAFC"), "#FFFFFF");
        assert_eq!(surface("#000000"), "#1A1A1A");
    }

    /// Every property the brand sheet defines is used by the panel's CSS, so every look-related
    /// setting changes something on screen.
    #[test]
    fn the_panel_css_uses_every_brand_property() {
        let app_css = include_str!("../../static/app.css");
        let sheet = stylesheet(&BrandingSettings::default());
        let names: Vec<&str> = sheet
            .lines()
            .filter_map(|l| l.trim().strip_prefix("--brand-"))
            .filter_map(|l| l.split(':').next())
            .collect();
        assert_eq!(names.len(), 21, "{names:?}");
        for name in names {
            assert!(
                app_css.contains(&format!("var(--brand-{name})")),
                "--brand-{name} is defined but app.css never uses it"
            );
        }
    }

    #[test]
    fn shadows_and_custom_css_cannot_reach_elsewhere() {
        assert_eq!(
            shadow_problem("0 1px 3px rgba(0,0,0,0.12), inset 0 0 0 1px #E5E7EB"),
            None
        );
        assert_eq!(shadow_problem("none"), None);
        assert!(shadow_problem("0 0 red; } body { background: red").is_some());
        assert!(shadow_problem("0 0 url(x)").is_some());
        assert_eq!(custom_css_problem(".card { border: 2px solid #000; }"), None);
        assert_eq!(custom_css_problem(".x { background: url(/static/a.png) }"), None);
        for bad in [
            "</style><script>alert(1)</script>",
            "@import url(https://evil.example/x.css);",
            ".x { background: url(https://evil.example/t.png) }",
            ".x { background: URL( '//evil.example/t.png') }",
            ".x { width: expression(alert(1)) }",
            ".x { background: u\\72l(https://evil.example) }",
            ".x { behavior: url(/x.htc) }",
            ".x { background: image-set('https://e.example/a.png' 1x) }",
        ] {
            assert!(custom_css_problem(bad).is_some(), "{bad} accepted");
        }
    }
}
