//! Email to staff over SMTP with lettre, when notifications settings enable it: set-up links,
//! and the notice of a new registration to `security.registration.approvalNotificationEmail`.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::settings::model::NotificationSettings;
use crate::settings::Settings;
use crate::web::AppState;

/// Sends the set-up link to the user. Returns false (and the caller shows the link instead)
/// when email is off or sending failed.
pub async fn send_setup_link(state: &AppState, user_id: Uuid, url: &str) -> bool {
    let settings = state.settings.get();
    let n = &settings.0.notifications;
    if !email_on(n) {
        return false;
    }
    let email: Option<(String, String)> = sqlx::query_as("select email::text, full_name from users where id = $1")
        .bind(user_id)
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten();
    let Some((to, name)) = email else { return false };
    let body = format!(
        "Hello {name},\n\nYour access to MBELYCO Promo was approved. Choose your password here \
         (the link works once, for {} hours):\n\n{url}\n\nAt your first sign-in you will set up \
         two-factor sign-in with an authenticator app.\n",
        super::users::SETUP_LINK_HOURS
    );
    send(
        &settings.0,
        &format!("{name} <{to}>"),
        "Your MBELYCO Promo account is ready",
        body,
    )
    .await
}

/// Tells `security.registration.approvalNotificationEmail` (when set, and email is on) that
/// someone registered and waits for review. Called after the registration is committed.
pub async fn notify_registration(state: &AppState, full_name: &str, email: &str) -> bool {
    let settings = state.settings.get();
    let (n, to) = (
        &settings.0.notifications,
        &settings.0.security.registration.approval_notification_email,
    );
    if to.is_empty() || !email_on(n) {
        return false;
    }
    let review = format!(
        "{}/admin/registrations",
        state.config.public_base_url.trim_end_matches('/')
    );
    let body = format!(
        "{full_name} <{email}> asked for a staff account on MBELYCO Promo.\n\nReview the request (approve with \
         roles, or reject) here:\n\n{review}\n"
    );
    send(&settings.0, to, "A registration waits for review", body).await
}

/// [`notify_registration`] in the background, so the person registering does not wait on SMTP.
pub fn spawn_registration_notice(state: &AppState, full_name: &str, email: &str) {
    let (state, full_name, email) = (state.clone(), full_name.to_owned(), email.trim().to_owned());
    tokio::spawn(async move {
        notify_registration(&state, &full_name, &email).await;
    });
}

fn email_on(n: &NotificationSettings) -> bool {
    n.email_enabled && !n.smtp_host.is_empty() && !n.from_email.is_empty()
}

/// Sends one plain-text message; false when it could not be built or sent (logged).
async fn send(settings: &Settings, to: &str, subject: &str, body: String) -> bool {
    match deliver(settings, &[to.to_owned()], subject, body, &[]).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, subject, "sending an email failed");
            false
        }
    }
}

/// A file sent with a message.
pub struct Attachment {
    pub file_name: String,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// Whether the notification settings let the app send e-mail at all.
pub fn email_enabled(settings: &Settings) -> bool {
    email_on(&settings.notifications)
}

/// Sends one plain-text message to `to` (with `attachments`, when any) over the SMTP server of
/// the notification settings (from `fromName <fromEmail>`, replies to `replyTo` when set); the
/// error says why it could not be built or sent. The one way the app sends e-mail (set-up links,
/// registration notices, scheduled reports, alert deliveries).
pub async fn deliver(
    settings: &Settings,
    to: &[String],
    subject: &str,
    body: String,
    attachments: &[Attachment],
) -> Result<(), String> {
    use lettre::message::{header::ContentType, Attachment as Part, MultiPart, SinglePart};
    let n = &settings.notifications;
    if !email_on(n) {
        return Err("e-mail is off or not configured in the notification settings".into());
    }
    let built = (|| -> Result<Message, Box<dyn std::error::Error + Send + Sync>> {
        let from: Mailbox = format!("{} <{}>", n.from_name, n.from_email).parse()?;
        let mut builder = Message::builder().from(from).subject(subject);
        if !n.reply_to.trim().is_empty() {
            builder = builder.reply_to(n.reply_to.trim().parse::<Mailbox>()?);
        }
        for t in to {
            builder = builder.to(t.parse::<Mailbox>()?);
        }
        if attachments.is_empty() {
            return Ok(builder.body(body)?);
        }
        let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body));
        for a in attachments {
            parts = parts
                .singlepart(Part::new(a.file_name.clone()).body(a.body.clone(), ContentType::parse(&a.content_type)?));
        }
        Ok(builder.multipart(parts)?)
    })();
    let message = built.map_err(|e| format!("the e-mail could not be built: {e}"))?;
    let builder = match n.smtp_security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&n.smtp_host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&n.smtp_host),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&n.smtp_host)),
    };
    let mut builder = builder.map_err(|e| format!("the SMTP server could not be set up: {e}"))?;
    // the outbound timeout of the integration settings (lettre's own default is a minute)
    let timeout = std::time::Duration::from_secs(u64::from(settings.integrations.outbound_timeout_seconds));
    builder = builder.port(n.smtp_port).timeout(Some(timeout));
    if let Some(pw) = n.smtp_password.expose() {
        builder = builder.credentials(Credentials::new(n.smtp_username.clone(), pw.to_owned()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("the SMTP server refused the e-mail: {e}"))
}
