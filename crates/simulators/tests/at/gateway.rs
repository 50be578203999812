//! The gateway library: what the app receives and how sessions end.

use std::time::Duration;

use africastalking::ussd::SessionStatus;
use simulators::at::{DialOptions, Gateway, GatewayError, PrefillMode, ScreenKind, Violation};

use crate::fake_app::FakeApp;

const PHONE: &str = "+250788123456";

fn is_session_id(id: &str) -> bool {
    id.strip_prefix("ATUid_")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

#[tokio::test]
async fn the_first_hop_looks_like_at_on_the_wire() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, screen) = gateway.dial(PHONE, None).await.expect("dial");

    assert_eq!(screen.kind, ScreenKind::Con);
    assert_eq!(screen.text, "Welcome to MBELYCO\n1. Redeem a code\n2. Help");
    assert!(screen.violations.is_empty(), "{:?}", screen.violations);
    assert!(is_session_id(session.id()), "{}", session.id());
    let hops = app.hops();
    let first = &hops[0];
    assert_eq!(first.user_agent, "at-ussd-api/1.0");
    assert_eq!(first.content_type, "application/x-www-form-urlencoded; charset=UTF-8");
    assert_eq!(
        first.body,
        format!(
            "phoneNumber=%2B250788123456&serviceCode=%2A789%23&text=&sessionId={}&networkCode=63510",
            session.id()
        )
    );
    assert_eq!(first.request.phone_number, PHONE, "the + survives form encoding");
    assert_eq!(first.request.text, "");
}

#[tokio::test]
async fn inputs_accumulate_with_stars_under_one_session_id() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    let screen = session.send("1").await.expect("open");
    assert_eq!(screen.text, "Enter your code");
    let screen = session.send("AB12").await.expect("open");
    assert_eq!(
        (screen.kind, screen.text.as_str(), screen.hop),
        (ScreenKind::End, "Code AB12 redeemed", 3)
    );

    let texts: Vec<String> = app.hops().into_iter().map(|hop| hop.request.text).collect();
    assert_eq!(texts, ["", "1", "1*AB12"]);
    assert!(app.hops().iter().all(|hop| hop.request.session_id == session.id()));
    assert!(!session.is_open());
    assert!(matches!(session.send("1").await, Err(GatewayError::SessionClosed(_))));
}

#[tokio::test]
async fn the_network_code_is_the_dialled_one() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    gateway.dial(PHONE, Some("63514")).await.expect("dial on Airtel");
    gateway.dial(PHONE, None).await.expect("dial on the default network");

    let networks: Vec<String> = app.hops().into_iter().map(|hop| hop.request.network_code).collect();
    assert_eq!(networks, ["63514", "63510"]);
    assert!(matches!(
        gateway.dial("0788123456", None).await,
        Err(GatewayError::InvalidPhone(_))
    ));
    assert!(matches!(
        gateway.dial(PHONE, Some("MTN")).await,
        Err(GatewayError::InvalidNetwork(_))
    ));
}

#[tokio::test]
async fn an_end_reports_success_with_every_field() {
    let mut app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, _) = gateway.dial(PHONE, Some("99999")).await.expect("dial");
    session.send("1").await.expect("open");
    session.send("XYZ").await.expect("open");

    let (event, body) = app.next_event().await;
    assert_eq!(event.status, Some(SessionStatus::Success));
    assert_eq!(event.session_id.as_deref(), Some(session.id()));
    assert_eq!(event.phone_number.as_deref(), Some(PHONE));
    assert_eq!(event.service_code.as_deref(), Some("*789#"));
    assert_eq!(event.network_code.as_deref(), Some("99999"));
    assert_eq!(event.hops(), Some(3));
    assert_eq!(event.input.as_deref(), Some("1*XYZ"));
    assert_eq!(event.last_app_response.as_deref(), Some("END Code XYZ redeemed"));
    assert_eq!(event.error_message, None);
    assert!(event.duration_millis().is_some());
    assert!(event.cost.is_some());
    let date = event.date.expect("a date");
    assert!(
        chrono::NaiveDateTime::parse_from_str(&date, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{date}"
    );
    assert!(body.contains("phoneNumber=%2B250788123456"), "{body}");
    assert_eq!(session.status(), Some(SessionStatus::Success));
}

