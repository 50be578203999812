//! One discrepancy of a run: the three-way view (redemption, disbursement, MoMo), its attempts and
//! findings, and the form that resolves it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use uuid::Uuid;

use super::*;
use crate::web::extract::Path;

/// One row of the three-way view.
struct Row3 {
    label: &'static str,
    redemption: String,
    disbursement: String,
    momo: String,
    differs: bool,
}

struct AttemptView {
    no: String,
    reference: String,
    status: String,
    http: String,
    momo_status: String,
    ftid: String,
    asked: String,
    statement: String,
    created: String,
}

struct FindingView {
    kind: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "reconcile_item.html")]
struct ItemPage {
    shell: Shell,
    id: Uuid,
    run_id: Uuid,
    kind: &'static str,
    kind_key: String,
    rows: Vec<Row3>,
    findings: Vec<FindingView>,
    attempts: Vec<AttemptView>,
    resolved: Option<(String, String, String)>,
    can_resolve: bool,
    resolvable: bool,
    note: String,
    error: Option<String>,
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn when(v: &Value, path: &[&str]) -> String {
    let t = text(v, path);
    chrono::DateTime::parse_from_rfc3339(&t)
        .map(|t| local_display(t.with_timezone(&chrono::Utc)))
        .unwrap_or(t)
}

fn three_way(ours: &Value, momo: &Value) -> Vec<Row3> {
    let r = |k: &str| text(ours, &["redemption", k]);
    let d = |k: &str| text(ours, &["disbursement", k]);
    let m = |k: &str| text(momo, &[k]);
    let amount = |a: String, c: String| {
        if a.is_empty() {
            String::new()
        } else {
            format!("{a} {c}")
        }
    };
    let momo_status = {
        let s = m("status");
        match (s.as_str(), m("reason")) {
            ("", _) => String::new(),
            (_, reason) if !reason.is_empty() => format!("{s} ({reason})"),
            _ => s,
        }
    };
    let source = match (m("source").as_str(), m("line")) {
        ("statement", line) if !line.is_empty() => format!("statement line {line}"),
        ("statement", _) => "statement".to_owned(),
        ("status_query", _) => "status query".to_owned(),
        _ => String::new(),
    };
    let row = |label, redemption: String, disbursement: String, momo: String| {
        let differs = {
            let vals: Vec<&String> = [&redemption, &disbursement, &momo]
                .into_iter()
                .filter(|v| !v.is_empty())
                .collect();
            vals.windows(2).any(|w| w[0] != w[1])
        };
        Row3 {
            label,
            redemption,
            disbursement,
            momo,
            differs,
        }
    };
    let mut rows = vec![
        Row3 {
            label: "Id / reference",
            redemption: r("id"),
            disbursement: d("id"),
            momo: text(momo, &["referenceId"]),
            differs: false,
        },
        row(
            "Amount",
            amount(r("amount"), r("currency")),
            amount(d("amount"), d("currency")),
            amount(
                if m("amountText").is_empty() {
                    m("amount")
                } else {
                    m("amountText")
                },
                m("currency"),
            ),
        ),
        Row3 {
            label: "Status",
            redemption: r("status"),
            disbursement: d("status"),
            momo: momo_status,
            differs: false,
        },
        row(
            "Phone",
            r("phoneNumber").trim_start_matches('+').to_owned(),
            d("msisdn"),
            m("msisdn"),
        ),
        row(
            "MoMo transaction",
            String::new(),
            d("momoTransactionId"),
            m("financialTransactionId"),
        ),
        Row3 {
            label: "When",
            redemption: when(ours, &["redemption", "createdAt"]),
            disbursement: when(ours, &["disbursement", "createdAt"]),
            momo: when(momo, &["occurredAt"]),
            differs: false,
        },
        Row3 {
            label: "Completed",
            redemption: when(ours, &["redemption", "completedAt"]),
            disbursement: when(ours, &["disbursement", "disbursedAt"]),
            momo: source,
            differs: false,
        },
    ];
    rows.push(Row3 {
        label: "Code / attempts",
        redemption: r("code"),
        disbursement: d("attempts"),
        momo: m("externalId"),
        differs: false,
    });
    rows
}

fn asked_text(q: &Value) -> String {
    match text(q, &["outcome"]).as_str() {
        "found" => {
            let t = &q["transfer"];
            let mut s = format!(
                "{} {} {}",
                text(t, &["status"]),
                text(t, &["amountText"]),
                text(t, &["currency"])
            );
            let f = text(t, &["financialTransactionId"]);
            if !f.is_empty() {
                s.push_str(&format!(" · {f}"));
            }
            s
        }
        "not_found" => "404 not found".to_owned(),
        "failed" => format!("error: {}", text(q, &["error"])),
        _ => "not asked".to_owned(),
    }
}

async fn render_item(
    state: &AppState,
    who: &Principal,
    id: Uuid,
    status: StatusCode,
    note: &str,
    error: Option<String>,
) -> Result<Response, AppError> {
    let mut conn = state.pool.acquire().await?;
    let item = views::item(&mut conn, id).await?;
    let kind = Kind::parse(&item.kind).unwrap_or(Kind::Match);
    let ours = item.ours.clone().unwrap_or(Value::Null);
    let theirs = item.theirs.clone().unwrap_or(Value::Null);
    let transfers = theirs["transfers"].as_array().cloned().unwrap_or_default();
    let attempts = ours["attempts"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    let reference = text(a, &["referenceId"]);
                    let t = transfers.iter().find(|t| text(t, &["referenceId"]) == reference);
                    AttemptView {
                        no: text(a, &["attemptNo"]),
                        status: text(a, &["status"]),
                        http: text(a, &["httpStatus"]),
                        momo_status: text(a, &["momoStatus"]),
                        ftid: text(a, &["financialTransactionId"]),
                        asked: t.map(|t| asked_text(&t["query"])).unwrap_or_default(),
                        statement: t
                            .and_then(|t| t["statementLines"].as_array())
                            .map(|ls| {
                                ls.iter()
                                    .map(|l| {
                                        format!(
                                            "line {}: {} {}",
                                            text(l, &["line"]),
                                            text(l, &["status"]),
                                            text(l, &["amountText"])
                                        )
                                    })
                                    .collect::<Vec<_>>()
                                    .join("; ")
                            })
                            .unwrap_or_default(),
                        created: when(a, &["createdAt"]),
                        reference,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let findings = item
        .findings
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| FindingView {
                    kind: Kind::parse(&text(f, &["kind"])).map_or("", Kind::label),
                    message: text(f, &["message"]),
                })
                .collect()
        })
        .unwrap_or_default();
    let page = ItemPage {
        shell: shell(state, who),
        id: item.id,
        run_id: item.run_id,
        kind: kind.label(),
        kind_key: item.kind.clone(),
        rows: three_way(&ours, &theirs["momo"]),
        findings,
        attempts,
        resolved: item.resolved_at.map(|at| {
            (
                local_display(at),
                item.resolved_by.clone().unwrap_or_default(),
                item.resolution.clone().unwrap_or_default(),
            )
        }),
        can_resolve: who.can(Permission::DisbursementsReconcile),
        resolvable: kind.is_discrepancy() && item.resolved_at.is_none() && item.run_status != "running",
        note: note.to_owned(),
        error,
    };
    html(status, &page)
}

pub(super) async fn item_page(
    State(state): State<AppState>,
    who: Principal,
    Path(id): Path<Uuid>,
) -> Result<Response, AppError> {
    render_item(&state, &who, id, StatusCode::OK, "", None).await
}

pub(super) async fn resolve(
    State(state): State<AppState>,
    who: Principal,
    acting: Acting,
    Path(id): Path<Uuid>,
    form: FormPairs,
) -> Result<Response, AppError> {
    let note = service::ResolveCmd::from(&form).note;
    let mut unit = state.unit().await?;
    match service::resolve(&mut unit, id, &note, &acting).await {
        Ok(()) => {
            unit.commit().await?;
            Ok(Redirect::to(&format!("{HOME}/items/{id}")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            drop(unit);
            let message = errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
            render_item(&state, &who, id, StatusCode::UNPROCESSABLE_ENTITY, &note, Some(message)).await
        }
        Err(AppError::Conflict { message, .. }) => {
            drop(unit);
            render_item(&state, &who, id, StatusCode::CONFLICT, &note, Some(message)).await
        }
        Err(e) => Err(e),
    }
}
