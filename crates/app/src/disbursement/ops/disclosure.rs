//! What a person may see of a redemption (decision 0025), decided once from their permissions
//! and applied here, never in a template: the JSON API, the pages, the live feeds and the
//! exports all build their rows through a [`Disclosure`].
//!
//! - **Money** (amounts, payout states, MoMo transaction ids, payout errors, reversal requests)
//!   needs `disbursements.read` (ACCESS.md: "a Viewer or Batch Manager sees counts and rates,
//!   not money flows").
//! - **Customers' phone numbers** in full need a role that handles customers or their payouts:
//!   `users.read` (Support Agent) or `disbursements.read` (Financial Administrator). Others see
//!   them masked as logs do (`+250788***456`).
//!
//! Filters and sorts that would reveal what is hidden (an amount range, sorting by amount, the
//! digits of a phone number) are refused with the permission they need.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::query::{Filter, Sort};
use super::redemptions::{CustomerInfo, PayoutSummary, RedemptionDetail, RedemptionRow};
use super::views::ReversalView;
use crate::access::Permission;
use crate::error::{AppError, Denied};
use crate::ussd::views::{Interaction, RedemptionRow as MonitorRow};
use crate::web::auth::Principal;

/// What the reader may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disclosure {
    /// Amounts, payout states and references, payout errors, reversals.
    pub money: bool,
    /// Customers' full phone numbers.
    pub phones: bool,
}

/// What a column of an export or a table needs to be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Shown to every reader.
    Any,
    /// Left out without money.
    Money,
    /// Masked without phone numbers.
    Phone,
}

impl Disclosure {
    pub fn of(who: &Principal) -> Self {
        Self::from_check(|p| who.can(p))
    }

    pub fn from_check(can: impl Fn(Permission) -> bool) -> Self {
        let money = can(Permission::DisbursementsRead);
        Disclosure {
            money,
            phones: money || can(Permission::UsersRead),
        }
    }

    /// Everything (the system's own use).
    pub const ALL: Disclosure = Disclosure {
        money: true,
        phones: true,
    };

    pub fn phone(&self, phone: &str) -> String {
        if self.phones {
            phone.to_owned()
        } else {
            crate::telemetry::mask_phone(phone)
        }
    }

    pub fn shows(&self, need: Need) -> bool {
        match need {
            Need::Any | Need::Phone => true,
            Need::Money => self.money,
        }
    }

    /// The cells of a row as this reader may see them: money columns left out, phone columns
    /// masked (`needs` lists each column's need, in order; the header goes through
    /// [`Self::header`]).
    pub fn cells(&self, needs: &[Need], cells: Vec<String>) -> Vec<String> {
        cells
            .into_iter()
            .zip(needs)
            .filter(|(_, n)| self.shows(**n))
            .map(|(c, n)| if *n == Need::Phone { self.phone(&c) } else { c })
            .collect()
    }

    /// The columns this reader gets, of `cols` (each with its need, in the same order).
    pub fn header<T: Copy>(&self, needs: &[Need], cols: &[T]) -> Vec<T> {
        cols.iter()
            .zip(needs)
            .filter(|(_, n)| self.shows(**n))
            .map(|(c, _)| *c)
            .collect()
    }

    /// The permission and the reason when `f` or `sort` would reveal what this reader may not
    /// see.
    pub fn refusal(&self, f: &Filter, sort: Sort) -> Option<(Permission, &'static str)> {
        let by_amount =
            f.amount_min.is_some() || f.amount_max.is_some() || matches!(sort, Sort::AmountAsc | Sort::AmountDesc);
        if by_amount && !self.money {
            return Some((
                Permission::DisbursementsRead,
                "Filtering or sorting by amount needs disbursements.read.",
            ));
        }
        if f.phone.is_some() && !self.phones {
            return Some((
                Permission::UsersRead,
                "Filtering by phone number needs users.read or disbursements.read.",
            ));
        }
        None
    }

    /// [`Self::refusal`] as the API's 403.
    pub fn check(&self, f: &Filter, sort: Sort) -> Result<(), AppError> {
        match self.refusal(f, sort) {
            Some((permission, _)) => Err(AppError::Forbidden(Denied::Permission(permission))),
            None => Ok(()),
        }
    }

    /// A phone filter is refused to those who see phone numbers masked (403 naming `users.read`).
    pub fn check_phone(&self, filtered: bool) -> Result<(), AppError> {
        if filtered && !self.phones {
            return Err(AppError::Forbidden(Denied::Permission(Permission::UsersRead)));
        }
        Ok(())
    }

    /// The USSD interaction log as this reader may see it (phone numbers).
    pub fn interactions(&self, mut rows: Vec<Interaction>) -> Vec<Interaction> {
        for r in &mut rows {
            r.phone_number = self.phone(&r.phone_number);
        }
        rows
    }

    /// A redemption on the USSD monitor and its session page.
    pub fn monitor_redemption(&self, r: MonitorRow) -> MonitorRedemptionView {
        MonitorRedemptionView {
            id: r.id,
            promo_code_id: r.promo_code_id,
            phone_number: self.phone(&r.phone_number),
            code: r.code,
            open: matches!(r.status.as_str(), "pending" | "failed"),
            status: r.status,
            ussd_session_id: r.ussd_session_id,
            created_at: r.created_at,
            money: self.money.then_some(MonitorMoney {
                amount: r.amount,
                currency: r.currency,
                disbursement_status: r.disbursement_status,
            }),
        }
    }