/// Dials, sends `input`, and returns the screen and the notification the app got.
async fn failing_hop(app: &mut FakeApp, gateway: &Gateway, input: &str) -> (simulators::at::Screen, String) {
    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    let screen = session.send(input).await.expect("open");
    let (event, _) = app.next_event().await;
    assert_eq!(event.status, Some(SessionStatus::Failed));
    assert_eq!(event.hops(), Some(2));
    assert_eq!(screen.kind, ScreenKind::Error, "the handset shows a generic error");
    assert!(!session.is_open());
    (screen, event.error_message.expect("Failed carries errorMessage"))
}

#[tokio::test]
async fn a_bad_prefix_fails_the_session() {
    let mut app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (screen, error) = failing_hop(&mut app, &gateway, "3").await;

    assert!(matches!(screen.fatal(), Some(Violation::BadPrefix(_))));
    assert!(error.contains("CON "), "{error}");
}

#[tokio::test]
async fn a_server_error_fails_the_session() {
    let mut app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (screen, error) = failing_hop(&mut app, &gateway, "4").await;

    assert_eq!(screen.fatal(), Some(&Violation::Status(500)));
    assert!(error.contains("500"), "{error}");
}

#[tokio::test]
async fn a_slow_app_fails_at_the_deadline() {
    let mut app = FakeApp::start(0).await;
    let mut config = app.config();
    config.response_deadline = Duration::from_millis(300);
    let gateway = Gateway::new(config).expect("gateway");

    let (screen, error) = failing_hop(&mut app, &gateway, "5").await;

    assert_eq!(
        screen.fatal(),
        Some(&Violation::DeadlineExceeded(Duration::from_millis(300)))
    );
    assert!(error.contains("300 ms"), "{error}");
}

#[tokio::test]
async fn an_answer_too_long_for_a_screen_fails_the_session() {
    let mut app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (screen, error) = failing_hop(&mut app, &gateway, "6").await;

    let check = screen.check.expect("the text was readable");
    assert_eq!(check.chars, 183);
    assert!(check.over_hard_limit);
    assert!(error.contains("182"), "{error}");
}

#[tokio::test]
async fn emoji_and_a_wrong_content_type_are_warnings() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    let emoji = session.send("7").await.expect("open");
    assert_eq!(emoji.kind, ScreenKind::Con);
    assert_eq!(emoji.violations, [Violation::NonGsm7(vec!['📒'])]);

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    let json = session.send("8").await.expect("open");
    assert_eq!(json.kind, ScreenKind::Con);
    assert_eq!(json.violations, [Violation::ContentType("application/json".into())]);
}

#[tokio::test]
async fn duplicate_delivery_posts_each_hop_twice() {
    let app = FakeApp::start(0).await;
    let mut config = app.config();
    config.duplicate_delivery = true;
    let gateway = Gateway::new(config).expect("gateway");

    let (session, first) = gateway.dial(PHONE, None).await.expect("dial");
    let changing = session.send("9").await.expect("open");

    let hops = app.hops();
    assert_eq!(hops.len(), 4);
    assert_eq!(hops[0].body, hops[1].body);
    assert_eq!(hops[2].body, hops[3].body);
    assert!(first.duplicate.expect("reported").identical);
    let report = changing.duplicate.clone().expect("reported");
    assert!(!report.identical);
    assert_eq!(report.second_answer, "CON call 1");
    assert_eq!(changing.text, "call 0", "the handset shows the first answer");
    assert!(changing.violations.contains(&Violation::DuplicateMismatch));
}

#[tokio::test]
async fn hanging_up_reports_incomplete() {
    let mut app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    session.send("1").await.expect("open");
    assert!(session.cancel());
    assert!(!session.cancel(), "only once");

    let (event, _) = app.next_event().await;
    assert_eq!(event.status, Some(SessionStatus::Incomplete));
    assert_eq!(event.input.as_deref(), Some("1"));
    assert_eq!(event.last_app_response.as_deref(), Some("CON Enter your code"));
    assert!(matches!(session.send("X").await, Err(GatewayError::SessionClosed(_))));
}

