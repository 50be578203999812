//! Branding applied: the panel's look from a stylesheet generated from the settings at a
//! content-hashed URL (no inline styles, the CSP unchanged), the sanitised custom stylesheet,
//! the favicon and logo, and the company's tagline and contact details in the panel's footer,
//! the printed code sheets and the payout reports.

use serde_json::{json, Value};

use crate::helpers::{
    error_fields, finish_enrolment, password_step, spawn_app, TestApp, TestDb, ADMIN_EMAIL, ADMIN_PASSWORD,
};

/// The `href` (or `src`) in `html` that starts with `prefix`, e.g. `/assets/brand-`.
fn asset_url(html: &str, prefix: &str) -> Option<String> {
    let at = html.find(&format!("\"{prefix}"))?;
    let rest = &html[at + 1..];
    Some(rest[..rest.find('"')?].to_owned())
}

async fn put_branding(app: &TestApp, key: &str, settings: Value) -> reqwest::Response {
    app.put_json(
        key,
        "/api/v1/admin/settings/branding",
        &json!({"settings": settings, "reason": "rebrand"}),
    )
    .await
}

async fn signed_in(app: &TestApp) -> reqwest::Client {
    let c = app.browser();
    let res = password_step(&c, app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303);
    finish_enrolment(&c, app).await;
    c
}

