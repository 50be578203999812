//! The bulk SMS call's request and answer, with AT's exact field names.
//!
//! The answer is read leniently: SDKs and captured answers show `statusCode` as a number, `cost`
//! as text (`"RWF 20.0000"`, or `"0"` for a refused number), `messageId` as `"None"` when nothing
//! was sent, and `messageParts` only in newer answers. A field that is missing or odd never loses
//! the rest.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lenient::{opt_string, opt_u16, vec_or_null};

/// The form AT's `POST /version1/messaging` takes.
///
/// Serialise it with `reqwest`'s `.form()` (or `serde_urlencoded`): the `+` of each number is sent
/// as `%2B`. The simulator reads the same struct; unknown fields (`bulkSMSMode`, `enqueue`,
/// `keyword`) are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRequest {
    /// The app's username: `sandbox` in AT's sandbox, the app's name live.
    pub username: String,
    /// Recipients, E.164 with the `+`, separated by commas.
    pub to: String,
    pub message: String,
    /// A registered sender ID or short code; absent means AT's default sender.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl SendRequest {
    /// A message to `recipients`.
    pub fn new<S: AsRef<str>>(username: impl Into<String>, recipients: &[S], message: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            to: recipients.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(","),
            message: message.into(),
            from: None,
        }
    }

    pub fn from_sender(mut self, from: Option<String>) -> Self {
        self.from = from.filter(|f| !f.trim().is_empty());
        self
    }

    /// The recipients as listed in `to`, trimmed, empty entries dropped.
    pub fn recipients(&self) -> Vec<&str> {
        self.to.split(',').map(str::trim).filter(|n| !n.is_empty()).collect()
    }
}

/// AT's answer: `{"SMSMessageData": {"Message": "Sent to 1/1 Total Cost: RWF 20.0000", "Recipients": […]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    #[serde(rename = "SMSMessageData")]
    pub data: MessageData,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageData {
    /// The summary (`Sent to 1/1 Total Cost: …`), or the reason when nothing was sent
    /// (`InvalidSenderId`).
    #[serde(rename = "Message", default, deserialize_with = "opt_string")]
    pub message: Option<String>,
    #[serde(rename = "Recipients", default, deserialize_with = "vec_or_null")]
    pub recipients: Vec<Recipient>,
}

/// What happened to one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// AT's per-number code (101 Sent); see [`Status`].
    #[serde(default, deserialize_with = "opt_u16")]
    pub status_code: Option<u16>,
    #[serde(default, deserialize_with = "opt_string")]
    pub number: Option<String>,
    /// `Success`, or the failure's name (`InvalidPhoneNumber`).
    #[serde(default, deserialize_with = "opt_string")]
    pub status: Option<String>,
    /// Currency and amount, e.g. `RWF 20.0000`; `0` when nothing was sent.
    #[serde(default, deserialize_with = "opt_string")]
    pub cost: Option<String>,
    /// `ATXid_…`, or `None` (the text) when nothing was sent.
    #[serde(default, deserialize_with = "opt_string")]
    pub message_id: Option<String>,
    /// How many SMS the text took (newer answers only).
    #[serde(default, deserialize_with = "opt_u16", skip_serializing_if = "Option::is_none")]
    pub message_parts: Option<u16>,
}

impl Recipient {
    /// What AT said about this number: the code when there is one, else the status name.
    pub fn outcome(&self) -> Status {
        match (self.status_code, self.status.as_deref()) {
            (Some(code), _) => Status::from_code(code),
            (None, Some("Success")) => Status::Sent,
            (None, Some(name)) => Status::from_name(name),
            (None, None) => Status::Other(0),
        }
    }

    /// The message id, unless AT sent none (`"None"`, empty).
    pub fn message_id(&self) -> Option<&str> {
        self.message_id
            .as_deref()
            .filter(|id| !id.is_empty() && !id.eq_ignore_ascii_case("none"))
    }
}