#[tokio::test]
async fn an_idle_subscriber_times_out_incomplete() {
    let mut app = FakeApp::start(0).await;
    let mut config = app.config();
    config.inactivity_timeout = Duration::from_millis(200);
    let gateway = Gateway::new(config).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    tokio::time::timeout(Duration::from_secs(5), session.ended())
        .await
        .expect("times out");

    let (event, _) = app.next_event().await;
    assert_eq!(event.status, Some(SessionStatus::Incomplete));
    assert_eq!(event.hops(), Some(1));
    assert!(session.snapshot().end_reason.expect("a reason").contains("no input"));
}

#[tokio::test]
async fn the_session_limit_ends_an_active_session() {
    let mut app = FakeApp::start(0).await;
    let mut config = app.config();
    config.session_limit = Duration::from_millis(300);
    let gateway = Gateway::new(config).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    session.send("1").await.expect("still within the limit");
    tokio::time::timeout(Duration::from_secs(5), session.ended())
        .await
        .expect("the limit ends it");

    let (event, _) = app.next_event().await;
    assert_eq!(event.status, Some(SessionStatus::Incomplete));
    assert!(session.snapshot().end_reason.expect("a reason").contains("limit"));
}

#[tokio::test]
async fn extended_dial_prefills_the_first_text() {
    let app = FakeApp::start(0).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let options = DialOptions {
        extended_dial: Some("1".into()),
        ..DialOptions::default()
    };
    let (session, screen) = gateway.dial_with(PHONE, options).await.expect("dial");
    assert_eq!(screen.text, "Enter your code");
    session.send("Q7").await.expect("open");

    let hops = app.hops();
    assert_eq!(hops[0].request.text, "1");
    assert_eq!(hops[0].request.service_code, "*789#");
    assert_eq!(hops[1].request.text, "1*Q7");
}

#[tokio::test]
async fn extended_dial_can_arrive_in_the_service_code() {
    let app = FakeApp::start(0).await;
    let mut config = app.config();
    config.extended_dial = Some("1*2".into());
    config.prefill_mode = PrefillMode::ServiceCode;
    let gateway = Gateway::new(config).expect("gateway");

    gateway.dial(PHONE, None).await.expect("dial");

    let hops = app.hops();
    assert_eq!(hops[0].request.text, "");
    assert_eq!(hops[0].request.service_code, "*789*1*2#");
}

#[tokio::test]
async fn an_unacknowledged_notification_is_retried() {
    let mut app = FakeApp::start(2).await;
    let gateway = Gateway::new(app.config()).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    session.send("2").await.expect("open");

    let delivery = session.event_delivery().await.expect("an events URL is set");
    let statuses: Vec<Option<u16>> = delivery.attempts.iter().map(|attempt| attempt.status).collect();
    assert_eq!(statuses, [Some(500), Some(500), Some(200)]);
    assert!(delivery.delivered);
    let (first, _) = app.next_event().await;
    let (_, _) = app.next_event().await;
    let (third, _) = app.next_event().await;
    assert_eq!(first, third, "the same notification each time");
}

#[tokio::test]
async fn retries_give_up() {
    let app = FakeApp::start(10).await;
    let mut config = app.config();
    config.event_retries = 1;
    let gateway = Gateway::new(config).expect("gateway");

    let (session, _) = gateway.dial(PHONE, None).await.expect("dial");
    session.cancel();

    let delivery = session.event_delivery().await.expect("an events URL is set");
    assert_eq!(delivery.attempts.len(), 2);
    assert!(!delivery.delivered);
}

#[tokio::test]
async fn an_unreachable_app_fails_the_session() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/ussd?secret=hidden", listener.local_addr().expect("address"));
    drop(listener);
    let gateway = Gateway::new(simulators::at::GatewayConfig::new(url)).expect("gateway");

    let (session, screen) = gateway.dial(PHONE, None).await.expect("dial");

    assert!(matches!(screen.fatal(), Some(Violation::Transport(_))));
    let message = screen.fatal().expect("fatal").to_string();
    assert!(
        !message.contains("hidden"),
        "the callback secret stays out of messages: {message}"
    );
    assert_eq!(session.status(), Some(SessionStatus::Failed));
    assert!(
        session.event_delivery().await.is_none(),
        "no events URL, no notification"
    );
}
