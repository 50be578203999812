//! Spawning the whole app against a test's own database.

use std::collections::HashMap;
use std::sync::Arc;

use mbelyco::clock::{Clock, SharedClock, SystemClock};
use mbelyco::config::Config;
use mbelyco::jobs::{Worker, WorkerOptions};
use mbelyco::web::AppState;
use sqlx::{Connection, PgPool};
use tokio_util::sync::CancellationToken;

pub const ADMIN_EMAIL: &str = "root@mbelyco.test";
pub const ADMIN_PASSWORD: &str = "a long test password 123";

/// The secret key every test app (and worker process) runs with.
pub const TEST_SECRET_KEY: &str = "test-secret-key-0123456789abcdef-0123456789";

pub fn test_config(extra: &[(&str, &str)]) -> Config {
    let dir = std::env::temp_dir().join(format!("mbelyco-test-{}", uuid::Uuid::new_v4()));
    let mut vars: HashMap<String, String> = [
        ("APP_ENV", "test"),
        ("SECRET_KEY", TEST_SECRET_KEY),
        ("ADMIN_EMAIL", ADMIN_EMAIL),
        ("ADMIN_PASSWORD", ADMIN_PASSWORD),
        ("BIND_ADDR", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert("DATA_DIR".into(), dir.display().to_string());
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test configuration is valid")
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub pool: PgPool,
    pub state: AppState,
    shutdown: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub async fn build_state(pool: &PgPool) -> AppState {
    build_state_with_clock(pool, Arc::new(SystemClock)).await
}

pub async fn build_state_with_clock(pool: &PgPool, clock: SharedClock) -> AppState {
    mbelyco::startup::build_state(pool.clone(), test_config(&[]), clock)
        .await
        .expect("state builds")
}

pub async fn spawn_app(pool: PgPool) -> TestApp {
    spawn_app_with_clock(pool, Arc::new(SystemClock)).await
}

/// The app on a random port whose time is `clock` (a `ManualClock` the test moves).
pub async fn spawn_app_with_clock(pool: PgPool, clock: SharedClock) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let config = test_config(&[("PUBLIC_BASE_URL", &base)]);
    let state = mbelyco::startup::build_state(pool.clone(), config, clock)
        .await
        .expect("state builds");
    let shutdown = CancellationToken::new();
    tokio::spawn(mbelyco::startup::serve(state.clone(), listener, shutdown.clone()));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        base,
        client,
        pool,
        state,
        shutdown,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client that keeps cookies, like a browser, and sends our Origin.
    pub fn browser(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.base.parse().unwrap());
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    }

    /// `GET path` as the holder of API key `key`.
    pub async fn get_as(&self, key: impl std::fmt::Display, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).bearer_auth(key).send().await.unwrap()
    }

    /// `DELETE path` as the holder of API key `key`.
    pub async fn delete_as(&self, key: impl std::fmt::Display, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
    }

    /// `POST path` with a JSON `body` as the holder of API key `key`.
    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        key: impl std::fmt::Display,
        path: &str,
        body: &T,
    ) -> reqwest::Response {
        self.send_json(key, reqwest::Method::POST, path, body).await
    }

    /// `PUT path` with a JSON `body` as the holder of API key `key`.
    pub async fn put_json<T: serde::Serialize + ?Sized>(
        &self,
        key: impl std::fmt::Display,
        path: &str,
        body: &T,
    ) -> reqwest::Response {
        self.send_json(key, reqwest::Method::PUT, path, body).await
    }

    /// `POST path` without a body as the holder of API key `key`.
    pub async fn post_as(&self, key: impl std::fmt::Display, path: &str) -> reqwest::Response {
        self.client.post(self.url(path)).bearer_auth(key).send().await.unwrap()
    }

    /// `POST path` with a url-encoded `form` as the holder of API key `key`.
    pub async fn post_form<T: serde::Serialize + ?Sized>(
        &self,
        key: impl std::fmt::Display,
        path: &str,
        form: &T,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(key)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `method path` with a JSON `body` as the holder of API key `key`.
    pub async fn send_json<T: serde::Serialize + ?Sized>(
        &self,
        key: impl std::fmt::Display,
        method: reqwest::Method,
        path: &str,
        body: &T,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// A job worker with the app's real job registry and the system clock.
    pub fn worker(&self, id: &str) -> Worker {
        Worker::new(
            self.pool.clone(),
            mbelyco::startup::registry(&self.state),
            Arc::new(SystemClock),
            WorkerOptions {
                worker_id: id.into(),
                ..WorkerOptions::default()
            },
        )
    }

    /// Creates a batch of `n` codes (1000 RWF each, expiring 2027-06-30) through the API, runs
    /// worker `worker_id` until the queue is empty (so the codes are generated), and returns the
    /// batch's id.
    pub async fn generated_batch(&self, key: &str, name: &str, n: i64, worker_id: &str) -> String {
        let res = self
            .post_json(
                key,
                "/api/v1/admin/batches",
                &serde_json::json!({"name": name, "totalCodes": n, "amountPerCode": 1000, "expiresAt": "2027-06-30"}),
            )
            .await;
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        let body: serde_json::Value = res.json().await.unwrap();
        self.worker(worker_id).drain().await.unwrap();
        body["batch"]["id"].as_str().unwrap().to_owned()
    }

    /// The HTML of the page at `path`, fetched with `client` (a browser-like session).
    pub async fn page_html(&self, client: &reqwest::Client, path: &str) -> String {
        client.get(self.url(path)).send().await.unwrap().text().await.unwrap()
    }

    /// Creates an API key acting with `role`'s permissions.
    pub async fn api_key(&self, role: &str) -> String {
        let mut tx = self.pool.begin().await.unwrap();
        let owner: uuid::Uuid = sqlx::query_scalar("select id from users where email = $1")
            .bind(ADMIN_EMAIL)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        let role_id = mbelyco::access::role_id(&mut tx, role).await.unwrap().unwrap();
        let key = mbelyco::identity::api_keys::create(
            &mut tx,
            owner,
            &format!("test {role}"),
            role_id,
            now() + chrono::Duration::days(30),
            &mbelyco::unit::Acting::system(now()),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        key.key
    }
}

/// The value of `<input … name="NAME" value="…">` or of the element with `id="ID"` in a page.
pub fn html_value(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in page: {html}"));
    let rest = &html[at..];
    let tag_end = rest.find('>').unwrap();
    if let Some(v) = rest[..tag_end].find("value=\"") {
        let tail = &rest[v + 7..];
        return tail[..tail.find('"').unwrap()].to_owned();
    }
    let tail = &rest[tag_end + 1..];
    tail[..tail.find('<').unwrap()].to_owned()
}

pub fn now() -> chrono::DateTime<chrono::Utc> {
    SystemClock.now()
}

/// A fresh database for one test, on the server `DATABASE_URL` points at (its database need
/// not exist), migrated, and dropped when the test ends.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let base = std::env::var("DATABASE_URL").unwrap_or_else(|_| mbelyco::config::DEFAULT_DATABASE_URL.to_owned());
        let current = mbelyco::config::database_name(&base)
            .expect("DATABASE_URL names a database")
            .to_owned();
        let name = format!("mbelyco_test_{}", uuid::Uuid::new_v4().simple());
        let url = base.replacen(&format!("/{current}"), &format!("/{name}"), 1);
        let admin_url = base.replacen(&format!("/{current}"), "/postgres", 1);
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("PostgreSQL is reachable (is it running?)");
        sqlx::query(&format!("create database {name}"))
            .execute(&mut admin)
            .await
            .expect("create test database");
        admin.close().await.ok();
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(60)
            .connect(&url)
            .await
            .expect("connect test database");
        mbelyco::db::migrate(&pool).await.expect("migrations apply");
        TestDb {
            pool,
            url,
            name,
            admin_url,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (name, admin_url, pool) = (self.name.clone(), self.admin_url.clone(), self.pool.clone());
        // Drop cannot await: finish on a thread with its own runtime
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                // connections held by tasks of a test that panicked never come back (their
                // runtime is blocked on this very drop): don't wait for them, `force` ends them
                let _ = tokio::time::timeout(std::time::Duration::from_secs(1), pool.close()).await;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("drop database if exists {name} with (force)"))
                        .execute(&mut admin)
                        .await;
                }
            });
        })
        .join();
    }
}

