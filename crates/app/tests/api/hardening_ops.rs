//! Issue 17, items 11, 29 and 30: metrics closed in production, a console a person can read
//! (and a WARN when payouts pause), and printed sheets with the branding and a safe margin.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mbelyco::settings::Category;
use serde_json::json;

use crate::helpers::{spawn_app, TestDb, ADMIN_EMAIL, TEST_SECRET_KEY};
use crate::payouts::{ready, redeem, start_momo, worker};

fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mbelyco"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATA_DIR",
            std::env::temp_dir().join(format!("mbelyco-ops-{}", uuid::Uuid::new_v4())),
        );
    cmd
}

/// Item 11: `serve` in production without `METRICS_TOKEN` stops before listening, exit 2, one
/// line naming the variable, like every other configuration error.
#[test]
fn production_web_refuses_to_start_with_public_metrics() {
    for command in ["serve", "run"] {
        let out = binary()
            .args([command])
            .env("APP_ENV", "production")
            .env("SECRET_KEY", TEST_SECRET_KEY)
            .env("BIND_ADDR", "127.0.0.1:1")
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/mbelyco")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {err}");
        assert!(err.contains("METRICS_TOKEN"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    // the token given, start-up goes on (and here stops at the unreachable database)
    let out = binary()
        .args(["serve"])
        .env("APP_ENV", "production")
        .env("SECRET_KEY", TEST_SECRET_KEY)
        .env("METRICS_TOKEN", "a-long-metrics-token-0123456789")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/mbelyco")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("METRICS_TOKEN") && err.contains("PostgreSQL"), "{err}");
}

/// Collects a child's output in the background.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let buf = Arc::new(Mutex::new(String::new()));
    let out = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            out.lock().unwrap().push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    buf
}

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Item 29: `mbelyco serve` with its output piped (as under systemd or `| tee`): no colour
/// codes, no line per request, and one "settings reloaded" for one change, although both the
/// request that made it and the watcher's NOTIFY reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_plain_and_quiet_when_piped() {
    let db = TestDb::new().await;
    // an app in this process only for the test's own API key
    let app = spawn_app(db.pool.clone()).await;
    let key = app.api_key("Super Administrator").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = binary()
        .args(["serve"])
        .env("DATABASE_URL", &db.url)
        .env("SECRET_KEY", TEST_SECRET_KEY)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("ADMIN_EMAIL", ADMIN_EMAIL)
        .env("SIMULATORS", "off")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let child = Child(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("{base}/api/health")).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "serve did not come up: {}{}",
            stdout.lock().unwrap(),
            stderr.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for path in ["/api/health", "/sign-in", "/status", "/api/health", "/no-such-page"] {
        client.get(format!("{base}{path}")).send().await.unwrap();
    }
    // one settings change through the API
    let res = client
        .put(format!("{base}/api/v1/admin/settings/branding"))
        .bearer_auth(&key)
        .json(&json!({"settings": {"companyTagline": "Colour that pays back"}, "reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    // the watcher's NOTIFY and its 2 s poll come and go
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(child);
    let out = format!("{}{}", stdout.lock().unwrap(), stderr.lock().unwrap());
    assert!(out.contains(&format!("running at {base}")), "{out}");
    assert!(!out.contains('\u{1b}'), "no ANSI escape codes in piped output: {out:?}");
    assert!(
        !out.lines().any(|l| l.contains("status=200")),
        "no access-log line per request outside production: {out}"
    );
    assert_eq!(
        out.matches("settings reloaded").count(),
        1,
        "one line for one change: {out}"
    );
}

/// A `tracing` subscriber for the current thread that writes plain text into a buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Logs of everything this (current-thread) runtime runs, while the guard lives.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let me = self.clone();
        let sub = tracing_subscriber::fmt()
            .with_writer(move || me.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(sub)
    }
}

/// Item 29: the development run's first start configures the USSD endpoint, the MoMo simulator
/// and the SMS simulator: one change, reloaded and logged once (it was five lines).
#[tokio::test(flavor = "current_thread")]
async fn the_first_development_start_logs_one_settings_reload() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let logs = Captured::default();
    let _guard = logs.install();
    let watcher = app
        .state
        .settings
        .spawn_watcher(mbelyco::settings::ProcessRole::Worker, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (app_url, _, codes) = mbelyco::devrun::prepare(&app.state, &app.base).await.unwrap();
    assert!(app_url.contains("secret=") && !codes.is_empty());
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.cancel();
    let _ = watcher.await;
    let settings = app.state.settings.get();
    assert!(settings.0.payments.momo_api_user.expose().is_some());
    assert!(settings.0.ussd.africas_talking_api_key.expose().is_some());
    let text = logs.text();
    assert_eq!(text.matches("settings reloaded").count(), 1, "{text}");
}

/// Item 29: when MoMo keeps failing and the breaker pauses payouts, the log says so (WARN, with
/// the reason), not only the alert; before, only "resume" was ever logged.
#[tokio::test(flavor = "current_thread")]
async fn paused_payouts_are_logged_as_a_warning_with_the_reason() {
    let db = TestDb::new().await;
    let momo = start_momo(crate::payouts::instant()).await;
    let (app, key) = ready(&db, &momo, json!({"circuitBreakerFailures": 2})).await;
    redeem(&app, &key, 3, "pause").await;
    momo.sim.set_faults(simulators::momo::Faults {
        error_503_rate: 1.0,
        ..Default::default()
    });
    let logs = Captured::default();
    let _guard = logs.install();
    worker(&app, "w-pause").run_until_idle().await.unwrap();
    let text = logs.text();
    let line = text
        .lines()
        .find(|l| l.contains("payouts are paused"))
        .unwrap_or_else(|| panic!("no pause line: {text}"));
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("circuit breaker") && line.contains("503"),
        "the reason: {line}"
    );
    assert_eq!(text.matches("payouts are paused").count(), 1, "once per pause: {text}");
}

/// A 2 × 2 PNG as a `data:` URL.
fn png_logo() -> String {
    use base64::Engine;
    let mut bytes = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut bytes, 2, 2);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.write_header().unwrap().write_image_data(&[30u8; 12]).unwrap();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The text lines and cut lines drawn by a page's content stream.
struct Drawn {
    /// font resource, size, x, y, text
    texts: Vec<(String, f32, f32, f32, String)>,
    cuts_x: Vec<f32>,
    cuts_y: Vec<f32>,
}

fn drawn(doc: &lopdf::Document, page: lopdf::ObjectId) -> Drawn {
    let content = lopdf::content::Content::decode(&doc.get_page_content(page).unwrap()).unwrap();
    let num = |o: &lopdf::Object| o.as_float().unwrap();
    let mut d = Drawn {
        texts: Vec::new(),
        cuts_x: Vec::new(),
        cuts_y: Vec::new(),
    };
    let (mut font, mut size, mut at, mut from) = (String::new(), 0.0, (0.0, 0.0), (0.0, 0.0));
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                font = String::from_utf8_lossy(op.operands[0].as_name().unwrap()).into_owned();
                size = num(&op.operands[1]);
            }
            "Td" => at = (num(&op.operands[0]), num(&op.operands[1])),
            "Tj" => {
                let s = String::from_utf8_lossy(op.operands[0].as_str().unwrap()).into_owned();
                d.texts.push((font.clone(), size, at.0, at.1, s));
            }
            "m" => from = (num(&op.operands[0]), num(&op.operands[1])),
            "l" => {
                let to = (num(&op.operands[0]), num(&op.operands[1]));
                if (to.0 - from.0).abs() < 0.01 {
                    d.cuts_x.push(to.0);
                } else if (to.1 - from.1).abs() < 0.01 {
                    d.cuts_y.push(to.1);
                }
            }
            _ => {}
        }
    }
    d
}