fn png(r: u8) -> (Vec<u8>, String) {
    use base64::Engine;
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 2, 2);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&[r; 12]).unwrap();
    }
    let url = format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    (bytes, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_a_colour_change_links_a_new_immutable_stylesheet_and_keeps_the_csp() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let browser = signed_in(&app).await;

    let res = app.client.get(app.url("/sign-in")).send().await.unwrap();
    let csp_before = res.headers()["content-security-policy"].clone();
    assert!(csp_before.to_str().unwrap().contains("style-src 'self'"));
    let html = res.text().await.unwrap();
    let old = asset_url(&html, "/assets/brand-").expect("the sign-in page links the brand sheet");
    assert!(old.ends_with(".css"), "{old}");
    let home = app.page_html(&browser, "/").await;
    assert_eq!(asset_url(&home, "/assets/brand-").as_deref(), Some(old.as_str()));
    let sheet = app.client.get(app.url(&old)).send().await.unwrap();
    assert_eq!(sheet.status(), 200);
    assert_eq!(sheet.headers()["content-type"], "text/css; charset=utf-8");
    let cache = sheet.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(
        cache.contains("immutable") && cache.contains("max-age=31536000"),
        "{cache}"
    );
    let css = sheet.text().await.unwrap();
    assert!(css.contains("--brand-primary: #0B5FA5;"), "{css}");

    let res = put_branding(
        &app,
        &key,
        json!({
            "primaryColor": "#7C2D12", "secondaryColor": "#312E81", "accentColor": "#DB2777",
            "backgroundColor": "#FFFBEB", "textColor": "#1C1917", "linkColor": "#9A3412",
            "successColor": "#166534", "warningColor": "#92400E", "errorColor": "#991B1B",
            "primaryFont": "Noto Sans, sans-serif", "secondaryFont": "Ubuntu", "headingFont": "Georgia, serif",
            "bodyFontSize": 17, "headingFontSize": 34, "sidebarWidth": 300, "headerHeight": 64,
            "borderRadius": 10, "boxShadow": "0 2px 8px rgba(0,0,0,0.2)",
        }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    // the next page load links a new sheet with the new colour
    let home = app.page_html(&browser, "/").await;
    let new = asset_url(&home, "/assets/brand-").unwrap();
    assert_ne!(new, old, "a change gives the sheet a new address");
    let res = app.client.get(app.url(&new)).send().await.unwrap();
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let css = res.text().await.unwrap();
    // every look-related key reaches the sheet
    for want in [
        "--brand-primary: #7C2D12;",
        "--brand-on-primary: #FFFFFF;",
        "--brand-secondary: #312E81;",
        "--brand-accent: #DB2777;",
        "--brand-background: #FFFBEB;",
        "--brand-text: #1C1917;",
        "--brand-link: #9A3412;",
        "--brand-success: #166534;",
        "--brand-warning: #92400E;",
        "--brand-error: #991B1B;",
        "--brand-font: \"Noto Sans\", sans-serif;",
        "--brand-font-secondary: \"Ubuntu\", sans-serif;",
        "--brand-font-heading: \"Georgia\", serif;",
        "--brand-font-size: 17px;",
        "--brand-heading-size: 34px;",
        "--brand-sidebar-width: 300px;",
        "--brand-header-height: 64px;",
        "--brand-radius: 10px;",
        "--brand-shadow: 0 2px 8px rgba(0,0,0,0.2);",
    ] {
        assert!(css.contains(want), "{want} missing from\n{css}");
    }
    let sign_in = app.client.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(
        sign_in.headers()["content-security-policy"],
        csp_before,
        "the CSP is unchanged"
    );
    assert_eq!(
        asset_url(&sign_in.text().await.unwrap(), "/assets/brand-"),
        Some(new.clone())
    );

    // a page loaded before the change still gets the brand: the old address sends it on, uncached
    let res = app.client.get(app.url(&old)).send().await.unwrap();
    assert_eq!(res.status(), 307);
    assert_eq!(res.headers()["location"], new.as_str());
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(
        app.client
            .get(app.url("/assets/nothing.css"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // the panel's CSS uses the brand's properties, and no page carries an inline style
    let app_css = app
        .client
        .get(app.url("/static/app.css"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for used in [
        "var(--brand-primary)",
        "var(--brand-sidebar-width)",
        "var(--brand-text)",
    ] {
        assert!(app_css.contains(used), "app.css does not use {used}");
    }
    assert!(
        !app_css.contains("#0B5FA5"),
        "no literal primary colour is left in app.css"
    );
    for path in ["/", "/account", "/admin/batches", "/admin/codes", "/admin/users"] {
        let html = app.page_html(&browser, path).await;
        assert!(html.contains(&new), "{path} links the brand sheet");
        assert!(!html.contains("style="), "{path} has an inline style");
        assert!(!html.contains("<style"), "{path} has a style element");
    }
    let sign_in = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!sign_in.contains("style=") && !sign_in.contains("<style"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_custom_css_is_sanitised_and_served_after_the_brand_sheet() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let version = app.state.settings.version();
    for bad in [
        "@import url(https://evil.example/x.css);",
        ".card { background: url(https://evil.example/pixel.png); }",
        "</style><script>alert(1)</script>",
        ".x { width: expression(alert(1)); }",
        ".x { background: u\\72l(https://evil.example/p.png); }",
        "a { background: url('javascript:alert(1)') }",
    ] {
        let res = put_branding(&app, &key, json!({"customCss": bad})).await;
        assert_eq!(res.status(), 422, "{bad} accepted");
        let body: Value = res.json().await.unwrap();
        assert_eq!(error_fields(&body), ["branding.customCss"], "{bad}: {body}");
    }
    assert_eq!(app.state.settings.version(), version, "nothing changed");
    let html = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(asset_url(&html, "/assets/custom-"), None, "no custom sheet yet");

    let good = ".card { border: 2px solid #7C2D12; }\n.brand-foot { display: none; }";
    let res = put_branding(&app, &key, json!({"customCss": good})).await;
    assert_eq!(res.status(), 200);
    let html = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let custom = asset_url(&html, "/assets/custom-").expect("the custom sheet is linked");
    let brand = asset_url(&html, "/assets/brand-").unwrap();
    assert!(
        html.find(&custom).unwrap() > html.find(&brand).unwrap()
            && html.find(&brand).unwrap() > html.find("/static/app.css").unwrap(),
        "app.css, then the brand, then the custom sheet"
    );
    let res = app.client.get(app.url(&custom)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(res.text().await.unwrap(), good);

    // text that does not read on the background is refused, naming the field
    let res = put_branding(&app, &key, json!({"textColor": "#EEEEEE"})).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(error_fields(&body), ["branding.textColor"], "{body}");
    assert!(body.to_string().contains("4.5:1"), "{body}");
    // a shadow cannot smuggle in rules
    let res = put_branding(&app, &key, json!({"boxShadow": "0 0 red; } body { display: none"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(error_fields(&res.json().await.unwrap()), ["branding.boxShadow"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_favicon_logo_tagline_and_contact_reach_the_pages() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let browser = signed_in(&app).await;

    // the built-in favicon until one is uploaded
    let html = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let builtin = asset_url(&html, "/assets/favicon-").expect("a favicon is linked");
    assert!(html.contains(r#"rel="icon""#) && builtin.ends_with(".svg"), "{builtin}");
    let res = app.client.get(app.url(&builtin)).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert!(
        res.text().await.unwrap().contains("#0B5FA5"),
        "the initial on the primary colour"
    );

    let (icon, icon_url) = png(200);
    let (logo, logo_url) = png(40);
    let res = put_branding(
        &app,
        &key,
        json!({
            "companyFavicon": icon_url,
            "companyLogo": logo_url,
            "companyTagline": "Colour that lasts",
            "companyPhone": "+250 788 300 400",
            "companyEmail": "care@mbelyco.rw",
            "companyWebsite": "https://mbelyco.rw",
        }),
    )
    .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let home = app.page_html(&browser, "/").await;
    let favicon = asset_url(&home, "/assets/favicon-").unwrap();
    assert!(favicon.ends_with(".png"), "{favicon}");
    assert!(
        home.contains(&format!(r#"<link rel="icon" href="{favicon}" type="image/png">"#)),
        "{home}"
    );
    let res = app.client.get(app.url(&favicon)).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), icon.as_slice());
    // the logo in the header, from its own file
    let logo_src = asset_url(&home, "/assets/logo-").expect("the header shows the logo");
    assert!(home.contains(&format!(r#"<img class="brand-logo" src="{logo_src}""#)));
    let res = app.client.get(app.url(&logo_src)).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), logo.as_slice());
    // the footer of the panel and of the sign-in page: name, tagline, contact
    let sign_in = app
        .client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for html in [&home, &sign_in] {
        for want in [
            "Colour that lasts",
            r#"href="tel:+250788300400""#,
            r#"href="mailto:care@mbelyco.rw""#,
            r#"href="https://mbelyco.rw""#,
        ] {
            assert!(html.contains(want), "{want} missing");
        }
    }
    // a favicon that is not an image, or an SVG with a script in it, is refused
    use base64::Engine;
    let scripted = format!(
        "data:image/svg+xml;base64,{}",
        base64::engine::general_purpose::STANDARD
            .encode("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    );
    for bad in ["data:text/html;base64,PHNjcmlwdD4=".to_owned(), scripted] {
        let res = put_branding(&app, &key, json!({"companyFavicon": bad})).await;
        assert_eq!(res.status(), 422);
        assert_eq!(error_fields(&res.json().await.unwrap()), ["branding.companyFavicon"]);
    }
    let still = app.page_html(&browser, "/").await;
    assert_eq!(asset_url(&still, "/assets/favicon-"), Some(favicon), "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_tagline_and_contact_head_and_foot_the_sheets_and_reports() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let res = put_branding(
        &app,
        &key,
        json!({
            "companyName": "Inyange Paints",
            "companyTagline": "Colour that lasts",
            "companyPhone": "+250 788 300 400",
            "companyEmail": "care@inyange.rw",
        }),
    )
    .await;
    assert_eq!(res.status(), 200);
    let batch = app.generated_batch(&key, "Branded", 14, "w-brand").await;
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=pdf&batchId={batch}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let doc = lopdf::Document::load_mem(&res.bytes().await.unwrap()).expect("a valid PDF");
    for (n, _) in doc.get_pages() {
        let text = doc.extract_text(&[n]).unwrap();
        // the header: name, tagline beside it, the contact line
        assert!(
            text.contains("Inyange Paints") && text.contains("Colour that lasts"),
            "{text}"
        );
        assert!(text.contains("+250 788 300 400  |  care@inyange.rw"), "{text}");
        // the footer: all three on one line
        assert!(
            text.contains("Inyange Paints - Colour that lasts  |  +250 788 300 400  |  care@inyange.rw"),
            "page {n}: {text}"
        );
    }

    // the payout report names the company, its tagline and contact under its title
    let res = app.get_as(&key, "/api/v1/admin/disbursements/export?format=pdf").await;
    assert_eq!(res.status(), 200);
    let doc = lopdf::Document::load_mem(&res.bytes().await.unwrap()).expect("a valid PDF");
    let text = doc.extract_text(&[1]).unwrap();
    assert!(
        text.contains("Payouts")
            && text.contains("Inyange Paints - Colour that lasts  |  +250 788 300 400  |  care@inyange.rw"),
        "{text}"
    );
}
