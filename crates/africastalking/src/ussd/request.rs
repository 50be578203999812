//! The session callback AT posts to the app on every hop (INTEGRATIONS.md B2, B4).

use serde::{Deserialize, Serialize};

use super::form::encode_form;

/// The `User-Agent` AT's USSD gateway sends.
pub const USER_AGENT: &str = "at-ussd-api/1.0";

/// One hop of a USSD session, as AT posts it (form-encoded, AT's camelCase names).
///
/// Deserialise it with any serde form decoder (axum's `Form`); a missing `text` is the empty first
/// hop. Fields are declared in the order of a captured AT body so [`UssdRequest::to_form`] matches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct UssdRequest {
    /// E.164 with the leading `+`, e.g. `+250788123456`.
    pub phone_number: String,
    /// The code dialled, e.g. `*789#`.
    pub service_code: String,
    /// Every input so far joined by `*`; empty on the first hop.
    #[serde(default)]
    pub text: String,
    /// `ATUid_<32 hex>`, constant across the hops of one session.
    pub session_id: String,
    /// MCC+MNC of the subscriber's network: `63510` MTN Rwanda, `63514` Airtel Rwanda, `99999` sandbox.
    pub network_code: String,
}

impl UssdRequest {
    /// The form body exactly as AT writes it.
    pub fn to_form(&self) -> String {
        encode_form([
            ("phoneNumber", self.phone_number.as_str()),
            ("serviceCode", self.service_code.as_str()),
            ("text", self.text.as_str()),
            ("sessionId", self.session_id.as_str()),
            ("networkCode", self.network_code.as_str()),
        ])
    }

    /// The inputs in order, guarding the empty first hop (`"".split('*')` would give one empty
    /// input, B11.8) and dropping a trailing `#` some handsets pass through (B4).
    pub fn inputs(&self) -> Vec<&str> {
        let text = self.text.trim_end_matches('#');
        if text.is_empty() {
            Vec::new()
        } else {
            text.split('*').collect()
        }
    }

    /// The latest input, the only part an app with server-side state needs (B4).
    pub fn last_input(&self) -> Option<&str> {
        self.inputs().last().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body captured from AT's sandbox (INTEGRATIONS.md B2).
    const CAPTURED: &str = "phoneNumber=%2B254739495441&serviceCode=%2A384%2A44135%23&text=&sessionId=ATUid_7c898d72eb11f723ed8ea05ef232f279&networkCode=99999";

    #[test]
    fn decodes_the_captured_body_keeping_the_plus() {
        let request: UssdRequest = serde_urlencoded::from_str(CAPTURED).expect("captured body decodes");
        assert_eq!(request.phone_number, "+254739495441");
        assert_eq!(request.service_code, "*384*44135#");
        assert_eq!(request.text, "");
        assert_eq!(request.session_id, "ATUid_7c898d72eb11f723ed8ea05ef232f279");
        assert_eq!(request.network_code, "99999");
    }

    #[test]
    fn encodes_byte_for_byte_like_at() {
        let request: UssdRequest = serde_urlencoded::from_str(CAPTURED).expect("captured body decodes");
        assert_eq!(request.to_form(), CAPTURED);
    }

    #[test]
    fn missing_text_is_the_first_hop() {
        let request: UssdRequest = serde_urlencoded::from_str(
            "phoneNumber=%2B250788123456&serviceCode=%2A789%23&sessionId=ATUid_x&networkCode=63510",
        )
        .expect("decodes without text");
        assert_eq!(request.text, "");
        assert!(request.inputs().is_empty());
        assert_eq!(request.last_input(), None);
    }

    #[test]
    fn missing_session_id_is_rejected() {
        let result = serde_urlencoded::from_str::<UssdRequest>("phoneNumber=%2B250788123456&text=1");
        assert!(result.is_err());
    }

    #[test]
    fn inputs_split_the_history() {
        let request = UssdRequest {
            phone_number: "+250788123456".into(),
            service_code: "*789#".into(),
            text: "1*2*5000#".into(),
            session_id: "ATUid_x".into(),
            network_code: "63510".into(),
        };
        assert_eq!(request.inputs(), ["1", "2", "5000"]);
        assert_eq!(request.last_input(), Some("5000"));
    }
}
