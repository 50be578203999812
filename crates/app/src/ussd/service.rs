//! One USSD hop, end to end: session state, customer, menu step, redemption, interaction log.
//!
//! Each hop is one transaction. The session row is upserted first, which locks it: a gateway that
//! delivers the same hop twice at once gets the second copy only after the first committed, and
//! answers it from the session's last answer. The redemption is one statement that changes
//! nothing when it refuses, so a refusal leaves only the session and the interaction log. A lock
//! timeout aborts the whole transaction; `handle` answers "busy" and logs the hop on its own.

use std::sync::LazyLock;
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection, PgPool};

use super::ending;
use super::menu::{self, Next, Retype, State};
use super::messages::{fill, offers_language_choice, Lang, Msg};
pub use super::outcome::{Answer, Outcome};
use super::screens::{end_text, refusal_text, screen, start_again, with_footer};
use super::transcript;
use crate::audit::{AppendSql, AuditEvent};
use crate::codes::format::{Alphabet, PromoCode};
use crate::redemption::{self, customers, limits, Limited, Msisdn, Refusal};
use crate::settings::model::Settings;
use crate::sql::{Binder, Params, Slot};
use crate::templates::Templates;

/// One request from the gateway, as Africa's Talking sends it.
#[derive(Debug, Clone, Default)]
pub struct Hop {
    pub session_id: String,
    pub service_code: String,
    pub phone_number: String,
    pub network_code: String,
    pub text: String,
}

/// The longest `sessionId` and `text` kept; longer input is cut (the gateway never sends it).
const MAX_FIELD: usize = 400;

/// Answers one hop. Never fails: whatever goes wrong becomes a screen (and a log line).
pub async fn handle(
    pool: &PgPool,
    settings: &Settings,
    templates: &Templates,
    hop: &Hop,
    now: DateTime<Utc>,
) -> Answer {
    let started = Instant::now();
    let lang = Lang::default_for(&settings.ussd);
    let answer = match answer(pool, settings, templates, hop, now, started).await {
        Ok(a) => return a,
        Err(e) if is_busy(&e) => Answer::end(Msg::Busy.text(lang, &settings.ussd), Outcome::Busy),
        Err(e) => {
            tracing::error!(error = %e, "USSD hop failed");
            Answer::end(Msg::Error.text(lang, &settings.ussd), Outcome::Error)
        }
    };
    // the hop's own transaction is gone: log on a fresh connection, best effort
    if let Ok(mut conn) = pool.acquire().await {
        if let Err(e) = log(&mut conn, hop, &answer, now, started).await {
            tracing::warn!(error = %e, "could not log a failed USSD hop");
        }
    }
    answer
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        // lock_not_available, deadlock_detected, query_canceled (statement timeout)
        sqlx::Error::Database(d) => matches!(d.code().as_deref(), Some("55P03" | "40P01" | "57014")),
        _ => false,
    }
}

#[derive(sqlx::FromRow)]
struct SessionRow {
    menu_state: String,
    /// Masked ([`transcript::mask`]).
    last_text: Option<String>,
    last_text_sha256: Option<Vec<u8>>,
    last_response: Option<String>,
    inserted: bool,
    /// This phone's hops in the last minute and hour, repeats left out (settings
    /// `security.rateLimiting.ussdRequestsPer…`).
    minute_hops: i64,
    hour_hops: i64,
    /// Inputs since the session (re)started (settings `ussd.maxMenuDepth`).
    depth: i32,
    /// The previous hop's time and the session's start, as they were before this hop.
    idle_since: Option<DateTime<Utc>>,
    session_started: Option<DateTime<Utc>>,
}

