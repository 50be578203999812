//! Configuration from environment variables, parsed and validated once at start-up.
//!
//! Every variable has a working local default, so a developer needs nothing set and a hosted
//! PostgreSQL needs only `DATABASE_URL`. A bad value is a [`ConfigError`] naming the variable; the
//! binary prints it and exits with code 2 before anything starts. `.env.example` documents each one.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/mbelyco";
const MIN_SECRET_KEY_LEN: usize = 32;
const MIN_METRICS_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    Development,
    Test,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Where `SECRET_KEY` came from: production must set it; elsewhere one is generated once and kept
/// in the data directory so encrypted settings survive a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    Generated(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub app_env: AppEnv,
    pub database_url: SecretString,
    pub database_max_connections: u32,
    pub bind_addr: SocketAddr,
    pub public_base_url: String,
    pub secret_key: SecretString,
    pub secret_source: SecretSource,
    pub data_dir: PathBuf,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub worker_concurrency: usize,
    pub shutdown_grace_secs: u64,
    pub metrics_token: Option<SecretString>,
    /// Start the gateway simulators and demo data with `run` (default: on outside production).
    pub simulators: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {var}: {message}")]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

fn invalid(var: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        message: message.into(),
    }
}

impl Config {
    /// Reads the process environment (and nothing else).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Parses configuration from any lookup function, so tests need not touch the process env.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| get(name).filter(|v| !v.trim().is_empty());