/// The CSRF token a page's forms carry.
pub async fn csrf_from(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let html = app.page_html(client, path).await;
    html_value(&html, r#"name="_csrf""#)
}

pub async fn password_step(client: &reqwest::Client, app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let csrf = csrf_from(client, app, "/sign-in").await;
    client
        .post(app.url("/sign-in"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
            ("next", "/account"),
        ])
        .send()
        .await
        .unwrap()
}

/// Finishes a first sign-in on `client` (past the password step): reads the TOTP secret off the
/// enrolment page and confirms it with a current code.
pub async fn finish_enrolment(client: &reqwest::Client, app: &TestApp) {
    let html = app.page_html(client, "/sign-in/enrol").await;
    let secret = html_value(&html, r#"id="totp-secret""#);
    let csrf = html_value(&html, r#"name="_csrf""#);
    let code = mbelyco::identity::totp::code_at(&secret, now().timestamp() as u64).unwrap();
    let res = client
        .post(app.url("/sign-in/enrol"))
        .form(&[("_csrf", csrf.as_str()), ("code", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// The `field` of every entry in a problem body's `errors`, in order.
pub fn error_fields(body: &serde_json::Value) -> Vec<&str> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect()
}

/// The USSD endpoint secret the tests configure (`?secret=` on the gateway's URLs).
pub const USSD_SECRET: &str = "test-ussd-endpoint-secret-0123456789";

impl TestApp {
    /// Applies a settings patch (as the system) and reloads the app's settings.
    pub async fn set_settings(&self, category: mbelyco::settings::Category, patch: serde_json::Value) {
        mbelyco::devrun::apply_settings(&self.state, category, patch, "test")
            .await
            .unwrap();
    }

    /// Opens the USSD endpoint to the test gateway (the secret).
    pub async fn open_ussd(&self) {
        self.set_settings(
            mbelyco::settings::Category::Ussd,
            serde_json::json!({"endpointSecret": USSD_SECRET}),
        )
        .await;
    }

    /// The gateway's session callback URL.
    pub fn ussd_url(&self) -> String {
        self.url(&format!("/api/v1/ussd/handle?secret={USSD_SECRET}"))
    }

    /// One hop as Africa's Talking posts it; asserts HTTP 200 `text/plain` and returns the body.
    pub async fn hop(&self, session: &str, phone: &str, text: &str) -> String {
        let res = self
            .client
            .post(self.ussd_url())
            .form(&[
                ("sessionId", session),
                ("serviceCode", "*789#"),
                ("phoneNumber", phone),
                ("networkCode", "63510"),
                ("text", text),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/plain"), "{ct}");
        res.text().await.unwrap()
    }

    /// A first-dial hop caught between writing its log row and committing, as the closing
    /// statement leaves it: the row has its id, and it becomes visible when the returned
    /// transaction commits.
    pub async fn hop_not_yet_committed(
        &self,
        session: &str,
        phone: &str,
    ) -> (sqlx::Transaction<'static, sqlx::Postgres>, i64) {
        let mut tx = self.pool.begin().await.unwrap();
        let id = sqlx::query_scalar(
            "insert into ussd_interactions (session_id, phone_number, service_code, input, response, outcome, \
             latency_ms, created_at) values ($1, $2, '*789#', '', 'CON Murakaza neza', 'menu', 900, now()) \
             returning id",
        )
        .bind(session)
        .bind(phone)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        (tx, id)
    }

    /// Codes of a batch, in serial order.
    pub async fn batch_codes(&self, batch_id: &str) -> Vec<String> {
        sqlx::query_scalar("select code from promo_codes where batch_id = $1::uuid order by serial")
            .bind(batch_id)
            .fetch_all(&self.pool)
            .await
            .unwrap()
    }
}
