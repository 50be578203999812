//! The brand's files and what every page's layout needs of it: the brand stylesheet, the custom
//! stylesheet, the favicon and the logo, each served at a URL carrying a hash of its content
//! (`/assets/brand-<hash>.css`, cached for a year, immutable) so that a settings change shows
//! on the next page load; and the company's name, tagline and contact details for the footers.
//!
//! The brand is worked out once per settings version and shared; [`scope`] puts it in reach of
//! the templates for the length of a request (`crate::web::brand::current()`), so no page has
//! to carry it.

use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::brand_css;
use super::routes::{Access, RouteSpec};
use super::AppState;
use crate::error::AppError;
use crate::route;
use crate::settings::model::BrandingSettings;
use crate::settings::Settings;

pub fn routes() -> Vec<RouteSpec> {
    vec![route!(GET "/assets/{file}", Access::Public, asset)]
}

/// One of the brand's files.
#[derive(Debug)]
struct Asset {
    /// `brand-<hash>.css`: its kind, a hash of its content, its extension.
    name: String,
    body: Bytes,
    mime: &'static str,
}

impl Asset {
    fn new(kind: &str, ext: &str, mime: &'static str, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        let hash = hex::encode(&Sha256::digest(&body)[..8]);
        Self {
            name: format!("{kind}-{hash}.{ext}"),
            body,
            mime,
        }
    }

    fn href(&self) -> String {
        format!("/assets/{}", self.name)
    }

    fn kind(&self) -> &str {
        self.name.split('-').next().unwrap_or_default()
    }
}

/// The brand as the pages show it.
#[derive(Debug)]
pub struct Brand {
    pub css_href: String,
    /// The custom stylesheet, when there is one.
    pub custom_css_href: Option<String>,
    pub favicon_href: String,
    pub favicon_type: &'static str,
    /// The logo for the panel's header, when one is uploaded.
    pub logo_href: Option<String>,
    pub company: String,
    pub tagline: String,
    pub website: String,
    pub email: String,
    pub phone: String,
    assets: Vec<Asset>,
}

impl Brand {
    pub fn from_settings(b: &BrandingSettings) -> Self {
        let mut assets = vec![Asset::new(
            "brand",
            "css",
            "text/css; charset=utf-8",
            brand_css::stylesheet(b),
        )];
        // a stored sheet that today's rules refuse is not served
        let custom = b.custom_css.trim();
        if !custom.is_empty() && brand_css::custom_css_problem(custom).is_none() {
            assets.push(Asset::new(
                "custom",
                "css",
                "text/css; charset=utf-8",
                custom.to_owned(),
            ));
        }
        let favicon = image(&b.company_favicon).unwrap_or_else(|| builtin_favicon(b));
        assets.push(Asset::new("favicon", favicon.0, favicon.1, favicon.2));
        if let Some((ext, mime, bytes)) = image(&b.company_logo) {
            assets.push(Asset::new("logo", ext, mime, bytes));
        }
        let href = |kind: &str| assets.iter().find(|a| a.kind() == kind).map(Asset::href);
        Self {
            css_href: href("brand").unwrap_or_default(),
            custom_css_href: href("custom"),
            favicon_href: href("favicon").unwrap_or_default(),
            favicon_type: assets
                .iter()
                .find(|a| a.kind() == "favicon")
                .map_or("image/svg+xml", |a| a.mime),
            logo_href: href("logo"),
            company: b.company_name.clone(),
            tagline: b.company_tagline.clone(),
            website: b.company_website.clone(),
            email: b.company_email.clone(),
            phone: b.company_phone.clone(),
            assets,
        }
    }

    /// The phone number as a `tel:` link target (digits and a leading `+`).
    pub fn phone_href(&self) -> String {
        let digits: String = self.phone.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect();
        format!("tel:{digits}")
    }

    pub fn has_contact(&self) -> bool {
        !(self.website.is_empty() && self.email.is_empty() && self.phone.is_empty())
    }
}

/// A `data:image/…;base64,…` URL's extension, type and bytes; `None` when empty or malformed.
fn image(data_url: &str) -> Option<(&'static str, &'static str, Vec<u8>)> {
    let (head, data) = data_url.split_once(',')?;
    let (ext, mime) = match head {
        "data:image/png;base64" => ("png", "image/png"),
        "data:image/jpeg;base64" => ("jpg", "image/jpeg"),
        "data:image/svg+xml;base64" => ("svg", "image/svg+xml"),
        _ => return None,
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(data.trim()).ok()?;
    (!bytes.is_empty()).then_some((ext, mime, bytes))
}

/// Why an uploaded image (logo, favicon) is refused, if it is: it must be a PNG, JPEG or SVG
/// `data:` URL that decodes, and an SVG (served from this site) must hold no script, event
/// handler or embedded HTML.
pub fn image_problem(data_url: &str) -> Option<&'static str> {
    if data_url.is_empty() {
        return None;
    }
    let Some((_, mime, bytes)) = image(data_url) else {
        return Some("must be a PNG, JPEG or SVG image as a data: URL");
    };
    if mime == "image/svg+xml" {
        let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
        let handler = text.match_indices("on").any(|(i, _)| {
            i > 0
                && text.as_bytes()[i - 1].is_ascii_whitespace()
                && text[i + 2..]
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim_start()
                    .starts_with('=')
        });
        let bad = [
            "<script",
            "javascript:",
            "<foreignobject",
            "<iframe",
            "<embed",
            "<object",
        ]
        .iter()
        .any(|w| text.contains(w));
        if bad || handler {
            return Some("an SVG image must not contain scripts, event handlers or embedded HTML");
        }
    }
    None
}