/// AT's per-recipient status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Processed,
    Sent,
    Queued,
    RiskHold,
    InvalidSenderId,
    InvalidPhoneNumber,
    UnsupportedNumberType,
    InsufficientBalance,
    UserInBlacklist,
    CouldNotRoute,
    DoNotDisturbRejection,
    InternalServerError,
    GatewayError,
    RejectedByGateway,
    /// A code AT has not documented (0 when the answer carried neither code nor status).
    Other(u16),
}

/// Every documented status with its code and name, in code order.
const TABLE: [(Status, u16, &str); 14] = [
    (Status::Processed, 100, "Processed"),
    (Status::Sent, 101, "Sent"),
    (Status::Queued, 102, "Queued"),
    (Status::RiskHold, 401, "RiskHold"),
    (Status::InvalidSenderId, 402, "InvalidSenderId"),
    (Status::InvalidPhoneNumber, 403, "InvalidPhoneNumber"),
    (Status::UnsupportedNumberType, 404, "UnsupportedNumberType"),
    (Status::InsufficientBalance, 405, "InsufficientBalance"),
    (Status::UserInBlacklist, 406, "UserInBlacklist"),
    (Status::CouldNotRoute, 407, "CouldNotRoute"),
    (Status::DoNotDisturbRejection, 409, "DoNotDisturbRejection"),
    (Status::InternalServerError, 500, "InternalServerError"),
    (Status::GatewayError, 501, "GatewayError"),
    (Status::RejectedByGateway, 502, "RejectedByGateway"),
];

impl Status {
    pub fn from_code(code: u16) -> Self {
        TABLE
            .iter()
            .find(|(_, c, _)| *c == code)
            .map_or(Self::Other(code), |(status, _, _)| *status)
    }

    /// By AT's name (`InvalidPhoneNumber`), as a failed answer's `Message` or `status` carries it.
    pub fn from_name(name: &str) -> Self {
        TABLE
            .iter()
            .find(|(_, _, n)| n.eq_ignore_ascii_case(name.trim()))
            .map_or(Self::Other(0), |(status, _, _)| *status)
    }

    pub fn code(self) -> u16 {
        match self {
            Self::Other(code) => code,
            known => TABLE.iter().find(|(s, _, _)| *s == known).map_or(0, |(_, c, _)| *c),
        }
    }