        let app_env = match get("APP_ENV").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") => AppEnv::Development,
            Some("test") => AppEnv::Test,
            Some("production") | Some("prod") => AppEnv::Production,
            Some(other) => {
                return Err(invalid(
                    "APP_ENV",
                    format!("`{other}` is not one of development, test, production"),
                ))
            }
        };

        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned());
        if !(database_url.starts_with("postgres://") || database_url.starts_with("postgresql://")) {
            return Err(invalid("DATABASE_URL", "must start with postgres:// or postgresql://"));
        }
        if database_name(&database_url).is_none() {
            return Err(invalid(
                "DATABASE_URL",
                "must name a database, e.g. postgres://user@host:5432/mbelyco",
            ));
        }

        let database_max_connections = parse_num(&get, "DATABASE_MAX_CONNECTIONS", 20u32, 2, 1000)?;
        let bind_addr = match get("BIND_ADDR") {
            None => SocketAddr::from(([127, 0, 0, 1], 8080)),
            Some(v) => SocketAddr::from_str(v.trim())
                .map_err(|_| invalid("BIND_ADDR", format!("`{v}` is not an address such as 127.0.0.1:8080")))?,
        };
        let public_base_url = match get("PUBLIC_BASE_URL") {
            None => format!("http://{bind_addr}"),
            Some(v) => {
                let v = v.trim().trim_end_matches('/').to_owned();
                let rest = v.strip_prefix("https://").or_else(|| v.strip_prefix("http://"));
                match rest {
                    Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => v,
                    _ => return Err(invalid("PUBLIC_BASE_URL", "must be an http:// or https:// URL")),
                }
            }
        };

        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| ".mbelyco".to_owned()));

        let (secret_key, secret_source) = match get("SECRET_KEY") {
            Some(v) if v.len() >= MIN_SECRET_KEY_LEN => (SecretString::from(v), SecretSource::Env),
            Some(_) => {
                return Err(invalid(
                    "SECRET_KEY",
                    format!("must be at least {MIN_SECRET_KEY_LEN} characters (try `openssl rand -hex 32`)"),
                ))
            }
            None if app_env == AppEnv::Production => {
                return Err(invalid("SECRET_KEY", "is required when APP_ENV=production"))
            }
            None => {
                let path = data_dir.join("secret.key");
                (load_or_generate_secret(&path)?, SecretSource::Generated(path))
            }
        };

        let log_filter = get("RUST_LOG")
            .or_else(|| get("LOG_LEVEL"))
            .unwrap_or_else(|| "info".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
            return Err(invalid("RUST_LOG", format!("`{log_filter}` is not a valid log filter")));
        }
        let log_format = match get("LOG_FORMAT").as_deref() {
            None => {
                if app_env == AppEnv::Production {
                    LogFormat::Json
                } else {
                    LogFormat::Pretty
                }
            }
            Some("json") => LogFormat::Json,
            Some("pretty") | Some("text") => LogFormat::Pretty,
            Some(other) => return Err(invalid("LOG_FORMAT", format!("`{other}` is not json or pretty"))),
        };

        let admin_email = get("ADMIN_EMAIL").map(|e| e.trim().to_owned());
        if let Some(email) = &admin_email {
            if !looks_like_email(email) {
                return Err(invalid("ADMIN_EMAIL", format!("`{email}` is not an email address")));
            }
        }
        let admin_password = get("ADMIN_PASSWORD").map(SecretString::from);
        if let Some(p) = &admin_password {
            if p.expose_secret().chars().count() < 12 {
                return Err(invalid("ADMIN_PASSWORD", "must be at least 12 characters"));
            }
        }

        let worker_concurrency = parse_num(&get, "WORKER_CONCURRENCY", 4usize, 1, 256)?;
        let shutdown_grace_secs = parse_num(&get, "SHUTDOWN_GRACE_SECONDS", 30u64, 0, 3600)?;
        let metrics_token = get("METRICS_TOKEN").map(SecretString::from);
        let simulators = match get("SIMULATORS").as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => app_env != AppEnv::Production,
            Some("on" | "1" | "true") => true,
            Some("off" | "0" | "false") => false,
            Some(other) => return Err(invalid("SIMULATORS", format!("must be on or off, not `{other}`"))),
        };

        Ok(Config {
            app_env,
            database_url: SecretString::from(database_url),
            database_max_connections,
            bind_addr,
            public_base_url,
            secret_key,
            secret_source,
            data_dir,
            log_filter,
            log_format,
            admin_email,
            admin_password,
            worker_concurrency,
            shutdown_grace_secs,
            metrics_token,
            simulators,
        })
    }

    /// What `run` and `serve` need beyond a valid configuration: in production `/api/metrics` is
    /// never public, so `METRICS_TOKEN` must be set (decision 0027). `worker`, `migrate` and the
    /// tools serve no HTTP and start without it.
    pub fn check_serving(&self) -> Result<(), ConfigError> {
        if !self.is_production() {
            return Ok(());
        }
        match &self.metrics_token {
            None => Err(invalid(
                "METRICS_TOKEN",
                "is required when APP_ENV=production, or /api/metrics would be public (try `openssl rand -hex 32`)",
            )),
            Some(t) if t.expose_secret().trim().chars().count() < MIN_METRICS_TOKEN_LEN => Err(invalid(
                "METRICS_TOKEN",
                format!("must be at least {MIN_METRICS_TOKEN_LEN} characters when APP_ENV=production"),
            )),
            Some(_) => Ok(()),
        }
    }

    pub fn is_production(&self) -> bool {
        self.app_env == AppEnv::Production
    }

    /// Cookies get `Secure` when the panel is served over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }
}

fn parse_num<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Copy + std::fmt::Display,
{
    match get(var) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(invalid(var, format!("`{v}` is not a whole number from {min} to {max}"))),
        },
    }
}

/// The database name of a PostgreSQL URL (`…/name?params`).
pub fn database_name(url: &str) -> Option<&str> {
    let after_scheme = url.split_once("://")?.1;
    let path = after_scheme.split_once('/')?.1;
    let name = path.split(['?', '#']).next()?;
    (!name.is_empty()).then_some(name)
}

/// `url` naming database `name` instead of its own (the path after the host, not a user or host
/// that happens to share the name: `postgres://postgres@h/postgres`).
pub fn with_database(url: &str, name: &str) -> Option<String> {
    let (scheme, after_scheme) = url.split_once("://")?;
    let (authority, path) = after_scheme.split_once('/')?;
    let rest = &path[database_name(url)?.len()..];
    Some(format!("{scheme}://{authority}/{name}{rest}"))
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace),
        None => false,
    }
}

