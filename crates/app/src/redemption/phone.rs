//! Phone numbers as Africa's Talking sends them (`+2507…`) and MoMo wants them (`2507…`).

use std::fmt;

/// Which Rwandan network a number belongs to (by prefix; numbers keep their prefix when ported
/// only in theory here — MoMo's account-holder check is the final word before paying).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// MTN Rwanda: 078, 079 — MoMo can pay these.
    Mtn,
    /// Airtel Rwanda: 072, 073.
    Airtel,
    /// Any other Rwandan or foreign number.
    Other,
}

/// A phone number in E.164 form, `+` and 8 to 15 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Msisdn(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a phone number looks like +250788123456")]
pub struct PhoneError;

impl Msisdn {
    /// Accepts `+250788123456`, `250788123456`, `0788123456` (a Rwandan local number) and spaces.
    pub fn parse(raw: &str) -> Result<Msisdn, PhoneError> {
        let s: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        let digits = if let Some(rest) = s.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(local) = s.strip_prefix('0').filter(|l| l.len() == 9) {
            format!("250{local}")
        } else {
            s
        };
        let ok =
            (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0');
        if !ok {
            return Err(PhoneError);
        }
        Ok(Msisdn(format!("+{digits}")))
    }

    /// `+250788123456`
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// Whether it is a Rwandan mobile number (`+2507` and eight digits).
    pub fn is_rwandan_mobile(&self) -> bool {
        is_rwandan_mobile(&self.0)
    }

    /// `250788123456`, MoMo's `partyId`.
    pub fn momo(&self) -> &str {
        &self.0[1..]
    }

    pub fn network(&self) -> Network {
        let d = self.momo();
        if d.len() != 12 || !d.starts_with("2507") {
            return Network::Other;
        }
        match &d[3..5] {
            "78" | "79" => Network::Mtn,
            "72" | "73" => Network::Airtel,
            _ => Network::Other,
        }
    }

    /// One of MTN's sandbox test numbers (46733123450–46733123463, INTEGRATIONS.md A12), each with
    /// a fixed outcome.
    pub fn is_sandbox_test_number(&self) -> bool {
        self.momo()
            .strip_prefix("467331234")
            .and_then(|n| n.parse::<u8>().ok())
            .is_some_and(|n| (50..=63).contains(&n))
            && self.momo().len() == 11
    }

    /// Whether MoMo in `target_environment` can pay this number: an MTN Rwanda number, and in the
    /// `sandbox` also MTN's test numbers, so each documented outcome can be tried end to end.
    pub fn payable_in(&self, target_environment: &str) -> bool {
        self.network() == Network::Mtn || (target_environment == "sandbox" && self.is_sandbox_test_number())
    }

    /// For logs and screens: `+250788***456`.
    pub fn masked(&self) -> String {
        let n = self.0.len();
        if n <= 7 {
            return "***".into();
        }
        format!("{}***{}", &self.0[..n - 6], &self.0[n - 3..])
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `+2507` and eight digits: a Rwandan mobile number in E.164, as Africa's Talking takes it (the
/// numbers staff give for alert SMS).
pub fn is_rwandan_mobile(p: &str) -> bool {
    p.len() == 13 && p.starts_with("+2507") && p[1..].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_number() {
        for raw in ["+250788123456", "250788123456", "0788123456", "+250 788 123 456"] {
            let m = Msisdn::parse(raw).expect(raw);
            assert_eq!(m.e164(), "+250788123456");
            assert_eq!(m.momo(), "250788123456");
            assert_eq!(m.network(), Network::Mtn);
        }
        assert_eq!(Msisdn::parse("+250788123456").expect("ok").masked(), "+250788***456");
    }

    #[test]
    fn networks_by_prefix() {
        let net = |s| Msisdn::parse(s).expect(s).network();
        assert_eq!(net("+250791234567"), Network::Mtn);
        assert_eq!(net("+250721234567"), Network::Airtel);
        assert_eq!(net("+250731234567"), Network::Airtel);
        assert_eq!(net("+254712345678"), Network::Other);
    }

    #[test]
    fn sandbox_test_numbers_are_payable_in_the_sandbox_only() {
        let m = |s| Msisdn::parse(s).expect(s);
        for n in ["+46733123450", "46733123455", "+46733123463"] {
            assert!(m(n).is_sandbox_test_number(), "{n}");
            assert!(m(n).payable_in("sandbox"), "{n}");
            assert!(!m(n).payable_in("mtnrwanda"), "{n}");
        }
        for n in ["+46733123449", "+46733123464", "+467331234500", "+250721234567"] {
            assert!(!m(n).payable_in("sandbox"), "{n}");
        }
        assert!(m("+250788123456").payable_in("mtnrwanda"));
        assert!(m("+250788123456").payable_in("sandbox"));
    }

    #[test]
    fn junk_is_refused() {
        for raw in [
            "",
            "+",
            "abc",
            "+25078812345a",
            "+0788123456",
            "1234567",
            "+1234567890123456",
        ] {
            assert!(Msisdn::parse(raw).is_err(), "{raw}");
        }
    }
}