async fn answer(
    pool: &PgPool,
    settings: &Settings,
    templates: &Templates,
    hop: &Hop,
    now: DateTime<Utc>,
    started: Instant,
) -> Result<Answer, sqlx::Error> {
    let u = &settings.ussd;
    let default_lang = Lang::default_for(u);
    let mut conn = pool.acquire().await?;
    // requests that cannot be a session of ours are answered and logged, nothing else
    if !service_code_matches(&hop.service_code, &u.service_code) {
        let a = Answer::end(Msg::Error.text(default_lang, u), Outcome::WrongServiceCode);
        log(&mut conn, hop, &a, now, started).await?;
        return Ok(a);
    }
    let Ok(phone) = Msisdn::parse(&hop.phone_number) else {
        let a = Answer::end(Msg::Error.text(default_lang, u), Outcome::BadPhone);
        log(&mut conn, hop, &a, now, started).await?;
        return Ok(a);
    };
    if !phone.payable_in(&settings.payments.momo_target_environment) {
        // told before anything is locked: payouts need an MTN MoMo wallet (or, in the sandbox, a test number)
        let a = Answer::end(Msg::NotMtn.text(default_lang, u), Outcome::NotMtn);
        log(&mut conn, hop, &a, now, started).await?;
        return Ok(a);
    }

    // one round trip: the transaction and its bounded lock wait
    let lock_ms = u64::from(settings.business.lock_timeout_seconds).max(1) * 1000;
    let mut tx = conn
        .begin_with(format!("begin; set local lock_timeout = {lock_ms}"))
        .await?;
    // the session (locked) and the customer (locked, or registered), in one statement
    let network_code = Some(clip(&hop.network_code)).filter(|s| !s.is_empty());
    // a new customer starts in the service's default language: a session has a language only
    // after a hop that already found or registered its customer
    let dial = customers::Dial {
        phone: &phone,
        network_code,
        language: default_lang.as_str(),
        now,
    };
    let (session, found) = session_and_customer(&mut tx, hop, &dial).await?;

    // a repeated hop: the same answer, nothing done again
    if let Some(prev) = repeated(&mut tx, hop, &session).await? {
        let a = Answer {
            body: prev,
            outcome: Outcome::Repeat,
        };
        log(&mut tx, hop, &a, now, started).await?;
        tx.commit().await?;
        return Ok(a);
    }

    // audit rows of this hop, written together with its closing statement
    let mut audit = Vec::new();
    let customer = found.locked(&mut tx, &dial, &mut audit).await?;
    // the customer's language while the menu offers it, else the service's default
    let mut lang = Lang::serving(Lang::parse(&customer.language), u);
    let dialling = &settings.security.rate_limiting;
    let over_limit = session.minute_hops >= i64::from(dialling.ussd_requests_per_minute)
        || session.hour_hops >= i64::from(dialling.ussd_requests_per_hour);

    // the inputs to apply: the newest one, or every pre-filled one on an extended dial
    let text = clip(&hop.text);
    let inputs: Vec<&str> = if session.inserted {
        if text.is_empty() {
            vec![]
        } else {
            text.split('*').collect()
        }
    } else {
        vec![menu::new_input(session.last_text.as_deref(), text)]
    };
    // a hop after a timeout, or one input too many, ends the session politely (nothing applied)
    let before = ending::Before {
        inserted: session.inserted,
        last_seen_at: session.idle_since,
        started_at: session.session_started,
        depth: session.depth,
    };
    let ended = ending::ends(u, &before, inputs.len(), now);
    let depth = match ended {
        Some(_) => 0,
        None => session.depth.saturating_add(inputs.len() as i32),
    };
    let alphabet = Alphabet::new(&settings.business.code_generation.character_set).ok();
    let languages = offers_language_choice(u);
    let mut state = State::parse(&session.menu_state);
    let mut next = Next::Show {
        state: State::Home,
        unknown_choice: false,
    };
    // a phone over its dialling limits is told so, and nothing it typed is applied
    let inputs = if over_limit || ended.is_some() { vec![] } else { inputs };
    for input in inputs {
        next = match &alphabet {
            Some(a) => menu::step(state, input, a, languages),
            None => Next::Show {
                state: State::Home,
                unknown_choice: false,
            },
        };
        match &next {
            Next::Show { state: s, .. } | Next::Retype { state: s, .. } => state = *s,
            Next::SetLanguage(l) => {
                lang = *l;
                state = State::Home;
            }
            Next::Redeem(_) | Next::Check(_) | Next::Exit => break,
        }
    }

    let check_fails = |code: &PromoCode| alphabet.as_ref().is_some_and(|a| !code.check_ok(a));
    let c = HopCtx {
        settings,
        templates,
        hop,
        lang,
        now,
    };
    if ended.is_some() {
        state = State::Restart;
    }
    let a = match next {
        _ if ended == Some(Msg::TimedOut) => Answer::end(start_again(Msg::TimedOut, lang, settings), Outcome::TimedOut),
        _ if ended.is_some() => Answer::end(start_again(Msg::TooDeep, lang, settings), Outcome::TooDeep),
        _ if over_limit => Answer::end(Msg::TooManyRequests.text(lang, u), Outcome::TooManyRequests),
        Next::Show {
            state: s,
            unknown_choice,
        } => Answer::con(screen(s, unknown_choice, lang, settings), Outcome::Menu),
        Next::Retype { state: s, why } => {
            let (text, outcome) = match why {
                Retype::Star => (Msg::StarInCode.text(lang, u), Outcome::StarInCode),
                Retype::Format => (Msg::WrongFormat.text(lang, u), Outcome::WrongFormat),
                // answered without a lookup, and no guess for the fraud rules
                Retype::NotACode(c) => (
                    fill(&Msg::NotACode.text(lang, u), &[("char", &c.to_string())]),
                    Outcome::NotACode,
                ),
            };
            let _ = s;
            Answer::con(with_footer(text, lang, settings), outcome)
        }
        Next::SetLanguage(l) => {
            customers::set_language(&mut tx, &phone, l.as_str()).await?;
            Answer::con(screen(State::Home, false, l, settings), Outcome::LanguageSet)
        }
        Next::Exit => Answer::end(Msg::Goodbye.text(lang, u), Outcome::Exit),
        Next::Redeem(code) => redeem(&mut tx, &c, &customer, &code, check_fails(&code), &mut audit).await?,
        Next::Check(code) => check(&mut tx, &c, &customer, &code, check_fails(&code), &mut audit).await?,
    };
    // the session's new state, the log line and the hop's audit rows, in one statement; typed
    // codes are stored masked
    let stored = transcript::mask(text);
    let digest = transcript::digest(text);
    let finish = if audit.is_empty() { &*FINISH } else { &*FINISH_AUDITED };
    let b = Binder::new(sqlx::query(finish.sql.as_str())).at(finish.own, |b| {
        b.bind(clip(&hop.session_id))
            .bind(state.as_str())
            .bind(&stored)
            .bind(&a.body)
            .bind(a.outcome.as_str())
            .bind(lang.as_str())
            .bind(customer.id)
            .bind(phone.e164())
            .bind(network_code)
            .bind(clip(&hop.service_code))
            .bind(started.elapsed().as_millis().min(i32::MAX as u128) as i32)
            .bind(now)
            .bind(&digest)
            .bind(depth)
            .bind(ended.is_some().then_some(now))
    });
    let b = match &finish.audit {
        Some(append) => append.bind(b, &audit, now),
        None => b,
    };
    let q = b.finish(finish.params);
    q.execute(&mut *tx).await?;
    tx.commit().await?;
    if a.outcome == Outcome::Redeemed {
        redemption::wake_payouts(pool);
    }
    Ok(a)
}

