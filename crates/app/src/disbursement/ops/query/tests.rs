//! The filters as they parse: good values, every bad one named, search told apart.

use super::*;

fn fields(e: AppError) -> Vec<String> {
    match e {
        AppError::Validation(v) => v.into_iter().map(|f| f.field).collect(),
        other => vec![other.to_string()],
    }
}

#[test]
fn good_filters_parse() {
    let q = ListQuery {
        from: Some("2026-11-26".into()),
        to: Some("2026-11-26".into()),
        status: Some("failed, payee_invalid".into()),
        amount_min: Some("1,000".into()),
        phone: Some("0788123".into()),
        sort: Some("-amount".into()),
        per_page: Some("20".into()),
        ..Default::default()
    };
    let (f, sort, page) = q.list(Kind::Payouts).expect("valid");
    assert_eq!(f.from.unwrap().to_rfc3339(), "2026-11-25T22:00:00+00:00");
    assert_eq!(f.to.unwrap().to_rfc3339(), "2026-11-26T22:00:00+00:00");
    assert_eq!(f.statuses, ["failed", "payee_invalid"]);
    assert_eq!(f.amount_min, Some(1000));
    assert_eq!(f.phone.as_deref(), Some("0788123"));
    assert_eq!((sort, page.per_page, page.offset()), (Sort::AmountDesc, 20, 0));
    let local = ListQuery {
        phone: Some("0788123456".into()),
        ..Default::default()
    };
    assert_eq!(
        local.filter(Kind::Payouts).unwrap().phone.as_deref(),
        Some("250788123456")
    );
}

#[test]
fn every_bad_value_is_named() {
    let q = ListQuery {
        from: Some("yesterday".into()),
        status: Some("paid".into()),
        amount_min: Some("-3".into()),
        phone: Some("07x".into()),
        batch_id: Some("nope".into()),
        q: Some("ab".into()),
        sort: Some("name".into()),
        page: Some("0".into()),
        ..Default::default()
    };
    let e = q.list(Kind::Redemptions).expect_err("invalid");
    assert_eq!(
        fields(e),
        ["from", "status", "amountMin", "phone", "batchId", "q", "sort", "page"]
    );
    let q = ListQuery {
        status: Some("awaiting_approval".into()),
        ..Default::default()
    };
    assert!(
        q.filter(Kind::Redemptions).is_err(),
        "a payout state is not a redemption state"
    );
}

#[test]
fn search_tells_ids_phones_and_codes_apart() {
    let id = Uuid::new_v4();
    assert_eq!(parse_search(&id.to_string()).unwrap(), Search::Id(id));
    match parse_search("+250 788 123").unwrap() {
        Search::Text { digits, code, .. } => {
            assert_eq!(digits.as_deref(), Some("250788123"));
            assert_eq!(code, None);
        }
        other => panic!("{other:?}"),
    }
    match parse_search("abcd ef26 gh11 jk25").unwrap() {
        Search::Text {
            digits,
            code,
            partial_code,
            ..
        } => {
            assert_eq!(digits, None);
            assert_eq!(code.as_deref(), Some("ABCD-EF26-GH11-JK25"));
            assert_eq!(partial_code.as_deref(), Some("ABCDEF26GH11JK25"));
        }
        other => panic!("{other:?}"),
    }
    assert!(parse_search("ab").is_err());
    assert!(parse_search(&"x".repeat(65)).is_err());
}
