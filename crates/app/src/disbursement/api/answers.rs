//! The shapes of the payout and redemption API as the OpenAPI document names them: the answers
//! the handlers render (typed, so the document and the JSON cannot drift) and the query
//! parameters [`ListQuery`](crate::disbursement::ops::query::ListQuery) reads, split by the
//! routes that read them (one parser, several documented subsets).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};
use uuid::Uuid;

use crate::disbursement::ops::disclosure::RedemptionView;
use crate::disbursement::ops::views::{Detail, HistoryEntry, PayoutRow};
use crate::disbursement::ops::BulkOutcome;

/// `{data}`: one record or figure set.
#[derive(Debug, Serialize)]
pub struct Data<T> {
    pub data: T,
}

// By hand: the derive refers to `T` without putting `T`'s schema among the components.
impl<T: ToSchema> PartialSchema for Data<T> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .property("data", Ref::from_schema_name(T::name()))
            .required("data")
            .into()
    }
}

impl<T: ToSchema> ToSchema for Data<T> {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((T::name().into_owned(), T::schema()));
        T::schemas(schemas);
    }
}

impl<T> Data<T> {
    pub fn of(data: T) -> axum::Json<Self> {
        axum::Json(Data { data })
    }
}

/// Payouts that appeared or changed since the cursor, oldest change first.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changes {
    pub data: Vec<PayoutRow>,
    /// The `since` of the next poll.
    pub cursor: DateTime<Utc>,
}

/// One payout in full, and its audit history for readers of the audit log (`null` for others).
#[derive(Debug, Serialize, ToSchema)]
pub struct PayoutDetail {
    pub data: Detail,
    pub history: Option<Vec<HistoryEntry>>,
}

/// What a bulk retry did: how many were retried, and each payout's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkRetried {
    pub retried: usize,
    pub outcomes: Vec<BulkOutcome>,
}

/// What the live redemption list learns on one poll.
#[derive(Debug, Serialize, ToSchema)]
pub struct Live {
    /// Redemptions matching the filters written since `since` (newest first; the page skips
    /// those it already holds).
    pub data: Vec<RedemptionView>,
    /// The current state of the rows named in `ids`.
    pub updates: Vec<RedemptionView>,
    /// The `since` of the next poll.
    pub cursor: String,
}

/// `POST /api/v1/admin/disbursements/bulk/retry`'s body.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkBody {
    /// The payouts to retry (at most 500).
    pub ids: Vec<Uuid>,
    /// Why (3 to 500 characters).
    #[serde(default)]
    pub reason: String,
}

/// The filters of the payout and redemption lists, statistics aside.
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct FilterParams {
    /// From this day (`2026-11-26`) or time (`2026-11-26T14:05`), Kigali time, or RFC 3339.
    #[param(max_length = 64)]
    from: Option<String>,
    /// Up to this day (included) or time.
    #[param(max_length = 64)]
    to: Option<String>,
    /// One or more states, comma-separated (the payout's or the redemption's, by list).
    #[param(max_length = 200)]
    status: Option<String>,
    /// At least this many francs (needs `disbursements.read`).
    #[param(value_type = Option<i64>, minimum = 0)]
    amount_min: Option<String>,
    /// At most this many francs (needs `disbursements.read`).
    #[param(value_type = Option<i64>, minimum = 0)]
    amount_max: Option<String>,
    /// Digits of the customer's or the payee's phone number (`0788…` or `250788…`).
    #[param(max_length = 16)]
    phone: Option<String>,
    /// Only this batch.
    #[param(value_type = Option<Uuid>)]
    batch_id: Option<String>,
    /// `new`: a customer's first redemption; `returning`: a later one (as the dashboard counts
    /// them).
    #[param(value_type = Option<CustomerSegment>, inline)]
    customer: Option<String>,
    /// Free text, 3 to 64 characters: an id, a MoMo reference or transaction id, a phone
    /// number or a code (whole or part). Redemptions: needs `redemptions.search`.
    #[param(min_length = 3, max_length = 64)]
    q: Option<String>,
}

/// New or returning customers.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum CustomerSegment {
    New,
    Returning,
}

/// The payout list's own filter.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HeldParam {
    /// `true`: only the payouts queued but held back (low balance, limits, MoMo configuration),
    /// as the dashboard's "held" figure counts them; `false`: every other one.
    #[param(value_type = Option<bool>)]
    held: Option<String>,
}

/// The order of a list.
#[derive(Serialize, ToSchema)]
#[allow(dead_code)]
pub enum SortKey {
    #[serde(rename = "-createdAt")]
    NewestFirst,
    #[serde(rename = "createdAt")]
    OldestFirst,
    #[serde(rename = "-amount")]
    AmountDesc,
    #[serde(rename = "amount")]
    AmountAsc,
    #[serde(rename = "-updatedAt")]
    RecentlyChanged,
    #[serde(rename = "status")]
    Status,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SortParam {
    /// The order (default `-createdAt`, newest first; `-amount`/`amount` need
    /// `disbursements.read`). A cursor serves only the order it was given in.
    #[param(value_type = Option<SortKey>, inline)]
    sort: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PeriodParams {
    /// From this day or time, Kigali (default: 30 days before `to`).
    #[param(max_length = 64)]
    from: Option<String>,
    /// Up to this day (included) or time (default: now).
    #[param(max_length = 64)]
    to: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SinceParam {
    /// The previous answer's `cursor` (RFC 3339); default now.
    #[param(value_type = Option<DateTime<Utc>>)]
    since: Option<String>,
}

/// The export's file format.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum FileFormat {
    Csv,
    Pdf,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FormatParam {
    /// `csv` (default) or `pdf`.
    #[param(value_type = Option<FileFormat>, inline)]
    format: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// The previous answer's `cursor`; leave out on the first poll.
    #[param(max_length = 32)]
    pub since: Option<String>,
    /// The rows the page still shows open, comma-separated ids (at most 100).
    #[param(max_length = 4000)]
    pub ids: Option<String>,
}
