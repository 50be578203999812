use super::*;

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z").unwrap().to_utc()
}

fn payout(status: &str) -> OurPayout {
    OurPayout {
        disbursement_id: Uuid::from_u128(1),
        redemption_id: Uuid::from_u128(2),
        status: PayoutStatus::parse(status).unwrap(),
        amount: 1000,
        currency: "RWF".into(),
        msisdn: "250788000001".into(),
        attempts: 1,
        momo_reference: None,
        momo_transaction_id: None,
        error_code: None,
        created_at: t0(),
        disbursed_at: None,
        redemption_status: if status == "completed" {
            RedemptionStatus::Completed
        } else {
            RedemptionStatus::Pending
        },
        redemption_amount: 1000,
        redemption_currency: "RWF".into(),
        phone_number: "+250788000001".into(),
        code: "ABCD-EF26-GH11-JK25".into(),
        batch_id: Uuid::from_u128(3),
        redemption_created_at: t0(),
        redemption_completed_at: None,
    }
}

fn attempt(status: &str) -> OurAttempt {
    OurAttempt {
        disbursement_id: Uuid::from_u128(1),
        attempt_no: 1,
        reference_id: Uuid::from_u128(10),
        status: AttemptStatus::parse(status).unwrap(),
        http_status: None,
        momo_status: None,
        financial_transaction_id: None,
        error_code: None,
        created_at: t0(),
        sent_at: None,
        resolved_at: None,
    }
}

fn momo(status: &str, amount: &str) -> Asked {
    Asked::Found {
        transfer: TheirTransfer {
            source: Source::StatusQuery,
            reference_id: Some(Uuid::from_u128(10)),
            status: status.into(),
            amount: whole_amount(amount),
            amount_text: amount.into(),
            currency: "RWF".into(),
            financial_transaction_id: (status == "SUCCESSFUL").then(|| "555".to_owned()),
            external_id: None,
            msisdn: None,
            reason: None,
            line: None,
            occurred_at: None,
        },
    }
}

fn kinds(p: &OurPayout, a: OurAttempt, q: Asked, minutes_later: i64) -> Vec<Kind> {
    let checks = [AttemptCheck {
        attempt: a,
        query: q,
        lines: vec![],
    }];
    classify(
        p,
        &checks,
        &[],
        t0() + Duration::minutes(minutes_later),
        Duration::hours(1),
    )
    .into_iter()
    .map(|f| f.kind)
    .collect()
}

fn paid() -> (OurPayout, OurAttempt) {
    let mut p = payout("completed");
    p.momo_reference = Some(Uuid::from_u128(10));
    p.momo_transaction_id = Some("555".into());
    let mut a = attempt("successful");
    a.financial_transaction_id = Some("555".into());
    (p, a)
}

#[test]
fn a_paid_payout_that_momo_paid_is_a_match() {
    let (p, a) = paid();
    assert_eq!(kinds(&p, a, momo("SUCCESSFUL", "1000.00"), 5), []);
}

#[test]
fn each_disagreement_has_its_kind() {
    let (p, a) = paid();
    assert_eq!(
        kinds(&p, a.clone(), momo("SUCCESSFUL", "1500"), 5),
        [Kind::AmountMismatch]
    );
    assert_eq!(kinds(&p, a.clone(), momo("FAILED", "1000"), 5), [Kind::StatusMismatch]);
    assert_eq!(kinds(&p, a.clone(), Asked::NotFound, 5), [Kind::PaidHereUnknownToMomo]);
    assert_eq!(
        kinds(&p, a, Asked::Failed { error: "503".into() }, 5),
        [Kind::Unchecked]
    );

    let failed = payout("failed");
    assert_eq!(
        kinds(&failed, attempt("failed"), momo("SUCCESSFUL", "1000"), 5),
        [Kind::SuccessfulAtMomoNotHere]
    );
    assert_eq!(
        kinds(&failed, attempt("failed"), momo("PENDING", "1000"), 5),
        [Kind::StatusMismatch]
    );
    // rejected before MoMo took it: unknown there, as expected
    let mut rejected = attempt("failed");
    rejected.http_status = Some(400);
    assert_eq!(kinds(&failed, rejected, Asked::NotFound, 5), []);

    let processing = payout("processing");
    let mut sent = attempt("pending");
    sent.http_status = Some(202);
    assert_eq!(
        kinds(&processing, sent.clone(), Asked::NotFound, 5),
        [Kind::MissingAtMomo]
    );
    assert_eq!(kinds(&processing, sent.clone(), momo("PENDING", "1000"), 5), []);
    assert_eq!(
        kinds(&processing, sent, momo("PENDING", "1000"), 120),
        [Kind::PendingTooLong]
    );
}

#[test]
fn a_payout_without_a_wallet_is_unpaid_not_a_match() {
    let p = payout("payee_invalid");
    assert_eq!(
        kinds(&p, attempt("failed"), momo("FAILED", "1000"), 5),
        [Kind::UnpaidPayeeInvalid]
    );
    let f = classify(&p, &[], &[], t0(), Duration::hours(1));
    assert_eq!(kind_of(&f), Kind::UnpaidPayeeInvalid);
    assert!(f[0].message.starts_with("unpaid: +250788000001"), "{f:?}");
}

#[test]
fn a_queued_payout_is_pending_too_long_after_the_threshold_only() {
    let p = payout("queued");
    assert!(classify(&p, &[], &[], t0() + Duration::minutes(30), Duration::hours(1)).is_empty());
    let f = classify(&p, &[], &[], t0() + Duration::hours(3), Duration::hours(1));
    assert_eq!(kind_of(&f), Kind::PendingTooLong);
    assert!(
        f[0].message.contains("after 180 minutes") || f[0].message.contains("3 hours"),
        "{f:?}"
    );
}

#[test]
fn a_second_successful_reference_is_a_double_payout() {
    let (p, a) = paid();
    let mut second = attempt("failed");
    second.attempt_no = 2;
    second.reference_id = Uuid::from_u128(11);
    let checks = [
        AttemptCheck {
            attempt: a,
            query: momo("SUCCESSFUL", "1000"),
            lines: vec![],
        },
        AttemptCheck {
            attempt: second,
            query: momo("SUCCESSFUL", "1000"),
            lines: vec![],
        },
    ];
    let f = classify(&p, &checks, &[], t0(), Duration::hours(1));
    assert_eq!(kind_of(&f), Kind::SuccessfulAtMomoNotHere);
    assert!(f[0].message.contains("paid twice"), "{f:?}");
    assert_eq!(principal_reference(&p, &checks, &f), Some(Uuid::from_u128(11)));
}

#[test]
fn the_redemption_must_agree_with_its_disbursement() {
    let (mut p, a) = paid();
    p.redemption_status = RedemptionStatus::Pending;
    assert_eq!(kinds(&p, a, momo("SUCCESSFUL", "1000"), 5), [Kind::StatusMismatch]);
}

#[test]
fn amounts_read_leniently() {
    assert_eq!(whole_amount("1000"), Some(1000));
    assert_eq!(whole_amount(" 1000.00 "), Some(1000));
    assert_eq!(whole_amount("1000.5"), None);
    assert_eq!(whole_amount(""), None);
}
