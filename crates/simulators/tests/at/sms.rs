//! AT's SMS API in the simulator, driven by the real client (`africastalking::sms`) and by raw
//! forms over HTTP, and the inbox a handset reads.

use std::time::Duration;

use africastalking::sms::{Client, ClientConfig, ErrorClass, SmsError, Status, AUTH_INVALID};
use serde_json::{json, Value};
use simulators::at::{router, Gateway, GatewayConfig, SmsConfig, SmsFaults};

const KEY: &str = "sim-test-api-key";
const PHONE: &str = "+250788123456";

/// A simulator that accepts username `mbelyco`, key [`KEY`] and sender `MBELYCO`, on a free port.
async fn spawn() -> (Gateway, String) {
    let sms = SmsConfig {
        sender_ids: vec!["MBELYCO".into()],
        ..SmsConfig::new("mbelyco", KEY)
    };
    let gateway = Gateway::new(GatewayConfig::new("http://127.0.0.1:9/unused").with_sms(sms)).expect("gateway");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = router(gateway.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serves") });
    (gateway, base)
}

fn client(base: &str, username: &str, key: &str) -> Client {
    Client::new(ClientConfig::new(base, username, key)).expect("client")
}

/// Posts a raw form as a hand-written AT client would.
async fn post_form(base: &str, key: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{base}/version1/messaging"))
        .header("apiKey", key)
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .expect("request");
    (response.status().as_u16(), response.text().await.expect("body"))
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.expect("request").json().await.expect("JSON")
}

#[tokio::test]
async fn a_message_is_sent_answered_like_at_and_lands_in_the_inbox() {
    let (gateway, base) = spawn().await;
    let text = "MBELYCO: you received 5,000 RWF on MoMo for your promo code. Ref 123456789. Thank you!";
    let sent = client(&base, "mbelyco", KEY)
        .send_one(PHONE, text, Some("MBELYCO"))
        .await
        .expect("sent");
    assert_eq!(sent.outcome(), Status::Sent);
    assert_eq!(sent.status.as_deref(), Some("Success"));
    assert_eq!(sent.cost.as_deref(), Some("RWF 20.0000"));
    assert_eq!(sent.message_parts, Some(1));
    let id = sent.message_id().expect("a message id").to_owned();
    assert!(id.starts_with("ATXid_") && id.len() == 38, "{id}");

    // the inbox of that number, with the + encoded, bare, or decoded into a space by a naive client
    for number in ["%2B250788123456", "250788123456", "+250788123456"] {
        let inbox = get_json(format!("{base}/sim/sms?number={number}")).await;
        let inbox = inbox.as_array().expect("a list");
        assert_eq!(inbox.len(), 1, "{number}");
        assert_eq!(inbox[0]["message"], text);
        assert_eq!(inbox[0]["messageId"], id.as_str());
        assert_eq!(inbox[0]["from"], "MBELYCO");
        assert_eq!(inbox[0]["delivered"], true);
        assert_eq!(inbox[0]["encoding"], "Gsm7");
    }
    assert!(get_json(format!("{base}/sim/sms?number=%2B250791000001"))
        .await
        .as_array()
        .expect("a list")
        .is_empty());
    assert_eq!(gateway.sms().messages(Some(PHONE), 0).len(), 1);
}

#[tokio::test]
async fn a_wrong_key_or_username_gets_401_in_ats_words_and_sends_nothing() {
    let (gateway, base) = spawn().await;
    for (username, key) in [("mbelyco", "wrong-key"), ("sandbox", KEY)] {
        let error = client(&base, username, key)
            .send_one(PHONE, "hello", None)
            .await
            .expect_err("refused");
        match &error {
            SmsError::Http { status, body } => {
                assert_eq!((*status, body.as_str()), (401, AUTH_INVALID));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(error.class(), ErrorClass::Configuration);
    }
    let (status, body) = post_form(&base, "", &[("username", "mbelyco"), ("to", PHONE), ("message", "x")]).await;
    assert_eq!((status, body.as_str()), (401, AUTH_INVALID), "no key at all");
    assert!(gateway.sms().messages(None, 0).is_empty());
}

#[tokio::test]
async fn each_number_gets_its_own_status_and_bad_ones_cost_nothing() {
    let (gateway, base) = spawn().await;
    let (status, body) = post_form(
        &base,
        KEY,
        &[
            ("username", "mbelyco"),
            ("to", "+250788123456, 0788999999"),
            ("message", "Murakoze!"),
            ("bulkSMSMode", "1"),
        ],
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).expect("JSON");
    let data = &answer["SMSMessageData"];
    assert_eq!(data["Message"], "Sent to 1/2 Total Cost: RWF 20.0000");
    assert_eq!(data["Recipients"][0]["statusCode"], 101);
    assert_eq!(
        data["Recipients"][1],
        json!({"statusCode": 403, "number": "0788999999", "status": "InvalidPhoneNumber", "cost": "0",
               "messageId": "None", "messageParts": 1})
    );
    let all = gateway.sms().messages(None, 0);
    assert_eq!(all.len(), 2, "every outcome is recorded");
    assert!(all[0].delivered && !all[1].delivered);

    // the client refuses a bad number before sending
    let error = client(&base, "mbelyco", KEY)
        .send_one("0788999999", "x", None)
        .await
        .expect_err("invalid");
    assert!(matches!(error, SmsError::Invalid(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Terminal);
}

#[tokio::test]
async fn missing_fields_are_400_and_an_unknown_sender_sends_nothing() {
    let (gateway, base) = spawn().await;
    let (status, body) = post_form(&base, KEY, &[("username", "mbelyco"), ("message", "x")]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Request is missing required form field 'to'")
    );
    let (status, body) = post_form(&base, KEY, &[("username", "mbelyco"), ("to", PHONE)]).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Request is missing required form field 'message'")
    );

    let error = client(&base, "mbelyco", KEY)
        .send_one(PHONE, "x", Some("OTHER"))
        .await
        .expect_err("unknown sender");
    assert!(
        matches!(&error, SmsError::NotSent { message } if message == "InvalidSenderId"),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Configuration);
    assert!(gateway.sms().messages(None, 0).is_empty());
}

#[tokio::test]
async fn fault_switches_give_outages_refusals_and_timeouts() {
    let (gateway, base) = spawn().await;
    let sms = client(&base, "mbelyco", KEY);
    let put = |faults: Value| {
        let base = base.clone();
        async move {
            let response = reqwest::Client::new()
                .put(format!("{base}/sim/sms/faults"))
                .json(&faults)
                .send()
                .await
                .expect("request");
            assert_eq!(response.status(), 200);
        }
    };

    put(json!({"httpStatus": 503})).await;
    let error = sms.send_one(PHONE, "x", None).await.expect_err("outage");
    assert!(matches!(error, SmsError::Http { status: 503, .. }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);

    put(json!({"recipientStatus": 405})).await;
    let error = sms.send_one(PHONE, "x", None).await.expect_err("no credit");
    assert!(
        matches!(
            error,
            SmsError::Rejected {
                status: Status::InsufficientBalance,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Configuration);

    put(json!({"recipientStatus": 500})).await;
    let error = sms.send_one(PHONE, "x", None).await.expect_err("AT error");
    assert_eq!(error.class(), ErrorClass::Retryable);

    gateway.sms().set_faults(SmsFaults {
        latency_ms: 2000,
        ..SmsFaults::default()
    });
    let mut config = ClientConfig::new(&base, "mbelyco", KEY);
    config.timeout = Duration::from_millis(200);
    let error = Client::new(config)
        .expect("client")
        .send_one(PHONE, "x", None)
        .await
        .expect_err("too slow");
    assert!(matches!(error, SmsError::Timeout(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);

    put(json!({})).await;
    assert_eq!(gateway.sms().faults(), SmsFaults::default());
    sms.send_one(PHONE, "x", None).await.expect("sent again");
}

#[tokio::test]
async fn a_waiting_inbox_gets_the_next_message_as_it_arrives() {
    let (_gateway, base) = spawn().await;
    let sms = client(&base, "mbelyco", KEY);
    sms.send_one(PHONE, "first", None).await.expect("sent");
    let seen = get_json(format!("{base}/sim/sms?number=%2B250788123456")).await;
    let after = seen[0]["seq"].as_u64().expect("seq");

    let waiting = tokio::spawn(get_json(format!(
        "{base}/sim/sms?number=%2B250788123456&after={after}&waitSecs=20"
    )));
    // another number's message does not answer this handset's wait
    sms.send_one("+250791000001", "not yours", None).await.expect("sent");
    let long = "x".repeat(200);
    sms.send_one(PHONE, &long, None).await.expect("sent");
    let arrived = tokio::time::timeout(Duration::from_secs(10), waiting)
        .await
        .expect("answered before the wait ran out")
        .expect("joined");
    let arrived = arrived.as_array().expect("a list");
    assert_eq!(arrived.len(), 1);
    assert_eq!(arrived[0]["message"], long.as_str());
    assert_eq!(arrived[0]["parts"], 2);
    assert_eq!(arrived[0]["cost"], "RWF 40.0000");

    // nothing newer: the wait ends empty
    let last = arrived[0]["seq"].as_u64().expect("seq");
    let empty = get_json(format!("{base}/sim/sms?number=%2B250788123456&after={last}&waitSecs=1")).await;
    assert_eq!(empty, json!([]));
}

#[tokio::test]
async fn the_phone_page_has_an_inbox_fed_by_a_long_poll() {
    let (_gateway, base) = spawn().await;
    let html = reqwest::get(format!("{base}/"))
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    for needle in [
        "id=\"inbox\"",
        "id=\"inbox-number\"",
        "id=\"sms-alert\"",
        "/version1/messaging",
    ] {
        assert!(html.contains(needle), "page lacks {needle}");
    }
    let js = reqwest::get(format!("{base}/phone.js"))
        .await
        .expect("js")
        .text()
        .await
        .expect("js");
    assert!(
        js.contains("/sim/sms?") && js.contains("waitSecs"),
        "the inbox waits on the server"
    );
    assert!(!js.contains("innerHTML"), "SMS text is never parsed as HTML");
}