    pub fn redemption(&self, r: RedemptionRow) -> RedemptionView {
        RedemptionView {
            id: r.id,
            phone_number: self.phone(&r.phone_number),
            open: matches!(r.status.as_str(), "pending" | "failed"),
            status: r.status,
            created_at: r.created_at,
            completed_at: r.completed_at,
            code: r.code,
            promo_code_id: r.promo_code_id,
            batch_id: r.batch_id,
            batch_number: r.batch_number,
            batch_name: r.batch_name,
            money: self.money.then_some(RedemptionMoney {
                amount: r.amount,
                currency: r.currency,
                error_code: r.error_code,
                disbursement_id: r.disbursement_id,
                disbursement_status: r.disbursement_status,
                momo_transaction_id: r.momo_transaction_id,
            }),
        }
    }

    pub fn redemptions(&self, rows: Vec<RedemptionRow>) -> Vec<RedemptionView> {
        rows.into_iter().map(|r| self.redemption(r)).collect()
    }

    pub fn detail(&self, x: RedemptionDetail) -> RedemptionDetailView {
        let r = x.redemption;
        RedemptionDetailView {
            redemption: RedemptionInfoView {
                id: r.id,
                customer_id: r.customer_id,
                phone_number: self.phone(&r.phone_number),
                status: r.status,
                ussd_session_id: r.ussd_session_id,
                created_at: r.created_at,
                completed_at: r.completed_at,
                promo_code_id: r.promo_code_id,
                code: r.code,
                code_status: r.code_status,
                batch_id: r.batch_id,
                batch_number: r.batch_number,
                batch_name: r.batch_name,
                money: self.money.then_some(InfoMoney {
                    amount: r.amount,
                    currency: r.currency,
                    error_code: r.error_code,
                    error_message: r.error_message,
                }),
            },
            customer: CustomerInfo {
                msisdn: self.phone(&x.customer.msisdn),
                ..x.customer
            },
            disbursement: if self.money { x.disbursement } else { None },
            reversals: self.money.then_some(x.reversals),
        }
    }
}

/// A redemption in a list, as the reader may see it (`amount`, `currency`, `errorCode` and the
/// payout's `disbursementId`, `disbursementStatus`, `momoTransactionId` only with money).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionView {
    pub id: Uuid,
    pub phone_number: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    /// Its state may still change (pending, or failed and retried): live lists ask for it again.
    pub open: bool,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub code: String,
    pub promo_code_id: Uuid,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
    #[serde(flatten)]
    pub money: Option<RedemptionMoney>,
}

/// The money of a redemption in a list: present only for readers of payouts (so none of it is
/// required in the schema).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionMoney {
    #[schema(required = false)]
    pub amount: i64,
    #[schema(required = false)]
    pub currency: String,
    #[schema(required = false)]
    pub error_code: Option<String>,
    #[schema(required = false)]
    pub disbursement_id: Option<Uuid>,
    #[schema(required = false)]
    pub disbursement_status: Option<String>,
    #[schema(required = false)]
    pub momo_transaction_id: Option<String>,
}

/// One redemption, as the reader may see it: without money, no payout and no reversals.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionDetailView {
    pub redemption: RedemptionInfoView,
    pub customer: CustomerInfo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disbursement: Option<PayoutSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reversals: Option<Vec<ReversalView>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RedemptionInfoView {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub phone_number: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    pub ussd_session_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub promo_code_id: Uuid,
    pub code: String,
    pub code_status: crate::codes::lifecycle::CodeStatus,
    pub batch_id: Uuid,
    pub batch_number: i64,
    pub batch_name: String,
    #[serde(flatten)]
    pub money: Option<InfoMoney>,
}

/// The money of one redemption: present only for readers of payouts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InfoMoney {
    #[schema(required = false)]
    pub amount: i64,
    #[schema(required = false)]
    pub currency: String,
    #[schema(required = false)]
    pub error_code: Option<String>,
    #[schema(required = false)]
    pub error_message: Option<String>,
}

/// A redemption on the USSD monitor, as the reader may see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorRedemptionView {
    pub id: Uuid,
    pub promo_code_id: Uuid,
    pub phone_number: String,
    pub code: String,
    pub status: crate::redemption::lifecycle::RedemptionStatus,
    /// Its state may still change: the live monitor asks for it again.
    pub open: bool,
    pub ussd_session_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(flatten)]
    pub money: Option<MonitorMoney>,
}

/// A redemption's amount and payout state, in its row only for a reader who may see amounts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MonitorMoney {
    #[schema(required = false)]
    pub amount: i64,
    #[schema(required = false)]
    pub currency: String,
    pub disbursement_status: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::ROLES;

    fn role(name: &str) -> Disclosure {
        let seed = ROLES.iter().find(|r| r.name == name).unwrap();
        let keys = (seed.permissions)();
        Disclosure::from_check(|p| keys.contains(&p))
    }

    #[test]
    fn each_seeded_role_sees_what_decision_0025_says() {
        let table = [
            ("Super Administrator", true, true),
            ("Financial Administrator", true, true),
            ("Support Agent", false, true),
            ("Batch Manager", false, false),
            ("Viewer", false, false),
        ];
        for (name, money, phones) in table {
            assert_eq!(role(name), Disclosure { money, phones }, "{name}");
        }
    }

    #[test]
    fn money_columns_are_left_out_and_phones_masked() {
        let d = Disclosure {
            money: false,
            phones: false,
        };
        let needs = [Need::Any, Need::Phone, Need::Money];
        let row = vec!["a".to_owned(), "+250788123456".to_owned(), "1000".to_owned()];
        assert_eq!(d.cells(&needs, row.clone()), ["a", "+250788***456"]);
        assert_eq!(d.header(&needs, &["id", "phone", "amount"]), ["id", "phone"]);
        assert_eq!(Disclosure::ALL.cells(&needs, row.clone()), row);
    }
}