/// The end of a hop: the session's new state and the interaction log line, and, when the hop
/// audited something, its audit rows ([`crate::audit::AppendSql`]), in one statement.
struct Finish {
    sql: String,
    own: Slot,
    audit: Option<AppendSql>,
    params: usize,
}

impl Finish {
    fn new(audited: bool) -> Self {
        let mut p = Params::new();
        let (
            own,
            [session, menu, text, response, outcome, lang, customer, phone, network, service, latency, now, digest, depth, restarted],
        ) = p.take::<15>();
        let audit = audited.then(|| AppendSql::new(&mut p));
        let sql = format!(
            r#"with {audit_items}
           s as (
             update ussd_sessions set menu_state = {menu}, last_text = {text}, last_response = {response},
                 last_outcome = {outcome}, language = {lang}, customer_id = {customer}, last_text_sha256 = {digest},
                 depth = {depth}, started_at = coalesce({restarted}::timestamptz, started_at)
             where session_id = {session})
           insert into ussd_interactions (session_id, phone_number, network_code, service_code, input, response,
                                          outcome, latency_ms, created_at)
           values ({session}, {phone}, {network}, {service}, {text}, {response}, {outcome}, {latency}, {now})"#,
            audit_items = audit.as_ref().map(|a| format!("{},", a.items)).unwrap_or_default(),
        );
        Finish {
            sql,
            own,
            audit,
            params: p.count(),
        }
    }
}

