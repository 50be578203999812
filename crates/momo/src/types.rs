//! Request and response bodies of the Disbursement API, as the swagger names them (camelCase on the
//! wire). Incoming fields are parsed leniently (see `lenient`); unknown fields are ignored.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lenient;
use crate::validate::{self, InvalidRequest};

/// `POST /disbursement/token/` → 200 (A4). `token_type` is the literal `access_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub token_type: String,
    /// Seconds; 3600 in every capture.
    #[serde(deserialize_with = "lenient::u64")]
    pub expires_in: u64,
}

/// Who is paid: `partyIdType` is `MSISDN` here (the swagger also allows `EMAIL`, `PARTY_CODE`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(default, deserialize_with = "lenient::string")]
    pub party_id_type: String,
    /// E.164 digits without `+`; some examples send a number.
    #[serde(default, deserialize_with = "lenient::string")]
    pub party_id: String,
}

impl Party {
    /// A phone number as MoMo wants it, `250788123456`.
    pub fn msisdn(msisdn: impl Into<String>) -> Self {
        Self {
            party_id_type: "MSISDN".to_owned(),
            party_id: msisdn.into(),
        }
    }
}

/// The body of `POST /disbursement/v1_0/transfer` (A5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferRequest {
    /// Whole units as a string, `"5000"`.
    pub amount: String,
    pub currency: String,
    /// Our reconciliation id; MoMo does not require it to be unique and shows it in its reports.
    pub external_id: String,
    pub payee: Party,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_note: Option<String>,
}

impl TransferRequest {
    /// A payout of `amount` whole units to `msisdn`, with both notes cleaned to what MoMo accepts
    /// (ASCII, no apostrophes, ≤ 128 characters; A13).
    pub fn new(
        amount: u64,
        currency: &str,
        external_id: &str,
        msisdn: &str,
        payer_message: &str,
        payee_note: &str,
    ) -> Result<Self, InvalidRequest> {
        let request = Self {
            amount: amount.to_string(),
            currency: currency.to_owned(),
            external_id: external_id.to_owned(),
            payee: Party::msisdn(msisdn),
            payer_message: Some(validate::clean_note(payer_message)),
            payee_note: Some(validate::clean_note(payee_note)),
        };
        request.validate()?;
        Ok(request)
    }

    /// Everything MoMo would answer 400 for (A5, A13), so a bad request fails here, before it is sent.
    pub fn validate(&self) -> Result<(), InvalidRequest> {
        validate::check_amount(&self.amount)?;
        validate::check_currency(&self.currency)?;
        validate::check_text("externalId", &self.external_id)?;
        if self.payee.party_id_type != "MSISDN" {
            return Err(InvalidRequest::PartyIdType(self.payee.party_id_type.clone()));
        }
        validate::check_msisdn(&self.payee.party_id)?;
        if let Some(message) = &self.payer_message {
            validate::check_note("payerMessage", message)?;
        }
        if let Some(note) = &self.payee_note {
            validate::check_note("payeeNote", note)?;
        }
        Ok(())
    }
}

/// A transfer's `status` (A6, A7). `REJECTED` and `TIMEOUT` are read as [`Status::Failed`];
/// anything else unknown (`CREATED`, `ONGOING`) is [`Status::Other`] and not final.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Status {
    Pending,
    Successful,
    Failed,
    Other(String),
}

impl Status {
    /// Whether MoMo will not change it any more.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Successful | Self::Failed)
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::Successful => "SUCCESSFUL",
            Self::Failed => "FAILED",
            Self::Other(other) => other,
        }
    }
}

impl From<String> for Status {
    fn from(value: String) -> Self {
        match value.to_ascii_uppercase().as_str() {
            "PENDING" => Self::Pending,
            "SUCCESSFUL" | "SUCCESS" => Self::Successful,
            "FAILED" | "REJECTED" | "TIMEOUT" => Self::Failed,
            _ => Self::Other(value),
        }
    }
}

impl From<Status> for String {
    fn from(status: Status) -> Self {
        status.as_str().to_owned()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transfer failed: an A7 code such as `NOT_ENOUGH_FUNDS`, and MoMo's text when it sent one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `GET /disbursement/v1_0/transfer/{referenceId}` → 200, also the callback body (A6, A10).
/// A FAILED transfer is a 200 too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransferStatus {
    #[serde(default, deserialize_with = "lenient::string")]
    pub amount: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub currency: String,
    /// MoMo's ledger id, present once processed.
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub financial_transaction_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub external_id: String,
    #[serde(default)]
    pub payee: Party,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub payer_message: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub payee_note: Option<String>,
    pub status: Status,
    #[serde(
        default,
        deserialize_with = "lenient::reason",
        skip_serializing_if = "Option::is_none"
    )]
    pub reason: Option<Reason>,
}

/// `GET /disbursement/v1_0/account/balance` → 200 (A9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Balance {
    #[serde(deserialize_with = "lenient::string")]
    pub available_balance: String,
    #[serde(default, deserialize_with = "lenient::string")]
    pub currency: String,
}

/// `GET /disbursement/v1_0/accountholder/msisdn/{msisdn}/active` → 200 (A9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountHolderActive {
    pub result: bool,
}

/// An error body in any of MoMo's three shapes (A8): business `{code, message}`, token
/// `{error}`, gateway `{statusCode, message}`; an empty 400 body parses as all `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub message: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub error: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_code: Option<String>,
}