/// The built-in favicon: the company's initial on the primary colour.
fn builtin_favicon(b: &BrandingSettings) -> (&'static str, &'static str, Vec<u8>) {
    let initial = b
        .company_name
        .chars()
        .find(|c| c.is_ascii_alphanumeric())
        .unwrap_or('M')
        .to_ascii_uppercase();
    let (primary, on_primary) = brand_css::primary(b);
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><rect width=\"32\" height=\"32\" \
         rx=\"6\" fill=\"{}\"/><text x=\"16\" y=\"23\" font-family=\"sans-serif\" font-size=\"20\" \
         font-weight=\"700\" fill=\"{}\" text-anchor=\"middle\">{initial}</text></svg>",
        primary, on_primary,
    );
    ("svg", "image/svg+xml", svg.into_bytes())
}

/// The brand of `settings`, worked out once per settings snapshot.
pub fn of(settings: &Arc<(Settings, i64)>) -> Arc<Brand> {
    type Cached = Option<(Arc<(Settings, i64)>, Arc<Brand>)>;
    static CACHE: Mutex<Cached> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((snapshot, brand)) = cache.as_ref() {
        if Arc::ptr_eq(snapshot, settings) {
            return Arc::clone(brand);
        }
    }
    let brand = Arc::new(Brand::from_settings(&settings.0.branding));
    *cache = Some((Arc::clone(settings), Arc::clone(&brand)));
    brand
}

tokio::task_local! {
    static CURRENT: Arc<Brand>;
}

/// Runs the request with its brand in reach of the templates.
pub async fn scope(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let brand = of(&state.settings.get());
    CURRENT.scope(brand, next.run(req)).await
}

/// The brand of the request being answered (the defaults outside a request).
pub fn current() -> Arc<Brand> {
    CURRENT.try_with(Arc::clone).unwrap_or_else(|_| {
        static DEFAULT: OnceLock<Arc<Brand>> = OnceLock::new();
        Arc::clone(DEFAULT.get_or_init(|| Arc::new(Brand::from_settings(&BrandingSettings::default()))))
    })
}

/// `GET /assets/{file}`: the current brand's file by its hashed name, cached for good. The name
/// of a file the brand no longer has (a page loaded before a change asking for it) is sent on to
/// the current file of that kind, uncached, so such a page still gets the brand's look.
async fn asset(State(state): State<AppState>, Path(file): Path<String>) -> Result<Response, AppError> {
    let brand = of(&state.settings.get());
    if let Some(a) = brand.assets.iter().find(|a| a.name == file) {
        let mut res = a.body.clone().into_response();
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        );
        return Ok(res);
    }
    let kind = file.split('-').next().unwrap_or_default();
    let now = brand
        .assets
        .iter()
        .find(|a| a.kind() == kind && file.len() > kind.len() + 1);
    match now {
        Some(a) => {
            let mut res = StatusCode::TEMPORARY_REDIRECT.into_response();
            let h = res.headers_mut();
            if let Ok(v) = HeaderValue::from_str(&a.href()) {
                h.insert(header::LOCATION, v);
            }
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(res)
        }
        None => Err(AppError::RouteNotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_their_content() {
        let a = Brand::from_settings(&BrandingSettings::default());
        let b = Brand::from_settings(&BrandingSettings {
            primary_color: "#7C2D12".into(),
            ..Default::default()
        });
        assert!(a.css_href.starts_with("/assets/brand-") && a.css_href.ends_with(".css"));
        assert_ne!(a.css_href, b.css_href);
        assert_eq!(a.custom_css_href, None);
        assert_eq!(a.logo_href, None);
        assert_eq!(a.favicon_type, "image/svg+xml", "the built-in favicon");
        let refused = Brand::from_settings(&BrandingSettings {
            custom_css: "@import url(https://evil.example/x.css);".into(),
            ..Default::default()
        });
        assert_eq!(refused.custom_css_href, None, "a refused sheet is not served");
    }

    #[test]
    fn uploaded_svgs_carry_no_script() {
        use base64::Engine;
        let svg = |s: &str| {
            format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(image_problem(""), None);
        assert_eq!(
            image_problem(&svg(
                "<svg xmlns='http://www.w3.org/2000/svg'><circle r='4' fill='red'/></svg>"
            )),
            None
        );
        for bad in [
            "<svg><script>alert(1)</script></svg>",
            "<svg onload=\"alert(1)\"></svg>",
            "<svg><a href='javascript:alert(1)'>x</a></svg>",
            "<svg><foreignObject><iframe/></foreignObject></svg>",
        ] {
            assert!(image_problem(&svg(bad)).is_some(), "{bad}");
        }
        assert!(image_problem("data:image/png;base64,***").is_some());
        assert!(image_problem("data:text/html;base64,PGI+").is_some());
    }
}
