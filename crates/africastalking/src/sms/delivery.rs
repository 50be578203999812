//! SMS delivery reports: AT posts one to the delivery-report callback URL registered in its
//! dashboard (SMS → SMS Callback URLs → Delivery Reports) whenever the network confirms or
//! rejects a message, form-encoded: `id` (the `messageId` of the send), `status`, `phoneNumber`,
//! `networkCode`, `failureReason` (only with `Rejected` or `Failed`) and `retryCount`.
//!
//! Statuses: `Sent`, `Submitted`, `Buffered` on the way; `Rejected`, `Success`, `Failed` final.
//! Some AT pages also name `AbsentSubscriber` and `Expired` (as statuses, elsewhere as failure
//! reasons): both read as `Failed`, the message did not reach the handset.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::lenient::opt_string;
use crate::ussd::encode_form;

/// Where a message is, as a delivery report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Sent by AT's network.
    Sent,
    /// Submitted to the mobile network.
    Submitted,
    /// Queued by the mobile network.
    Buffered,
    /// Refused by the mobile network (final).
    Rejected,
    /// Delivered to the handset (final).
    Success,
    /// Not delivered to the handset (final).
    Failed,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 6] = [
        Self::Sent,
        Self::Submitted,
        Self::Buffered,
        Self::Rejected,
        Self::Success,
        Self::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "Sent",
            Self::Submitted => "Submitted",
            Self::Buffered => "Buffered",
            Self::Rejected => "Rejected",
            Self::Success => "Success",
            Self::Failed => "Failed",
        }
    }

    /// AT's text (case as AT writes it, or any case); `AbsentSubscriber` and `Expired` are
    /// `Failed`. `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("AbsentSubscriber") || t.eq_ignore_ascii_case("Expired") {
            return Some(Self::Failed);
        }
        Self::ALL.into_iter().find(|s| s.as_str().eq_ignore_ascii_case(t))
    }

    /// Rejected, Success and Failed: no later report changes them.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Rejected | Self::Success | Self::Failed)
    }

    /// How far along the way a status is: a report of a lower step than the one recorded came
    /// late (reports may arrive out of order) and changes nothing.
    pub fn step(self) -> u8 {
        match self {
            Self::Sent => 1,
            Self::Submitted => 2,
            Self::Buffered => 3,
            Self::Rejected | Self::Success | Self::Failed => 4,
        }
    }

    /// Whether a report of `next` moves a message now at `self`: never from a final status,
    /// never back along the way.
    pub fn moves_to(self, next: Self) -> bool {
        !self.is_final() && next != self && next.step() >= self.step()
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One delivery report as AT posts it, every field optional and kept as text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryReport {
    /// The `messageId` AT gave the send (`ATXid_…`).
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    /// `Sent`, `Submitted`, `Buffered`, `Rejected`, `Success` or `Failed` (`AbsentSubscriber` and
    /// `Expired` are read as `Failed`).
    pub status: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub network_code: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    #[serde(deserialize_with = "opt_string", skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<String>,
}

impl DeliveryReport {
    /// The status, read.
    pub fn delivery_status(&self) -> Option<DeliveryStatus> {
        self.status.as_deref().and_then(DeliveryStatus::parse)
    }

    /// `retryCount` as a number, if it is one.
    pub fn retries(&self) -> Option<u32> {
        self.retry_count.as_deref()?.trim().parse().ok()
    }

    /// The form body AT would post, absent fields left out.
    pub fn to_form(&self) -> String {
        let fields = [
            ("id", self.id.as_deref()),
            ("status", self.status.as_deref()),
            ("phoneNumber", self.phone_number.as_deref()),
            ("networkCode", self.network_code.as_deref()),
            ("failureReason", self.failure_reason.as_deref()),
            ("retryCount", self.retry_count.as_deref()),
        ];
        encode_form(fields.into_iter().filter_map(|(name, value)| Some((name, value?))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_and_order() {
        use DeliveryStatus::*;
        assert_eq!(DeliveryStatus::parse("Success"), Some(Success));
        assert_eq!(DeliveryStatus::parse("buffered"), Some(Buffered));
        assert_eq!(DeliveryStatus::parse("AbsentSubscriber"), Some(Failed));
        assert_eq!(DeliveryStatus::parse("Delivered"), None);
        assert!(Sent.moves_to(Buffered) && Sent.moves_to(Success));
        assert!(!Buffered.moves_to(Sent), "a late report goes nowhere");
        assert!(!Success.moves_to(Failed) && !Failed.moves_to(Success), "final is final");
        assert!(!Sent.moves_to(Sent));
    }

    #[test]
    fn a_report_round_trips_through_its_form() {
        let r = DeliveryReport {
            id: Some("ATXid_1".into()),
            status: Some("Failed".into()),
            phone_number: Some("+250788123456".into()),
            network_code: Some("63510".into()),
            failure_reason: Some("UserIsInactive".into()),
            retry_count: Some("0".into()),
        };
        let form = r.to_form();
        assert!(form.contains("phoneNumber=%2B250788123456"), "{form}");
        let back: DeliveryReport = serde_urlencoded::from_str(&form).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.retries(), Some(0));
    }
}