impl ErrorBody {
    /// A business body `{"code", "message"}`.
    pub fn business(code: &str, message: &str) -> Self {
        Self {
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            ..Self::default()
        }
    }

    /// Parses whatever came back; anything unreadable (HTML from a proxy) keeps its text as the message.
    pub fn parse(bytes: &[u8]) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Self::default();
        }
        serde_json::from_slice(bytes).unwrap_or_else(|_| Self {
            message: Some(String::from_utf8_lossy(bytes).chars().take(200).collect()),
            ..Self::default()
        })
    }

    /// The A7 code (business `code`, or the token endpoint's `error`).
    pub fn reason_code(&self) -> Option<&str> {
        self.code.as_deref().or(self.error.as_deref())
    }
}

/// `POST /v1_0/apiuser` body (A3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUserRequest {
    pub provider_callback_host: String,
}

/// `POST /v1_0/apiuser/{id}/apikey` → 201 (A3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyResponse {
    pub api_key: String,
}

/// `GET /v1_0/apiuser/{id}` → 200 (A3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiUserInfo {
    pub provider_callback_host: String,
    pub target_environment: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_body_with_numbers_and_object_reason_parses() {
        let body = r#"{"amount":100,"currency":"EUR","financialTransactionId":23503452,"externalId":947354,
            "payee":{"partyIdType":"MSISDN","partyId":4656473839},"status":"FAILED",
            "reason":{"code":"PAYER_LIMIT_REACHED","message":"The payer's limit has been breached."},"extra":1}"#;
        let status: TransferStatus = serde_json::from_str(body).expect("parses");
        assert_eq!(status.amount, "100");
        assert_eq!(status.financial_transaction_id.as_deref(), Some("23503452"));
        assert_eq!(status.external_id, "947354");
        assert_eq!(status.payee.party_id, "4656473839");
        assert_eq!(status.status, Status::Failed);
        let reason = status.reason.expect("a reason");
        assert_eq!(reason.code, "PAYER_LIMIT_REACHED");
        assert_eq!(reason.message.as_deref(), Some("The payer's limit has been breached."));
    }

    #[test]
    fn reason_as_string_empty_object_or_absent() {
        let parse = |reason: &str| -> Option<Reason> {
            let body = format!(r#"{{"status":"FAILED"{reason}}}"#);
            serde_json::from_str::<TransferStatus>(&body).expect("parses").reason
        };
        assert_eq!(
            parse(r#","reason":"NOT_ENOUGH_FUNDS""#).map(|r| r.code).as_deref(),
            Some("NOT_ENOUGH_FUNDS")
        );
        assert_eq!(parse(r#","reason":{}"#), None);
        assert_eq!(parse(r#","reason":null"#), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn sandbox_statuses_map_to_final_or_not() {
        let status = |s: &str| Status::from(s.to_owned());
        assert!(status("SUCCESSFUL").is_final());
        assert_eq!(status("REJECTED"), Status::Failed);
        assert_eq!(status("TIMEOUT"), Status::Failed);
        assert!(!status("CREATED").is_final());
        assert!(!status("ONGOING").is_final());
        assert_eq!(status("CREATED").as_str(), "CREATED");
    }

    #[test]
    fn token_lifetime_as_number_or_text() {
        let token: TokenResponse =
            serde_json::from_str(r#"{"access_token":"t","token_type":"access_token","expires_in":"3600"}"#)
                .expect("parses");
        assert_eq!(token.expires_in, 3600);
        assert!(serde_json::from_str::<TokenResponse>(r#"{"access_token":"t","expires_in":"soon"}"#).is_err());
    }

    #[test]
    fn balance_as_number_parses() {
        let balance: Balance = serde_json::from_str(r#"{"availableBalance":1000,"currency":"EUR"}"#).expect("parses");
        assert_eq!(balance.available_balance, "1000");
    }

    #[test]
    fn error_bodies_of_every_layer_parse() {
        assert_eq!(
            ErrorBody::parse(br#"{"code":"RESOURCE_ALREADY_EXIST","message":"Duplicated reference id."}"#)
                .reason_code(),
            Some("RESOURCE_ALREADY_EXIST")
        );
        assert_eq!(
            ErrorBody::parse(br#"{"error":"login_failed"}"#).reason_code(),
            Some("login_failed")
        );
        let gateway = ErrorBody::parse(br#"{"statusCode":401,"message":"Access denied"}"#);
        assert_eq!(gateway.status_code.as_deref(), Some("401"));
        assert_eq!(ErrorBody::parse(b""), ErrorBody::default());
        assert_eq!(
            ErrorBody::parse(b"<html>bad gateway</html>").message.as_deref(),
            Some("<html>bad gateway</html>")
        );
    }

    #[test]
    fn transfer_request_serialises_as_the_swagger_names_it() {
        let request =
            TransferRequest::new(5000, "RWF", "r-1", "250788123456", "MBELYCO promo", "Murakoze").expect("valid");
        let json = serde_json::to_value(&request).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"amount":"5000","currency":"RWF","externalId":"r-1",
                "payee":{"partyIdType":"MSISDN","partyId":"250788123456"},
                "payerMessage":"MBELYCO promo","payeeNote":"Murakoze"})
        );
    }
}
