//! Customers: a phone number seen for the first time becomes one (a `customer` user with the
//! Customer role and no staff access), with a language that sticks to the number.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::phone::Msisdn;
use crate::audit::{self, Action, Actor, AuditEvent};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Customer {
    pub id: Uuid,
    pub user_id: Uuid,
    pub msisdn: String,
    pub language: String,
}

pub async fn find(conn: &mut PgConnection, phone: &Msisdn) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as("select id, user_id, msisdn, language from customers where msisdn = $1")
        .bind(phone.e164())
        .fetch_optional(conn)
        .await
}

/// The customer for this number, registered on first sight (user, Customer role, customer row and
/// audit row in the caller's transaction). Finding or registering is one statement; a number
/// registered by a concurrent first dial at the same moment (or a staff member's own number) takes
/// the slower path below.
pub async fn get_or_create(
    conn: &mut PgConnection,
    phone: &Msisdn,
    network_code: Option<&str>,
    language: &str,
    now: DateTime<Utc>,
) -> Result<(Customer, bool), sqlx::Error> {
    let row: Option<(Uuid, Uuid, String, String, bool)> = sqlx::query_as(
        r#"with found as (select id, user_id, msisdn, language from customers where msisdn = $1),
           u as (
             insert into users (kind, phone_number, is_verified, created_at, updated_at)
             select 'customer', $1, true, $2, $2 where not exists (select 1 from found)
             on conflict (phone_number) do nothing
             returning id),
           c as (
             insert into customers (user_id, msisdn, language, network_code, first_seen_at, last_seen_at)
             select id, $1, $3, $4, $2, $2 from u
             returning id, user_id, msisdn, language),
           ra as (
             insert into user_role_assignments (user_id, role_id, created_at)
             select u.id, r.id, $2 from u, roles r where r.name = $5)
         select id, user_id, msisdn, language, false from found
         union all
         select id, user_id, msisdn, language, true from c"#,
    )
    .bind(phone.e164())
    .bind(now)
    .bind(language)
    .bind(network_code)
    .bind(crate::access::CUSTOMER)
    .fetch_optional(&mut *conn)
    .await?;
    let (customer, created) = match row {
        Some((id, user_id, msisdn, language, created)) => (
            Customer {
                id,
                user_id,
                msisdn,
                language,
            },
            created,
        ),
        None => return register_slowly(conn, phone, network_code, language, now).await,
    };
    if created {
        audit_registration(conn, &customer, phone, network_code, now).await?;
    }
    Ok((customer, created))
}

async fn audit_registration(
    conn: &mut PgConnection,
    c: &Customer,
    phone: &Msisdn,
    network_code: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        &AuditEvent::new(
            Actor::Customer { user_id: c.user_id },
            Action::CustomerRegistered,
            "customer",
            c.id,
        )
        .after(json!({"phone": phone.masked(), "language": c.language, "networkCode": network_code})),
        now,
    )
    .await?;
    Ok(())
}

/// The number's user row exists but was not visible to the one statement: registered by a
/// concurrent first dial (now committed), or a staff member's own number (the customer is that
/// user, without the Customer role).
async fn register_slowly(
    conn: &mut PgConnection,
    phone: &Msisdn,
    network_code: Option<&str>,
    language: &str,
    now: DateTime<Utc>,
) -> Result<(Customer, bool), sqlx::Error> {
    if let Some(c) = find(conn, phone).await? {
        return Ok((c, false));
    }
    let user_id: Uuid = sqlx::query_scalar("select id from users where phone_number = $1")
        .bind(phone.e164())
        .fetch_one(&mut *conn)
        .await?;
    let inserted: Option<Customer> = sqlx::query_as(
        r#"insert into customers (user_id, msisdn, language, network_code, first_seen_at, last_seen_at)
           values ($1, $2, $3, $4, $5, $5)
           on conflict do nothing
           returning id, user_id, msisdn, language"#,
    )
    .bind(user_id)
    .bind(phone.e164())
    .bind(language)
    .bind(network_code)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    match inserted {
        Some(c) => {
            audit_registration(conn, &c, phone, network_code, now).await?;
            Ok((c, true))
        }
        None => Ok((find(conn, phone).await?.ok_or(sqlx::Error::RowNotFound)?, false)),
    }
}

/// Remembers the customer's language choice.
pub async fn set_language(conn: &mut PgConnection, phone: &Msisdn, language: &str) -> Result<(), sqlx::Error> {
    sqlx::query("update customers set language = $2 where msisdn = $1")
        .bind(phone.e164())
        .bind(language)
        .execute(conn)
        .await?;
    Ok(())
}
