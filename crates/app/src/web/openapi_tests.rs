//! Tests of the document: operation ids, links, schema names, media types.

use super::*;
use serde_json::Value;

/// The schema `pointer` (a response body's JSON pointer) leads to inside `schema`, following
/// `$ref`s into the components, `properties` for names and `items` for array indexes.
fn schema_at<'a>(doc: &'a Value, mut schema: &'a Value, pointer: &str) -> Option<&'a Value> {
    let resolve = |s: &'a Value| match s["$ref"].as_str() {
        Some(r) => doc.pointer(&r.replacen('#', "", 1)),
        None => Some(s),
    };
    for step in pointer.split('/').filter(|s| !s.is_empty()) {
        schema = resolve(schema)?;
        schema = if step.parse::<usize>().is_ok() {
            schema.get("items")?
        } else {
            schema.get("properties")?.get(step)?
        };
    }
    resolve(schema)
}

#[test]
fn links_lead_to_operations_and_parameters_of_the_document() {
    let doc = serde_json::to_value(&*DOCUMENT).unwrap();
    let mut operations: BTreeMap<String, &Value> = BTreeMap::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            operations.insert(op["operationId"].as_str().unwrap().to_owned(), op);
        }
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for (from, op) in &operations {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(links) = response["links"].as_object() else {
                continue;
            };
            for (name, link) in links {
                let to = link["operationId"].as_str().unwrap();
                let target = operations
                    .get(to)
                    .unwrap_or_else(|| panic!("{from} {status} link {name}: no operation {to}"));
                for (param, value) in link["parameters"].as_object().unwrap() {
                    let param = param.rsplit('.').next().unwrap();
                    assert!(
                        target["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == param),
                        "{from} {status} link {name}: {to} has no parameter {param}"
                    );
                    let pointer = value
                        .as_str()
                        .and_then(|v| v.strip_prefix("$response.body#"))
                        .unwrap_or_else(|| panic!("{from} link {name}: {value} is not a body expression"));
                    let body = response["content"]["application/json"]["schema"].clone();
                    assert!(
                        schema_at(&doc, &body, pointer).is_some(),
                        "{from} {status} link {name}: the answer has nothing at {pointer}"
                    );
                }
                found.push((from.clone(), to.to_owned()));
            }
        }
    }
    for (from, to) in [
        ("postAdminBatches", "getAdminBatchesId"),
        ("postAdminBatches", "getAdminBatchesIdStats"),
        ("postAdminBatches", "putAdminBatchesIdStatus"),
        ("postAdminBatches", "getAdminPromoCodes"),
        ("getAdminPromoCodes", "getAdminPromoCodesId"),
        ("getAdminPromoCodes", "putAdminPromoCodesIdStatus"),
    ] {
        assert!(
            found.contains(&(from.to_owned(), to.to_owned())),
            "no link {from} → {to}: {found:?}"
        );
    }
}

#[test]
fn no_two_schemas_share_a_name() {
    let mut seen: BTreeMap<String, Value> = BTreeMap::new();
    for spec in super::super::all_routes() {
        let Some(doc) = &spec.doc else { continue };
        for (name, schema) in &doc.schemas {
            let schema = serde_json::to_value(schema).unwrap();
            if let Some(other) = seen.insert(name.clone(), schema.clone()) {
                assert_eq!(
                    other, schema,
                    "two types are called {name} in the document ({})",
                    spec.path
                );
            }
        }
    }
}

#[test]
fn a_file_in_two_media_types_is_one_answer_and_an_upload_reads_two() {
    let doc = serde_json::to_value(&*DOCUMENT).unwrap();
    let export = &doc["paths"]["/api/v1/admin/promo-codes/export"]["get"]["responses"]["200"]["content"];
    assert!(
        export["text/csv"].is_object() && export["application/pdf"].is_object(),
        "{export}"
    );
    let upload = &doc["paths"]["/api/v1/admin/promo-codes/import"]["post"]["requestBody"]["content"];
    assert!(
        upload["multipart/form-data"].is_object() && upload["text/csv"].is_object(),
        "{upload}"
    );
}

#[test]
fn operation_ids_and_tags_come_from_the_path() {
    assert_eq!(
        operation_id(&Method::GET, "/api/v1/admin/promo-codes/{id}"),
        "getAdminPromoCodesId"
    );
    assert_eq!(
        operation_id(&Method::GET, "/api/v1/admin/disbursements/reconcile/{id}/export.csv"),
        "getAdminDisbursementsReconcileIdExportCsv"
    );
    assert_eq!(tag("/api/v1/admin/promo-codes/{id}"), "promo-codes");
    assert_eq!(tag("/api/v1/auth/login"), "auth");
    assert_eq!(tag("/api/v1/webhooks/ussd/status"), "webhooks");
}
