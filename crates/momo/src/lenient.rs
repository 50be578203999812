//! Deserialisers that accept what MoMo plausibly sends instead of rejecting the whole body: the
//! swagger examples show numbers where the schema says strings, and `reason` comes as a string,
//! an object, `{}` or nothing (A6, A16.5). A status body we cannot read is a payout we cannot settle.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::types::Reason;

/// A string, number or boolean as its text; null or absent as `None`.
pub(crate) fn opt_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Value>::deserialize(deserializer)?.and_then(text))
}

/// Like [`opt_string`], with null or absent as the empty string.
pub(crate) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(opt_string(deserializer)?.unwrap_or_default())
}

/// A whole number sent as a number or as its text (`3600` or `"3600"`).
pub(crate) fn u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let text = string(deserializer)?;
    text.parse()
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a whole number")))
}

/// `"NOT_ENOUGH_FUNDS"`, `{"code":"NOT_ENOUGH_FUNDS","message":"…"}`, `{}`, null or absent.
pub(crate) fn reason<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Reason>, D::Error> {
    let Some(value) = Option::<Value>::deserialize(deserializer)? else {
        return Ok(None);
    };
    Ok(match value {
        Value::Object(mut fields) => {
            let code = fields.remove("code").and_then(text).filter(|code| !code.is_empty());
            code.map(|code| Reason {
                code,
                message: fields.remove("message").and_then(text),
            })
        }
        other => text(other)
            .filter(|code| !code.is_empty())
            .map(|code| Reason { code, message: None }),
    })
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}
