//! Email to staff (set-up links) over SMTP with lettre, when notifications settings enable it.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use uuid::Uuid;

use crate::web::AppState;

/// Sends the set-up link to the user. Returns false (and the caller shows the link instead)
/// when email is off or sending failed.
pub async fn send_setup_link(state: &AppState, user_id: Uuid, url: &str) -> bool {
    let settings = state.settings.get();
    let n = &settings.0.notifications;
    if !n.email_enabled || n.smtp_host.is_empty() || n.from_email.is_empty() {
        return false;
    }
    let email: Option<(String, String)> = sqlx::query_as("select email::text, full_name from users where id = $1")
        .bind(user_id)
        .fetch_optional(&state.pool)
        .await
        .ok()
        .flatten();
    let Some((to, name)) = email else { return false };
    let built = (|| -> Result<Message, Box<dyn std::error::Error + Send + Sync>> {
        let from: Mailbox = format!("{} <{}>", n.from_name, n.from_email).parse()?;
        let to: Mailbox = format!("{name} <{to}>").parse()?;
        Ok(Message::builder()
            .from(from)
            .to(to)
            .subject("Your MBELYCO Promo account is ready")
            .body(format!(
                "Hello {name},\n\nYour access to MBELYCO Promo was approved. Choose your password here \
                 (the link works once, for {} hours):\n\n{url}\n\nAt your first sign-in you will set up \
                 two-factor sign-in with an authenticator app.\n",
                super::users::SETUP_LINK_HOURS
            ))?)
    })();
    let Ok(message) = built else {
        tracing::warn!("the set-up email could not be built");
        return false;
    };
    let builder = match n.smtp_security.as_str() {
        "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&n.smtp_host),
        "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&n.smtp_host),
        _ => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&n.smtp_host)),
    };
    let Ok(mut builder) = builder else { return false };
    // the outbound timeout of the integration settings (lettre's own default is a minute)
    let timeout = std::time::Duration::from_secs(u64::from(settings.0.integrations.outbound_timeout_seconds));
    builder = builder.port(n.smtp_port).timeout(Some(timeout));
    if let Some(pw) = n.smtp_password.expose() {
        builder = builder.credentials(Credentials::new(n.smtp_username.clone(), pw.to_owned()));
    }
    match builder.build().send(message).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "sending the set-up email failed; showing the link instead");
            false
        }
    }
}
