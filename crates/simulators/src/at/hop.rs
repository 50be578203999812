//! One hop on the wire: post the form to the app like AT, and judge the answer like AT.

use std::error::Error as _;
use std::time::Duration;

use africastalking::gsm7::{screen_check, ScreenCheck};
use africastalking::ussd::{UssdRequest, UssdResponse, FORM_CONTENT_TYPE};
use reqwest::header::CONTENT_TYPE;
use tokio::time::Instant;

use super::screen::{text_violations, DuplicateReport, Screen, ScreenKind, Violation, GENERIC_ERROR};

/// The app's answer to one delivery, judged.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: Option<u16>,
    pub body: Option<String>,
    pub elapsed: Duration,
    /// The parsed answer, when the status and prefix were right.
    pub response: Option<UssdResponse>,
    pub check: Option<ScreenCheck>,
    /// Fatal first.
    pub violations: Vec<Violation>,
}

impl Answer {
    pub fn is_fatal(&self) -> bool {
        self.violations.iter().any(Violation::is_fatal)
    }

    /// What the second delivery of a duplicated hop looked like, compared with this one.
    pub fn compare(&self, second: &Answer) -> DuplicateReport {
        let second_answer = match (&second.body, second.violations.iter().find(|v| v.is_fatal())) {
            (Some(body), _) => body.clone(),
            (None, Some(violation)) => violation.to_string(),
            (None, None) => String::new(),
        };
        DuplicateReport {
            identical: self.status == second.status && self.body == second.body,
            second_answer,
        }
    }

    /// The handset screen this answer produces as hop number `hop`.
    pub fn screen(&self, hop: u32, duplicate: Option<DuplicateReport>) -> Screen {
        let mut violations = self.violations.clone();
        if duplicate.as_ref().is_some_and(|report| !report.identical) {
            violations.push(Violation::DuplicateMismatch);
        }
        let (kind, text) = match (&self.response, self.is_fatal()) {
            (Some(UssdResponse::Con(text)), false) => (ScreenKind::Con, text.clone()),
            (Some(UssdResponse::End(text)), false) => (ScreenKind::End, text.clone()),
            _ => (ScreenKind::Error, GENERIC_ERROR.to_owned()),
        };
        Screen {
            kind,
            text,
            check: self.check.clone(),
            violations,
            duplicate,
            hop,
        }
    }
}

/// Posts `request` to `url` and waits at most `deadline` for the whole answer.
pub(crate) async fn post(client: &reqwest::Client, url: &str, request: &UssdRequest, deadline: Duration) -> Answer {
    let started = Instant::now();
    let exchange = async {
        let response = client
            .post(url)
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(request.to_form())
            .send()
            .await?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
        let body = response.text().await?;
        Ok::<_, reqwest::Error>((status, content_type, body))
    };
    let outcome = tokio::time::timeout(deadline, exchange).await;
    let elapsed = started.elapsed();
    let mut answer = Answer {
        status: None,
        body: None,
        elapsed,
        response: None,
        check: None,
        violations: Vec::new(),
    };
    match outcome {
        Err(_) => answer.violations.push(Violation::DeadlineExceeded(deadline)),
        Ok(Err(error)) => answer.violations.push(Violation::Transport(describe(&error))),
        Ok(Ok((status, content_type, body))) => {
            answer.status = Some(status);
            judge(&mut answer, status, content_type, &body);
            answer.body = Some(body);
        }
    }
    answer.violations.sort_by_key(|violation| !violation.is_fatal());
    answer
}

fn judge(answer: &mut Answer, status: u16, content_type: Option<String>, body: &str) {
    if status != 200 {
        answer.violations.push(Violation::Status(status));
        return;
    }
    let content_type = content_type.unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("text/plain") {
        answer.violations.push(Violation::ContentType(content_type));
    }
    match UssdResponse::parse(body) {
        Ok(response) => {
            let check = screen_check(response.text());
            answer.violations.extend(text_violations(&check));
            answer.check = Some(check);
            answer.response = Some(response);
        }
        Err(_) => answer
            .violations
            .push(Violation::BadPrefix(body.chars().take(12).collect())),
    }
}

/// The error and its causes on one line, without the URL (it may carry the app's secret).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "the callback URL");
    }
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