static FINISH: LazyLock<Finish> = LazyLock::new(|| Finish::new(false));
static FINISH_AUDITED: LazyLock<Finish> = LazyLock::new(|| Finish::new(true));

/// What a hop's handlers share.
struct HopCtx<'a> {
    settings: &'a Settings,
    /// The notification templates: the end screens' wording (decision 0045).
    templates: &'a Templates,
    hop: &'a Hop,
    lang: Lang,
    now: DateTime<Utc>,
}

async fn redeem(
    tx: &mut PgConnection,
    c: &HopCtx<'_>,
    customer: &customers::Locked,
    code: &PromoCode,
    check_fails: bool,
    audit: &mut Vec<AuditEvent>,
) -> Result<Answer, sqlx::Error> {
    let HopCtx {
        settings,
        hop,
        lang,
        now,
        ..
    } = *c;
    let u = &settings.ussd;
    // the text's digest, not the text: the key is stored, and the text holds the code
    let key = format!(
        "ussd:{}:{}",
        clip(&hop.session_id),
        hex::encode(transcript::digest(clip(&hop.text)))
    );
    let attempt = redemption::Attempt {
        customer,
        code,
        idempotency_key: &key,
        check_fails,
        ussd_session_id: Some(&hop.session_id),
        network_code: Some(clip(&hop.network_code)).filter(|s| !s.is_empty()),
        language: lang.as_str(),
        limits: u,
        grace: grace(settings),
        now,
    };
    // a refusal changes nothing; a lock timeout aborts the hop's transaction and `handle` answers
    // "busy" and logs it on its own
    match redemption::redeem(tx, &attempt, &settings.payments, &settings.business.redemption, audit).await? {
        Ok(r) => {
            if crate::webhooks::emit::on(settings) {
                let p = crate::webhooks::emit::Payout {
                    redemption_id: r.redemption_id,
                    disbursement_id: r.disbursement_id,
                    amount: r.amount,
                    currency: &r.currency,
                    phone: &customer.msisdn,
                };
                let event = crate::webhooks::Event::redemption_completed(&p, code.as_str(), r.awaiting_approval, now);
                crate::webhooks::emit(tx, &event, now).await?;
            }
            let text = fill(
                &end_text(Msg::Success, lang, settings, c.templates),
                &[("amount", &r.amount.to_string()), ("currency", &r.currency)],
            );
            Ok(Answer::end(text, Outcome::Redeemed))
        }
        Err(refusal) => {
            flag_guesses(tx, settings, customer, code, refusal, now, audit).await?;
            Ok(refused(refusal, c))
        }
    }
}

/// A refusal's screen: a typo is asked for again, the rest end the session.
fn refused(r: Refusal, c: &HopCtx<'_>) -> Answer {
    let (lang, settings) = (c.lang, c.settings);
    let text = refusal_text(r, lang, settings, c.templates);
    match r {
        Refusal::Mistyped => Answer::con(with_footer(text, lang, settings), Outcome::Refused(r)),
        _ => Answer::end(text, Outcome::Refused(r)),
    }
}