    /// AT's name for it.
    pub fn name(self) -> &'static str {
        TABLE
            .iter()
            .find(|(s, _, _)| *s == self)
            .map_or("Unknown", |(_, _, n)| *n)
    }

    /// AT took the message (100 Processed, 101 Sent, 102 Queued).
    pub fn is_success(self) -> bool {
        matches!(self, Self::Processed | Self::Sent | Self::Queued)
    }

    /// The `status` text AT puts beside the code: `Success` for the three success codes, else the
    /// failure's name.
    pub fn status_text(self) -> &'static str {
        if self.is_success() {
            "Success"
        } else {
            self.name()
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code(), self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_documented_success() {
        let body = r#"{"SMSMessageData":{"Message":"Sent to 1/1 Total Cost: RWF 20.0000","Recipients":[
            {"statusCode":101,"number":"+250788123456","status":"Success","cost":"RWF 20.0000",
             "messageId":"ATXid_0bb2e6b9e1c1e0c0a3f1d2b1c3d4e5f6"}]}}"#;
        let response: SendResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(
            response.data.message.as_deref(),
            Some("Sent to 1/1 Total Cost: RWF 20.0000")
        );
        let recipient = &response.data.recipients[0];
        assert_eq!(recipient.outcome(), Status::Sent);
        assert!(recipient.outcome().is_success());
        assert_eq!(recipient.number.as_deref(), Some("+250788123456"));
        assert_eq!(recipient.message_id(), Some("ATXid_0bb2e6b9e1c1e0c0a3f1d2b1c3d4e5f6"));
        assert_eq!(recipient.message_parts, None);
    }

    #[test]
    fn reads_a_refused_number_with_messageid_none() {
        // the shape AT answers for a number it cannot serve
        let body = r#"{"SMSMessageData":{"Message":"Sent to 0/1 Total Cost: 0","Recipients":[
            {"cost":"0","messageId":"None","number":"0788","status":"InvalidPhoneNumber","statusCode":403}]}}"#;
        let response: SendResponse = serde_json::from_str(body).expect("parses");
        let recipient = &response.data.recipients[0];
        assert_eq!(recipient.outcome(), Status::InvalidPhoneNumber);
        assert!(!recipient.outcome().is_success());
        assert_eq!(recipient.message_id(), None);
    }

    #[test]
    fn tolerates_strings_for_numbers_numbers_for_strings_and_missing_fields() {
        let body = r#"{"SMSMessageData":{"Recipients":[
            {"statusCode":"102","number":"+250788123456","cost":0.8,"messageParts":"2","extra":true},
            {"status":"Success","number":"+250791000001"},
            {"number":"+250791000002","status":"UserInBlacklist"},
            {"statusCode":418}]}}"#;
        let response: SendResponse = serde_json::from_str(body).expect("parses");
        assert_eq!(response.data.message, None);
        let r = &response.data.recipients;
        assert_eq!(r[0].outcome(), Status::Queued);
        assert_eq!(r[0].cost.as_deref(), Some("0.8"));
        assert_eq!(r[0].message_parts, Some(2));
        assert_eq!(r[1].outcome(), Status::Sent, "a status without a code");
        assert_eq!(r[2].outcome(), Status::UserInBlacklist);
        assert_eq!(r[3].outcome(), Status::Other(418));
    }

    #[test]
    fn null_or_missing_recipients_read_as_none() {
        let refused: SendResponse =
            serde_json::from_str(r#"{"SMSMessageData":{"Message":"InvalidSenderId","Recipients":null}}"#)
                .expect("parses");
        assert!(refused.data.recipients.is_empty());
        assert_eq!(refused.data.message.as_deref(), Some("InvalidSenderId"));
        let bare: SendResponse = serde_json::from_str(r#"{"SMSMessageData":{}}"#).expect("parses");
        assert!(bare.data.recipients.is_empty());
    }

    #[test]
    fn codes_and_names_round_trip() {
        for (status, code, name) in TABLE {
            assert_eq!(Status::from_code(code), status);
            assert_eq!(Status::from_name(name), status);
            assert_eq!(status.code(), code);
            assert_eq!(status.name(), name);
        }
        assert_eq!(Status::Sent.status_text(), "Success");
        assert_eq!(Status::InvalidPhoneNumber.status_text(), "InvalidPhoneNumber");
        assert_eq!(Status::from_code(999), Status::Other(999));
        assert_eq!(Status::InvalidPhoneNumber.to_string(), "403 InvalidPhoneNumber");
    }

    #[test]
    fn the_form_keeps_the_plus_and_joins_recipients() {
        let request = SendRequest::new("sandbox", &["+250788123456", "+250791000001"], "Murakoze! 5,000 RWF")
            .from_sender(Some("MBELYCO".into()));
        let form = serde_urlencoded::to_string(&request).expect("encodes");
        assert_eq!(
            form,
            "username=sandbox&to=%2B250788123456%2C%2B250791000001&message=Murakoze%21+5%2C000+RWF&from=MBELYCO"
        );
        let back: SendRequest = serde_urlencoded::from_str(&form).expect("decodes");
        assert_eq!(back, request);
        assert_eq!(back.recipients(), ["+250788123456", "+250791000001"]);
        let no_sender = SendRequest::new("sandbox", &["+250788123456"], "hi").from_sender(Some("  ".into()));
        assert_eq!(no_sender.from, None);
        let extra: SendRequest =
            serde_urlencoded::from_str("username=u&to=%2B250788123456&message=hi&bulkSMSMode=1&enqueue=1")
                .expect("unknown fields are ignored");
        assert_eq!(extra.from, None);
    }
}