fn load_or_generate_secret(path: &std::path::Path) -> Result<SecretString, ConfigError> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        let existing = existing.trim().to_owned();
        if existing.len() >= MIN_SECRET_KEY_LEN {
            return Ok(SecretString::from(existing));
        }
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let key = hex::encode(bytes);
    let write = || -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, &key)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    };
    write().map_err(|e| {
        invalid(
            "SECRET_KEY",
            format!("not set, and {} could not be written: {e}", path.display()),
        )
    })?;
    Ok(SecretString::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let dir = std::env::temp_dir().join(format!("mbelyco-cfg-{}", uuid::Uuid::new_v4()));
        let mut map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("DATA_DIR".into()).or_insert(dir.display().to_string());
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_locally() {
        let c = cfg(&[]).expect("defaults are valid");
        assert_eq!(c.app_env, AppEnv::Development);
        assert_eq!(c.database_url.expose_secret(), DEFAULT_DATABASE_URL);
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.public_base_url, "http://127.0.0.1:8080");
        assert!(matches!(c.secret_source, SecretSource::Generated(_)));
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn generated_secret_is_kept_between_starts() {
        let dir = std::env::temp_dir().join(format!("mbelyco-cfg-{}", uuid::Uuid::new_v4()));
        let d = dir.display().to_string();
        let a = cfg(&[("DATA_DIR", &d)]).expect("valid");
        let b = cfg(&[("DATA_DIR", &d)]).expect("valid");
        assert_eq!(a.secret_key.expose_secret(), b.secret_key.expose_secret());
    }

    #[test]
    fn production_requires_secret_key() {
        let err = cfg(&[("APP_ENV", "production")]).expect_err("must fail");
        assert_eq!(err.var, "SECRET_KEY");
        let ok = cfg(&[("APP_ENV", "production"), ("SECRET_KEY", &"k".repeat(40))]).expect("valid");
        assert_eq!(ok.log_format, LogFormat::Json);
    }

    /// In production the web process refuses to start with `/api/metrics` open to anyone.
    #[test]
    fn production_serving_requires_a_metrics_token() {
        let key = "k".repeat(40);
        let prod = cfg(&[("APP_ENV", "production"), ("SECRET_KEY", &key)]).expect("valid for the tools");
        let err = prod.check_serving().expect_err("no token: refused");
        assert_eq!(err.var, "METRICS_TOKEN");
        assert!(err.to_string().contains("METRICS_TOKEN"), "{err}");
        let short = cfg(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", &key),
            ("METRICS_TOKEN", "abc"),
        ])
        .unwrap();
        assert_eq!(short.check_serving().expect_err("too short").var, "METRICS_TOKEN");
        let token = "t".repeat(32);
        let ok = cfg(&[
            ("APP_ENV", "production"),
            ("SECRET_KEY", &key),
            ("METRICS_TOKEN", &token),
        ])
        .unwrap();
        assert!(ok.check_serving().is_ok());
        // outside production metrics may stay open for a local Prometheus
        assert!(cfg(&[]).unwrap().check_serving().is_ok());
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&str, &str)] = &[
            ("APP_ENV", "staging"),
            ("DATABASE_URL", "mysql://x/y"),
            ("DATABASE_URL", "postgres://host:5432"),
            ("BIND_ADDR", "localhost"),
            ("PUBLIC_BASE_URL", "ftp://x"),
            ("SECRET_KEY", "short"),
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "many"),
            ("DATABASE_MAX_CONNECTIONS", "1"),
            ("LOG_FORMAT", "xml"),
            ("ADMIN_EMAIL", "not-an-email"),
            ("ADMIN_PASSWORD", "short"),
            ("RUST_LOG", "info,[[["),
        ];
        for (var, value) in cases {
            let err = cfg(&[(var, value)]).expect_err(&format!("{var}={value} must be refused"));
            assert_eq!(&err.var, var, "{var}={value}");
            assert!(err.to_string().contains(var));
        }
    }

    #[test]
    fn database_name_is_parsed() {
        assert_eq!(
            database_name("postgres://u@h:5432/mbelyco?sslmode=require"),
            Some("mbelyco")
        );
        assert_eq!(database_name("postgres://u@h:5432/"), None);
        assert_eq!(
            with_database("postgres://postgres@h:5432/postgres?sslmode=require", "scratch").as_deref(),
            Some("postgres://postgres@h:5432/scratch?sslmode=require")
        );
    }
}