async fn check(
    tx: &mut PgConnection,
    c: &HopCtx<'_>,
    customer: &customers::Customer,
    code: &PromoCode,
    check_fails: bool,
    audit: &mut Vec<AuditEvent>,
) -> Result<Answer, sqlx::Error> {
    let HopCtx {
        settings, lang, now, ..
    } = *c;
    let u = &settings.ussd;
    if let Some(limited) = limits::check(tx, &customer.msisdn, now, u).await? {
        return Ok(too_many(limited, c));
    }
    // a phone blocked after a fraud review learns nothing about codes either
    let barred: bool = sqlx::query_scalar("select blocked_at is not null from customers where id = $1")
        .bind(customer.id)
        .fetch_one(&mut *tx)
        .await?;
    if barred {
        return Ok(refused(Refusal::Barred, c));
    }
    Ok(
        match redemption::look(tx, code, check_fails, now, grace(settings)).await? {
            Ok(state) => {
                let date = state
                    .expires_at
                    .map(|e| e.with_timezone(&crate::clock::kigali()).format("%d/%m/%Y").to_string())
                    .unwrap_or_default();
                let text = fill(
                    &Msg::CodeValid.text(lang, u),
                    &[
                        ("amount", &state.amount.to_string()),
                        ("currency", &state.currency),
                        ("date", &date),
                    ],
                );
                Answer::end(text, Outcome::CodeValid)
            }
            Err(r) => {
                flag_guesses(tx, settings, customer, code, r, now, audit).await?;
                refused(r, c)
            }
        },
    )
}

/// Unknown codes from one phone are counted; enough of them flag the customer and raise the
/// wrong-code alert; other refusals go to the fraud rules ([`crate::alerts::rules::fraud`]).
async fn flag_guesses(
    tx: &mut PgConnection,
    settings: &Settings,
    customer: &customers::Customer,
    code: &PromoCode,
    r: Refusal,
    now: DateTime<Utc>,
    audit: &mut Vec<AuditEvent>,
) -> Result<(), sqlx::Error> {
    let rules = &settings.business.redemption;
    if !rules.fraud_detection_enabled {
        return Ok(());
    }
    if r == Refusal::UnknownCode {
        redemption::note_wrong_code(tx, customer, now, rules.wrong_code_flag_threshold, audit).await?;
    } else {
        crate::alerts::rules::fraud::on_refusal(tx, &customer.msisdn, code.as_str(), r, now).await?;
    }
    Ok(())
}

fn too_many(limited: Limited, c: &HopCtx<'_>) -> Answer {
    refused(Refusal::TooManyAttempts(limited), c)
}

/// How long after its expiry date a code may still be redeemed (settings
/// `business.expiration.gracePeriodHours`).
fn grace(settings: &Settings) -> chrono::Duration {
    chrono::Duration::hours(i64::from(settings.business.expiration.grace_period_hours))
}

/// `*789#` matches `*789#`; an extended dial (`*789*1#`) matches its base code too.
fn service_code_matches(got: &str, configured: &str) -> bool {
    let base = configured.trim().trim_end_matches('#');
    let got = got.trim();
    got == configured.trim()
        || got
            .trim_end_matches('#')
            .strip_prefix(base)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('*'))
}

