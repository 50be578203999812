//! Customers: a phone number seen for the first time becomes one (a `customer` user with the
//! Customer role and no staff access), with a language that sticks to the number.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use super::phone::Msisdn;
use crate::audit::{Action, Actor, AuditEvent};
use crate::sql::{Bind, Binder, Params, Slot};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Customer {
    pub id: Uuid,
    pub user_id: Uuid,
    pub msisdn: String,
    pub language: String,
}

/// A customer whose row this transaction holds locked (`FOR UPDATE`, or inserted by it): only
/// such a customer can redeem, so two redemptions by one customer cannot both fit the limits.
#[derive(Debug, Clone)]
pub struct Locked(Customer);

impl std::ops::Deref for Locked {
    type Target = Customer;
    fn deref(&self) -> &Customer {
        &self.0
    }
}

/// Who is dialling: what finding or registering a customer needs. Built once per hop (or per
/// script) and handed to [`CustomerSql::bind`], [`Found::locked`] and [`find_or_register`].
#[derive(Debug, Clone, Copy)]
pub struct Dial<'a> {
    pub phone: &'a Msisdn,
    /// As the gateway gave it, if it did.
    pub network_code: Option<&'a str>,
    /// The language a new customer starts with.
    pub language: &'a str,
    pub now: DateTime<Utc>,
}

async fn find_locked(conn: &mut PgConnection, phone: &Msisdn) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as("select id, user_id, msisdn, language from customers where msisdn = $1 for update")
        .bind(phone.e164())
        .fetch_optional(conn)
        .await
}

/// Finds the customer for a number and locks their row, or registers them (user, Customer role
/// and customer row), as `with` items ending in `customer`: one row or none, with the columns of
/// [`Found`]. A statement that also does something else (the USSD hop's session upsert) runs them
/// as its own items, and so saves a round trip; a number registered by a concurrent first dial (or
/// a staff member's own number) yields no row, and [`Found::locked`] takes the slower path. The
/// placeholders of the number, the time and the network code are public, for the statement around
/// the items to use too.
#[derive(Debug, Clone)]
pub struct CustomerSql {
    slot: Slot,
    pub items: String,
    /// The number's placeholder (E.164).
    pub phone: String,
    /// The time's placeholder.
    pub now: String,
    /// The gateway's network code's placeholder (text, may be null).
    pub network_code: String,
}

impl CustomerSql {
    /// Takes five placeholders.
    pub fn new(p: &mut Params) -> Self {
        let (slot, [phone, now, language, network_code, role]) = p.take::<5>();
        let items = format!(
            r#"found as (select id, user_id, msisdn, language from customers where msisdn = {phone} for update),
           u as (
             insert into users (kind, phone_number, is_verified, created_at, updated_at)
             select 'customer', {phone}, true, {now}, {now} where not exists (select 1 from found)
             on conflict (phone_number) do nothing
             returning id),
           c as (
             insert into customers (user_id, msisdn, language, network_code, first_seen_at, last_seen_at)
             select id, {phone}, {language}, {network_code}, {now}, {now} from u
             returning id, user_id, msisdn, language),
           ra as (
             insert into user_role_assignments (user_id, role_id, created_at)
             select u.id, r.id, {now} from u, roles r where r.name = {role}),
           customer as (
             select id as customer_id, user_id as customer_user_id, msisdn as customer_msisdn,
                    language as customer_language, false as customer_created
             from found
             union all
             select id, user_id, msisdn, language, true from c)"#
        );
        CustomerSql {
            slot,
            items,
            phone,
            now,
            network_code,
        }
    }

    /// Binds a [`Dial`] at the fragment's slot: the number, the time, the language a new customer
    /// starts with, the network code the gateway gave and the Customer role.
    pub fn bind<'q, Q: Bind<'q>>(&self, b: Binder<Q>, dial: &Dial<'q>) -> Binder<Q> {
        let phone: &'q Msisdn = dial.phone;
        b.at(self.slot, |b| {
            b.bind(phone.e164())
                .bind(dial.now)
                .bind(dial.language)
                .bind(dial.network_code)
                .bind(crate::access::CUSTOMER)
        })
    }
}

/// The columns of [`CustomerSql`]'s `customer`, all null when it yielded no row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Found {
    customer_id: Option<Uuid>,
    customer_user_id: Option<Uuid>,
    customer_msisdn: Option<String>,
    customer_language: Option<String>,
    customer_created: Option<bool>,
}

impl Found {
    /// The customer the statement found or registered, or the same by the slower path; a
    /// registration's audit event is pushed to `audit`, for the caller to record in the same
    /// transaction.
    pub async fn locked(
        self,
        conn: &mut PgConnection,
        dial: &Dial<'_>,
        audit: &mut Vec<AuditEvent>,
    ) -> Result<Locked, sqlx::Error> {
        let (Some(id), Some(user_id), Some(msisdn), Some(lang), Some(created)) = (
            self.customer_id,
            self.customer_user_id,
            self.customer_msisdn,
            self.customer_language,
            self.customer_created,
        ) else {
            return register_slowly(conn, dial, audit).await;
        };
        let customer = Customer {
            id,
            user_id,
            msisdn,
            language: lang,
        };
        if created {
            audit.push(registration(&customer, dial));
        }
        Ok(Locked(customer))
    }
}

/// The customer for this number, locked for the rest of the caller's transaction, registered on
/// first sight ([`CustomerSql`]). A registration's audit event is pushed to `audit` for the
/// caller to record in the same transaction ([`crate::audit::record_all`]).
pub async fn find_or_register(
    conn: &mut PgConnection,
    dial: &Dial<'_>,
    audit: &mut Vec<AuditEvent>,
) -> Result<Locked, sqlx::Error> {
    static SQL: LazyLock<(String, CustomerSql, usize)> = LazyLock::new(|| {
        let mut p = Params::new();
        let customer = CustomerSql::new(&mut p);
        let sql = format!(
            "with {} select customer.* from (values (1)) one (x) left join customer on true",
            customer.items
        );
        (sql, customer, p.count())
    });
    let (sql, customer, params) = &*SQL;
    let found: Found = customer
        .bind(Binder::new(sqlx::query_as(sql.as_str())), dial)
        .finish(*params)
        .fetch_one(&mut *conn)
        .await?;
    found.locked(conn, dial, audit).await
}

fn registration(c: &Customer, dial: &Dial<'_>) -> AuditEvent {
    AuditEvent::new(
        Actor::Customer { user_id: c.user_id },
        Action::CustomerRegistered,
        "customer",
        c.id,
    )
    .after(json!({"phone": dial.phone.masked(), "language": c.language, "networkCode": dial.network_code}))
}

/// The number's user row exists but was not visible to the one statement: registered by a
/// concurrent first dial (now committed), or a staff member's own number (the customer is that
/// user, without the Customer role).
async fn register_slowly(
    conn: &mut PgConnection,
    dial: &Dial<'_>,
    audit: &mut Vec<AuditEvent>,
) -> Result<Locked, sqlx::Error> {
    let Dial {
        phone,
        network_code,
        language,
        now,
    } = *dial;
    if let Some(c) = find_locked(conn, phone).await? {
        return Ok(Locked(c));
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
            audit.push(registration(&c, dial));
            Ok(Locked(c))
        }
        None => Ok(Locked(find_locked(conn, phone).await?.ok_or(sqlx::Error::RowNotFound)?)),
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
