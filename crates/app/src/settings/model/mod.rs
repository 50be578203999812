//! The typed settings, one struct per category of PRD 2.8, with the PRD's defaults.
//!
//! Keys are camelCase as the PRD writes them. Secret fields are [`Secret`]: decrypted in memory
//! for the code that needs them, masked whenever serialised.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret setting (API key, password). Serialises as a mask, never as the value.
#[derive(Clone, Default)]
pub struct Secret(pub Option<SecretString>);

impl Secret {
    pub fn expose(&self) -> Option<&str> {
        self.0.as_ref().map(|s| s.expose_secret())
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() { "Secret(set)" } else { "Secret(unset)" })
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.expose() {
            Some(v) => s.serialize_str(&crate::crypto::mask(v)),
            None => s.serialize_none(),
        }
    }
}

/// In the API document: a string sent to set the secret (empty or null clears it); answers show
/// only a mask of it, or null when unset.
impl utoipa::PartialSchema for Secret {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
            .description(Some(
                "A secret. Send the value to set it (empty or null clears it); answers never carry it, only a \
                 mask of it (`••••••` and its last 4 characters), or null when unset.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Secret {}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Option<String> = Option::deserialize(d)?;
        Ok(Secret(v.filter(|s| !s.is_empty()).map(SecretString::from)))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Localized {
    pub en: String,
    pub rw: String,
}

impl Localized {
    fn empty() -> Self {
        Self {
            en: String::new(),
            rw: String::new(),
        }
    }
}

mod campaign;
mod platform;

pub use campaign::*;
pub use platform::*;

/// Every category, as the running process sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Settings {
    pub branding: BrandingSettings,
    pub ussd: UssdSettings,
    pub payments: PaymentSettings,
    pub business: BusinessSettings,
    pub security: SecuritySettings,
    pub notifications: NotificationSettings,
    pub analytics: AnalyticsSettings,
    pub integrations: IntegrationSettings,
    pub backup: BackupSettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Branding,
    Ussd,
    Payments,
    Business,
    Security,
    Notifications,
    Analytics,
    Integrations,
    Backup,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::Branding,
        Category::Ussd,
        Category::Payments,
        Category::Business,
        Category::Security,
        Category::Notifications,
        Category::Analytics,
        Category::Integrations,
        Category::Backup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Branding => "branding",
            Category::Ussd => "ussd",
            Category::Payments => "payments",
            Category::Business => "business",
            Category::Security => "security",
            Category::Notifications => "notifications",
            Category::Analytics => "analytics",
            Category::Integrations => "integrations",
            Category::Backup => "backup",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Top-level keys of this category that hold secrets (encrypted at rest, masked on output).
    pub fn secret_keys(self) -> &'static [&'static str] {
        match self {
            Category::Ussd => &["africasTalkingApiKey", "endpointSecret"],
            Category::Payments => &["momoApiUser", "momoApiKey", "momoSubscriptionKey"],
            Category::Notifications => &["smtpPassword"],
            Category::Backup => &["s3SecretAccessKey"],
            _ => &[],
        }
    }
}