/// Cuts absurdly long input at a character boundary (the log and the session keep the start).
fn clip(s: &str) -> &str {
    if s.len() <= MAX_FIELD {
        return s;
    }
    let mut end = MAX_FIELD;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Upserts the hop's session (which locks it: a second copy of the hop waits for the first),
/// finds or registers the caller ([`customers::CustomerSql`]) and counts the phone's recent hops
/// in the interaction log (its `(phone_number, created_at)` index), in one statement.
async fn session_and_customer(
    conn: &mut PgConnection,
    hop: &Hop,
    dial: &customers::Dial<'_>,
) -> Result<(SessionRow, customers::Found), sqlx::Error> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        session: SessionRow,
        #[sqlx(flatten)]
        customer: customers::Found,
    }
    static SQL: LazyLock<(String, customers::CustomerSql, Slot, usize)> = LazyLock::new(|| {
        let mut p = Params::new();
        let customer = customers::CustomerSql::new(&mut p);
        let (own, [session, service]) = p.take::<2>();
        let (phone, now, network) = (&customer.phone, &customer.now, &customer.network_code);
        let sql = format!(
            r#"with {items},
           before as (
             select last_seen_at as idle_since, started_at as session_started
             from ussd_sessions where session_id = {session}),
           s as (
             insert into ussd_sessions (session_id, phone_number, service_code, network_code, started_at, last_seen_at)
             values ({session}, {phone}, {service}, {network}, {now}, {now})
             on conflict (session_id) do update set last_seen_at = excluded.last_seen_at
             returning menu_state, last_text, last_text_sha256, last_response, depth, (xmax = 0) as inserted),
           hops as (
             select count(*) filter (where created_at > {now} - interval '1 minute') as minute_hops,
                    count(*) as hour_hops
             from ussd_interactions
             where phone_number = {phone} and created_at > {now} - interval '1 hour' and outcome <> 'repeat')
         select s.*, hops.*, before.*, customer.* from s cross join hops left join before on true
           left join customer on true"#,
            items = customer.items,
        );
        (sql, customer, own, p.count())
    });
    let (sql, customer, own, params) = &*SQL;
    let b = customer.bind(Binder::new(sqlx::query_as(sql.as_str())), dial);
    let row: Row = b
        .at(*own, |b| b.bind(clip(&hop.session_id)).bind(clip(&hop.service_code)))
        .finish(*params)
        .fetch_one(conn)
        .await?;
    Ok((row.session, row.customer))
}

/// The answer already given to this exact hop, if it is a repeat (told by the text's digest: the
/// session keeps the text masked).
async fn repeated(conn: &mut PgConnection, hop: &Hop, s: &SessionRow) -> Result<Option<String>, sqlx::Error> {
    let text = clip(&hop.text);
    if s.inserted {
        return Ok(None);
    }
    if s.last_text_sha256.as_deref() == Some(transcript::digest(text).as_slice()) {
        return Ok(s.last_response.clone());
    }
    // an older hop delivered late: its answer is in the log (stored masked)
    let stored = transcript::mask(text);
    if s.last_text.as_deref() == Some(stored.as_str()) {
        // the same masked text as the last hop but not its text: another code, not a repeat
        return Ok(None);
    }
    sqlx::query_scalar(
        "select response from ussd_interactions where session_id = $1 and input = $2 and outcome <> 'repeat' \
         order by id limit 1",
    )
    .bind(clip(&hop.session_id))
    .bind(stored)
    .fetch_optional(conn)
    .await
}

async fn log(
    conn: &mut PgConnection,
    hop: &Hop,
    a: &Answer,
    now: DateTime<Utc>,
    started: Instant,
) -> Result<(), sqlx::Error> {
    let phone = Msisdn::parse(&hop.phone_number)
        .map(|p| p.e164().to_owned())
        .unwrap_or_else(|_| clip(&hop.phone_number).to_owned());
    sqlx::query(
        r#"insert into ussd_interactions (session_id, phone_number, network_code, service_code, input, response,
                                          outcome, latency_ms, created_at)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"#,
    )
    .bind(clip(&hop.session_id))
    .bind(phone)
    .bind(Some(clip(&hop.network_code)).filter(|s| !s.is_empty()))
    .bind(clip(&hop.service_code))
    .bind(transcript::mask(clip(&hop.text)))
    .bind(&a.body)
    .bind(a.outcome.as_str())
    .bind(started.elapsed().as_millis().min(i32::MAX as u128) as i32)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_codes() {
        assert!(service_code_matches("*789#", "*789#"));
        assert!(service_code_matches("*789*1#", "*789#"));
        assert!(!service_code_matches("*7890#", "*789#"));
        assert!(!service_code_matches("*123#", "*789#"));
    }

    #[test]
    fn clipping_keeps_char_boundaries() {
        let long = "é".repeat(300);
        let c = clip(&long);
        assert!(c.len() <= MAX_FIELD);
        assert!(long.starts_with(c));
    }
}
