//! The branding settings as the console shows them.

use super::{key, CategoryDoc, Effect::*, Input::*, Section};
use crate::settings::Category;

/// The brand's files and the panel's footers.
const BRAND: &str = "web/brand.rs";
/// The brand stylesheet's custom properties.
const CSS: &str = "web/brand_css.rs";
/// The printable code sheets (PDF).
const SHEETS: &str = "codes/export.rs";
/// The payouts' and redemptions' report exports.
const REPORTS: &str = "disbursement/ops/export.rs";
/// The reports' PDF files (name, logo and colours while `analytics.reportBranding` is on).
const REPORT_PDF: &str = "reports/pdf/look.rs";

pub(super) static DOC: CategoryDoc = CategoryDoc {
    category: Category::Branding,
    title: "Branding",
    summary: "The company as the panel, the printed code sheets and the reports present it: name, logo, \
              contact details, and the panel's colours, fonts and sizes.",
    sections: &[
        Section {
            title: "Company",
            keys: &[
                key!("companyName", "Company name",
                    "Named on every printed code sheet and card, in report headers, in the panel's page titles and footer.",
                    Text { max: 80 }, Applied { by: &[SHEETS, REPORTS, REPORT_PDF, BRAND] }),
                key!("companyTagline", "Tagline",
                    "A short line shown after the company name in the code sheets' header and footer, in report headers and in the panel's footer and sign-in page.",
                    Text { max: 120 }, Applied { by: &[SHEETS, REPORTS, BRAND] }),
                key!("companyLogo", "Logo",
                    "Printed at the top left of every code sheet page and every page of a branded report PDF (PNG or JPEG) and shown in the panel's header and sign-in page. Empty: no logo.",
                    Image, Applied { by: &[SHEETS, REPORT_PDF, BRAND] }),
                key!("companyFavicon", "Favicon",
                    "The small icon browsers show in the panel's tabs. Empty: the company's initial on the primary colour.",
                    Image, Applied { by: &[BRAND] }),
                key!("companyWebsite", "Website",
                    "Contact details printed in the code sheets' header and footer and in report headers, and linked in the panel's footer.",
                    Url { https_in_production: false }, Applied { by: &[SHEETS, REPORTS, BRAND] }),
                key!("companyEmail", "Contact e-mail",
                    "Printed in the code sheets' header and footer (and on a card when there is no phone), in report headers, and linked in the panel's footer.",
                    Email, Applied { by: &[SHEETS, REPORTS, BRAND] }),
                key!("companyPhone", "Contact phone",
                    "The help number customers call: on the USSD help and blocked-code screens, printed on every card (\"Help: …\"), in the code sheets' header and footer, in report headers and in the panel's footer.",
                    Text { max: 30 }, Applied { by: &[SHEETS, REPORTS, BRAND, "ussd/screens.rs"] }),
            ],
        },
        Section {
            title: "Colours",
            keys: &[
                key!("primaryColor", "Primary colour",
                    "The panel's header bar, buttons, the current navigation entry's marker, chart bars and the built-in favicon; text on it turns white or dark, whichever reads better. In a branded report PDF: headings, rules, the tables' header row and the first series of each chart.",
                    Color, Applied { by: &[CSS, REPORT_PDF] }),
                key!("secondaryColor", "Secondary colour",
                    "The background of the USSD phone screens in the panel's monitor; in a branded report PDF, the band atop each page, the company's name and the third series of each chart.",
                    Color, Applied { by: &[CSS, REPORT_PDF] }),
                key!("accentColor", "Accent colour",
                    "The ring around whatever has the keyboard focus in the panel; in a branded report PDF, the second series of each chart.",
                    Color, Applied { by: &[CSS, REPORT_PDF] }),
                key!("backgroundColor", "Background colour",
                    "The panel's page background; cards are white on a light background, a lighter shade on a dark one.",
                    Color, Applied { by: &[CSS] }),
                key!("textColor", "Text colour",
                    "The panel's text. Must contrast at least 4.5:1 (WCAG AA) with the background and the cards.",
                    Color, Applied { by: &[CSS] }),
                key!("linkColor", "Link colour",
                    "Links and text in the brand's colour (the current navigation entry, the sign-in page's heading). Must contrast at least 4.5:1 (WCAG AA) with the background and the cards.",
                    Color, Applied { by: &[CSS] }),
                key!("successColor", "Success colour",
                    "Done notices, completed and redeemed badges, and completed bars in charts.",
                    Color, Applied { by: &[CSS] }),
                key!("warningColor", "Warning colour",
                    "Warnings: held payouts, refused USSD attempts, mismatches.",
                    Color, Applied { by: &[CSS] }),
                key!("errorColor", "Error colour",
                    "Errors: failed payouts, field errors, dangerous buttons.",
                    Color, Applied { by: &[CSS] }),
            ],
        },
        Section {
            title: "Typography and layout",
            keys: &[
                key!("primaryFont", "Body font",
                    "The font family of the panel's text (installed fonts only: no web font is downloaded). Several may be listed, separated by commas.",
                    Text { max: 100 }, Applied { by: &[CSS] }),
                key!("secondaryFont", "Navigation font",
                    "The font family of the panel's header, navigation and footer.",
                    Text { max: 100 }, Applied { by: &[CSS] }),
                key!("headingFont", "Heading font",
                    "The font family of the panel's headings.",
                    Text { max: 100 }, Applied { by: &[CSS] }),
                key!("bodyFontSize", "Body text size",
                    "The size of the panel's text.",
                    Number { min: 10, max: 24, unit: "px" }, Applied { by: &[CSS] }),
                key!("headingFontSize", "Heading size",
                    "The size of page titles; section headings are three quarters of it.",
                    Number { min: 12, max: 48, unit: "px" }, Applied { by: &[CSS] }),
                key!("sidebarWidth", "Navigation width",
                    "The width of the panel's navigation column on wide screens (on a phone it becomes a menu).",
                    Number { min: 160, max: 400, unit: "px" }, Applied { by: &[CSS] }),
                key!("headerHeight", "Header height",
                    "The height of the panel's header bar.",
                    Number { min: 40, max: 120, unit: "px" }, Applied { by: &[CSS] }),
                key!("borderRadius", "Corner radius",
                    "How round the corners of cards, buttons and inputs are.",
                    Number { min: 0, max: 24, unit: "px" }, Applied { by: &[CSS] }),
                key!("boxShadow", "Card shadow",
                    "The shadow under cards, as CSS box-shadow (lengths and colours, e.g. `0 1px 3px rgba(0,0,0,0.12)`, or `none`).",
                    Text { max: 120 }, Applied { by: &[CSS] }),
                key!("customCss", "Custom CSS",
                    "Extra CSS for the panel, served as its own stylesheet after the brand's. Refused: `<`, `@import`, url() to other sites, expression(), javascript:, behavior:, and CSS escapes.",
                    LongText { max: 20000 }, Applied { by: &[BRAND] }),
            ],
        },
    ],
};
