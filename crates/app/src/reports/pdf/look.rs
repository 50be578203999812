//! How a report PDF looks: the company's name, logo and colours from the branding settings when
//! `analytics.reportBranding` is on; black and greys, no name and no logo when it is off; and
//! whether the charts are drawn at all (`analytics.reportIncludeCharts`).

use std::sync::Arc;

use crate::codes::pdf::Logo;
use crate::settings::Settings;

/// A colour, each channel from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub f32, pub f32, pub f32);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0.0, 0.0, 0.0);
    pub const WHITE: Rgb = Rgb(1.0, 1.0, 1.0);

    pub const fn grey(g: f32) -> Rgb {
        Rgb(g, g, g)
    }

    /// `#RRGGBB`, or `None`.
    pub fn hex(s: &str) -> Option<Rgb> {
        let h = s.trim().strip_prefix('#')?;
        if h.len() != 6 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let ch = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).map(|v| f32::from(v) / 255.0);
        Some(Rgb(ch(0).ok()?, ch(2).ok()?, ch(4).ok()?))
    }

    /// This colour mixed with white: 0 keeps it, 1 is white.
    pub fn tint(self, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let m = |c: f32| c + (1.0 - c) * t;
        Rgb(m(self.0), m(self.1), m(self.2))
    }

    /// Relative luminance (WCAG), to choose the text that reads on a fill.
    fn luminance(self) -> f32 {
        let lin = |c: f32| {
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0) + 0.7152 * lin(self.1) + 0.0722 * lin(self.2)
    }

    /// White or near-black, whichever reads better on this colour.
    pub fn on(self) -> Rgb {
        if self.luminance() > 0.4 {
            Rgb::grey(0.1)
        } else {
            Rgb::WHITE
        }
    }
}

/// Everything besides the report that decides how its PDF looks.
#[derive(Debug, Clone)]
pub struct PdfLook {
    /// `analytics.reportBranding`: the company's name, logo and colours; off, a plain document.
    pub branding: bool,
    /// `analytics.reportIncludeCharts`: off, the charts are left out (tables and figures stay).
    pub include_charts: bool,
    pub company: String,
    /// A PNG or JPEG logo (an SVG one is left out: the header then shows the name alone).
    pub logo: Option<Arc<Logo>>,
    pub primary: Rgb,
    pub secondary: Rgb,
    pub accent: Rgb,
}

const PRIMARY: Rgb = Rgb(0.043, 0.373, 0.647);
const SECONDARY: Rgb = Rgb(0.122, 0.161, 0.216);
const ACCENT: Rgb = Rgb(0.961, 0.620, 0.043);

impl PdfLook {
    /// The look the settings ask for.
    pub fn from_settings(s: &Settings) -> Self {
        let b = &s.branding;
        let a = &s.analytics;
        Self {
            branding: a.report_branding,
            include_charts: a.report_include_charts,
            company: b.company_name.trim().to_owned(),
            logo: if a.report_branding {
                Logo::from_data_url(&b.company_logo).map(Arc::new)
            } else {
                None
            },
            primary: Rgb::hex(&b.primary_color).unwrap_or(PRIMARY),
            secondary: Rgb::hex(&b.secondary_color).unwrap_or(SECONDARY),
            accent: Rgb::hex(&b.accent_color).unwrap_or(ACCENT),
        }
    }

    /// A plain document with its charts: no name, no logo, black and greys.
    pub fn plain() -> Self {
        Self {
            branding: false,
            include_charts: true,
            company: String::new(),
            logo: None,
            primary: PRIMARY,
            secondary: SECONDARY,
            accent: ACCENT,
        }
    }

    /// The logo, when branded.
    pub fn logo(&self) -> Option<&Logo> {
        self.logo.as_deref().filter(|_| self.branding)
    }

    /// The company's name, when branded.
    pub fn company(&self) -> Option<&str> {
        Some(self.company.as_str()).filter(|c| self.branding && !c.is_empty())
    }

    /// Headings, rules and the table header: the primary colour, or black.
    pub fn strong(&self) -> Rgb {
        if self.branding {
            self.primary
        } else {
            Rgb::grey(0.15)
        }
    }

    /// The company's name and the band at the top of each page: the secondary colour, or black.
    pub fn ink(&self) -> Rgb {
        if self.branding {
            self.secondary
        } else {
            Rgb::grey(0.1)
        }
    }

    /// The light fill of striped rows and figure boxes.
    pub fn wash(&self) -> Rgb {
        if self.branding {
            self.primary.tint(0.93)
        } else {
            Rgb::grey(0.95)
        }
    }

    /// The colour of the `i`th series of a chart.
    pub fn series(&self, i: usize) -> Rgb {
        if !self.branding {
            const GREYS: [f32; 6] = [0.15, 0.55, 0.78, 0.35, 0.68, 0.88];
            return Rgb::grey(GREYS[i % GREYS.len()]);
        }
        let base = [self.primary, self.accent, self.secondary];
        let round = (i / base.len()) as f32;
        base[i % base.len()].tint((round * 0.45).min(0.8))
    }

    /// A heat-map cell for a share `t` of the largest value (0 white, 1 the strong colour).
    pub fn heat(&self, t: f32) -> Rgb {
        let full = if self.branding { self.primary } else { Rgb::grey(0.2) };
        full.tint(1.0 - t.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_come_from_the_branding_settings() {
        let mut s = Settings::default();
        s.branding.primary_color = "#7C2D12".into();
        s.branding.company_name = "  MBELYCO Paints ".into();
        let look = PdfLook::from_settings(&s);
        assert!(look.branding && look.include_charts, "the defaults");
        assert_eq!(look.strong(), Rgb(124.0 / 255.0, 45.0 / 255.0, 18.0 / 255.0));
        assert_eq!(look.company(), Some("MBELYCO Paints"));
        assert_eq!(look.series(0), look.strong());
        assert_ne!(look.series(1), look.series(0));
        assert_ne!(look.series(3), look.series(0), "a second round is lighter");
        s.analytics.report_branding = false;
        s.analytics.report_include_charts = false;
        let plain = PdfLook::from_settings(&s);
        assert_eq!(plain.company(), None);
        assert!(!plain.include_charts);
        let Rgb(r, g, b) = plain.strong();
        assert!(r == g && g == b, "grey");
        assert_eq!(Rgb::hex("not a colour"), None);
        assert_eq!(Rgb::hex("#FFFFFF").map(Rgb::on), Some(Rgb::grey(0.1)));
        assert_eq!(Rgb::hex("#0B5FA5").map(Rgb::on), Some(Rgb::WHITE));
    }
}