/// Item 30: an exported sheet carries the logo and the contact details from the branding
/// settings on every page, and every code (Courier: 0.6 em a character) sits at least 5 mm from
/// the cut lines around it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_sheets_carry_the_branding_and_keep_codes_clear_of_the_cut() {
    let db = TestDb::new().await;
    let app = spawn_app(db.pool.clone()).await;
    app.set_settings(
        Category::Branding,
        json!({
            "companyPhone": "+250 788 300 400",
            "companyEmail": "care@mbelyco.rw",
            "companyWebsite": "https://mbelyco.rw",
            "companyLogo": png_logo(),
        }),
    )
    .await;
    let key = app.api_key("Super Administrator").await;
    let batch = app.generated_batch(&key, "Branded sheets", 30, "w-pdf").await;
    let res = app
        .get_as(
            &key,
            &format!("/api/v1/admin/promo-codes/export?format=pdf&batchId={batch}"),
        )
        .await;
    assert_eq!(res.status(), 200);
    let doc = lopdf::Document::load_mem(&res.bytes().await.unwrap()).expect("a valid PDF");
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 3);
    let codes: Vec<String> = sqlx::query_scalar("select code from promo_codes where batch_id = $1::uuid")
        .bind(&batch)
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let safe = 5.0 * 72.0 / 25.4;
    let mut seen = 0;
    for (n, page) in pages {
        let text = doc.extract_text(&[n]).unwrap();
        for detail in ["+250 788 300 400", "care@mbelyco.rw", "https://mbelyco.rw"] {
            assert!(text.contains(detail), "page {n} lacks {detail}: {text}");
        }
        // the logo: an image XObject the page draws
        let resources = doc.get_page_resources(page).unwrap().0.expect("page resources");
        let xobjects = resources.get(b"XObject").unwrap().as_dict().unwrap();
        let image = doc
            .get_object(xobjects.get(b"Im1").unwrap().as_reference().unwrap())
            .unwrap()
            .as_stream()
            .unwrap();
        assert_eq!(image.dict.get(b"Subtype").unwrap().as_name().unwrap(), b"Image");
        let content = String::from_utf8_lossy(&doc.get_page_content(page).unwrap()).into_owned();
        assert!(content.contains("/Im1 Do"), "page {n} draws the logo");

        let d = drawn(&doc, page);
        assert_eq!((d.cuts_x.len(), d.cuts_y.len()), (4, 5), "a 3 × 4 grid of cut guides");
        for (font, size, x, y, s) in d.texts.iter().filter(|t| codes.contains(&t.4)) {
            seen += 1;
            assert_eq!(font, "F3", "codes are set in Courier");
            let (left, right) = (*x, x + 0.6 * size * s.chars().count() as f32);
            // Courier-Bold's glyphs stay within 0.25 em below and 0.95 em above the baseline
            let (bottom, top) = (y - 0.25 * size, y + 0.95 * size);
            let cut_left = d.cuts_x.iter().filter(|c| **c <= left).fold(f32::MIN, |a, c| a.max(*c));
            let cut_right = d
                .cuts_x
                .iter()
                .filter(|c| **c >= right)
                .fold(f32::MAX, |a, c| a.min(*c));
            let cut_below = d
                .cuts_y
                .iter()
                .filter(|c| **c <= bottom)
                .fold(f32::MIN, |a, c| a.max(*c));
            let cut_above = d.cuts_y.iter().filter(|c| **c >= top).fold(f32::MAX, |a, c| a.min(*c));
            let gap = (left - cut_left)
                .min(cut_right - right)
                .min(bottom - cut_below)
                .min(cut_above - top);
            assert!(
                gap >= safe - 0.01,
                "code {s} on page {n} is {:.1} mm from a cut line",
                gap * 25.4 / 72.0
            );
        }
    }
    assert_eq!(seen, 30, "every code was found and measured");
}
