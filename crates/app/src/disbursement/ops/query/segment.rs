//! The two filters the dashboard's figures link with besides dates and states: `held` (payouts
//! queued but held back: low balance, limits, MoMo configuration — exactly what the "held" card
//! counts) and `customer` (redemptions by a customer's first redemption or a later one — the
//! rollups' new/returning segment).

use crate::error::FieldError;

use super::Kind;

/// New or returning, as the redemption froze it (`redemptions.returning_customer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Customer {
    /// The customer's first redemption.
    New,
    /// The customer had redeemed before.
    Returning,
}

impl Customer {
    pub const ALL: [Customer; 2] = [Customer::New, Customer::Returning];

    pub fn as_str(self) -> &'static str {
        match self {
            Customer::New => "new",
            Customer::Returning => "returning",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Customer::New => "New customers (first redemption)",
            Customer::Returning => "Returning customers",
        }
    }
}

/// `held=true|false` (payouts only).
pub(super) fn held(v: Option<&str>, kind: Kind, errors: &mut Vec<FieldError>) -> Option<bool> {
    let v = v?;
    if kind != Kind::Payouts {
        errors.push(FieldError::new("held", "only the payout list has held payouts"));
        return None;
    }
    match v {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" => Some(false),
        _ => {
            errors.push(FieldError::new("held", "must be true or false"));
            None
        }
    }
}

/// `customer=new|returning`.
pub(super) fn customer(v: Option<&str>, errors: &mut Vec<FieldError>) -> Option<Customer> {
    let v = v?;
    match Customer::ALL.into_iter().find(|c| c.as_str() == v) {
        Some(c) => Some(c),
        None => {
            errors.push(FieldError::new("customer", "must be new or returning"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_and_customer_parse_or_are_named() {
        let mut errors = Vec::new();
        assert_eq!(held(Some("true"), Kind::Payouts, &mut errors), Some(true));
        assert_eq!(held(Some("false"), Kind::Payouts, &mut errors), Some(false));
        assert_eq!(held(None, Kind::Redemptions, &mut errors), None);
        assert_eq!(customer(Some("returning"), &mut errors), Some(Customer::Returning));
        assert_eq!(customer(Some("new"), &mut errors), Some(Customer::New));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(held(Some("maybe"), Kind::Payouts, &mut errors), None);
        assert_eq!(held(Some("true"), Kind::Redemptions, &mut errors), None);
        assert_eq!(customer(Some("old"), &mut errors), None);
        let named: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["held", "held", "customer"]);
    }
}
