//! The end-of-session notification AT posts to the app's "events" URL (INTEGRATIONS.md B6).
//!
//! Read leniently: every field is optional and numbers may come as text or as numbers, because an
//! endpoint that rejects a notification silently loses it (B11.9). Unknown fields (`hopsMetadata`)
//! are ignored.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::form::encode_form;
use crate::lenient::opt_string;

/// How the session ended, as AT reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionStatus {
    /// Ended while the subscriber was on a menu that needed input (abandoned, timed out).
    Incomplete,
    /// Reached an `END`.
    Success,
    /// Ended by an error from the app (bad answer, non-200, too slow); comes with `errorMessage`.
    Failed,
    /// A value AT has not documented, kept as sent.
    Other(String),
}

impl SessionStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Incomplete => "Incomplete",
            Self::Success => "Success",
            Self::Failed => "Failed",
            Self::Other(other) => other,
        }
    }

    fn from_text(text: String) -> Self {
        match text.as_str() {
            "Incomplete" => Self::Incomplete,
            "Success" => Self::Success,
            "Failed" => Self::Failed,
            _ => Self::Other(text),
        }
    }
}

impl fmt::Display for SessionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for SessionStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

fn opt_status<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<SessionStatus>, D::Error> {
    Ok(opt_string(deserializer)?.map(SessionStatus::from_text))
}

/// AT's end-of-session notification, every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", default)]
pub struct SessionEvent {
    /// `yyyy-MM-dd HH:mm:ss`.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub service_code: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub network_code: Option<String>,
    /// `+…`.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `Incomplete`, `Success` or `Failed` (another value is kept as sent).
    #[serde(deserialize_with = "opt_status", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub status: Option<SessionStatus>,
    /// Currency and amount, e.g. `RWF 0.00`; the format varies.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub cost: Option<String>,
    /// Kept as sent; read it with [`SessionEvent::duration_millis`].
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub duration_in_millis: Option<String>,
    /// Kept as sent; read it with [`SessionEvent::hops`].
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub hops_count: Option<String>,
    /// Every input, `*`-joined like `text`.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// The last `CON`/`END` text the app sent.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub last_app_response: Option<String>,
    /// Only on `Failed`.
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

impl SessionEvent {
    /// `durationInMillis` as a number, if it is one (AT sends `"1234"` or `1234`; `"1234.0"` too).
    pub fn duration_millis(&self) -> Option<u64> {
        parse_whole(self.duration_in_millis.as_deref()?)
    }

    /// `hopsCount` as a number, if it is one.
    pub fn hops(&self) -> Option<u32> {
        u32::try_from(parse_whole(self.hops_count.as_deref()?)?).ok()
    }

    /// The form body AT would post, fields in the documented order, absent ones left out.
    pub fn to_form(&self) -> String {
        let status = self.status.as_ref().map(SessionStatus::as_str);
        let fields = [
            ("date", self.date.as_deref()),
            ("sessionId", self.session_id.as_deref()),
            ("serviceCode", self.service_code.as_deref()),
            ("networkCode", self.network_code.as_deref()),
            ("phoneNumber", self.phone_number.as_deref()),
            ("status", status),
            ("cost", self.cost.as_deref()),
            ("durationInMillis", self.duration_in_millis.as_deref()),
            ("hopsCount", self.hops_count.as_deref()),
            ("input", self.input.as_deref()),
            ("lastAppResponse", self.last_app_response.as_deref()),
            ("errorMessage", self.error_message.as_deref()),
        ];
        encode_form(fields.into_iter().filter_map(|(name, value)| Some((name, value?))))
    }
}

/// A whole non-negative number written as `12`, ` 12 ` or `12.0`.
fn parse_whole(text: &str) -> Option<u64> {
    let text = text.trim();
    let whole = text.strip_suffix(".0").unwrap_or(text);
    whole.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_event() -> SessionEvent {
        SessionEvent {
            date: Some("2026-11-26 08:15:00".into()),
            session_id: Some("ATUid_7c898d72eb11f723ed8ea05ef232f279".into()),
            service_code: Some("*789#".into()),
            network_code: Some("63510".into()),
            phone_number: Some("+250788123456".into()),
            status: Some(SessionStatus::Success),
            cost: Some("RWF 0.00".into()),
            duration_in_millis: Some("5120".into()),
            hops_count: Some("3".into()),
            input: Some("1*ABC123".into()),
            last_app_response: Some("END Thank you".into()),
            error_message: None,
        }
    }

    #[test]
    fn form_round_trip_keeps_every_field() {
        let event = full_event();
        let body = event.to_form();
        assert!(body.contains("phoneNumber=%2B250788123456"), "{body}");
        let decoded: SessionEvent = serde_urlencoded::from_str(&body).expect("decodes");
        assert_eq!(decoded, event);
        assert_eq!(decoded.duration_millis(), Some(5120));
        assert_eq!(decoded.hops(), Some(3));
    }

    #[test]
    fn accepts_numbers_nulls_unknown_fields_and_unknown_status() {
        let json = r#"{"sessionId":"ATUid_1","status":"Timeout","durationInMillis":5120,
            "hopsCount":"2.0","networkCode":63510,"errorMessage":null,"hopsMetadata":[{"a":1}]}"#;
        let event: SessionEvent = serde_json::from_str(json).expect("lenient");
        assert_eq!(event.status, Some(SessionStatus::Other("Timeout".into())));
        assert_eq!(event.duration_millis(), Some(5120));
        assert_eq!(event.hops(), Some(2));
        assert_eq!(event.network_code.as_deref(), Some("63510"));
        assert_eq!(event.error_message, None);
    }

    #[test]
    fn an_empty_body_is_an_empty_event() {
        let event: SessionEvent = serde_urlencoded::from_str("").expect("empty is fine");
        assert_eq!(event, SessionEvent::default());
    }

    #[test]
    fn garbage_numbers_read_as_absent_but_are_kept() {
        let event: SessionEvent = serde_urlencoded::from_str("hopsCount=many&status=Failed").expect("lenient");
        assert_eq!(event.hops(), None);
        assert_eq!(event.hops_count.as_deref(), Some("many"));
        assert_eq!(event.status, Some(SessionStatus::Failed));
    }
}
