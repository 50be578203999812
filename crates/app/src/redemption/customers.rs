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
/// audit row in the caller's transaction). A concurrent first dial from the same number waits on
/// the unique index and then finds the row the other one made.
pub async fn get_or_create(
    conn: &mut PgConnection,
    phone: &Msisdn,
    network_code: Option<&str>,
    language: &str,
    now: DateTime<Utc>,
) -> Result<(Customer, bool), sqlx::Error> {
    if let Some(c) = find(conn, phone).await? {
        return Ok((c, false));
    }
    // a staff member's own phone number: the customer is that user (no role change)
    let user_id: Uuid = sqlx::query_scalar(
        r#"with new as (
             insert into users (kind, phone_number, is_verified, created_at, updated_at)
             values ('customer', $1, true, $2, $2)
             on conflict (phone_number) do nothing
             returning id)
           select id from new union all select id from users where phone_number = $1 limit 1"#,
    )
    .bind(phone.e164())
    .bind(now)
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
    let Some(customer) = inserted else {
        let c = find(conn, phone).await?.ok_or(sqlx::Error::RowNotFound)?;
        return Ok((c, false));
    };
    sqlx::query(
        r#"insert into user_role_assignments (user_id, role_id, created_at)
           select u.id, r.id, $2 from users u, roles r
           where u.id = $1 and u.kind = 'customer' and r.name = $3
           on conflict do nothing"#,
    )
    .bind(user_id)
    .bind(now)
    .bind(crate::access::CUSTOMER)
    .execute(&mut *conn)
    .await?;
    audit::record(
        conn,
        &AuditEvent::new(
            Actor::Customer { user_id },
            Action::CustomerRegistered,
            "customer",
            customer.id,
        )
        .after(json!({"phone": phone.masked(), "language": language, "networkCode": network_code})),
        now,
    )
    .await?;
    Ok((customer, true))
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
