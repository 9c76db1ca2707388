//! Decoding of Jira's answers that is more than serde: error collections and bulk-create
//! results. Malformed answers are errors, never panics (`fuzz/` drives these with arbitrary
//! bytes).

use serde_json::Value;

use crate::{BulkCreated, ClientError, Created, ElementError};

/// Jira's `ErrorCollection` (`errorMessages`, `errors`); anything else reads as empty.
pub fn jira_messages(body: &[u8]) -> (Vec<String>, Vec<(String, String)>) {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return (Vec::new(), Vec::new());
    };
    collection(&v)
}

fn collection(v: &Value) -> (Vec<String>, Vec<(String, String)>) {
    let messages = v["errorMessages"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| m.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let errors = v["errors"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, m)| {
                    (
                        k.clone(),
                        m.as_str().map_or_else(|| m.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    (messages, errors)
}

fn malformed(detail: impl Into<String>) -> ClientError {
    ClientError::Decode {
        endpoint: "/rest/api/3/issue/bulk".into(),
        status: 200,
        detail: detail.into(),
    }
}

/// The answer to a bulk create of `sent` elements: created issues by the index of their
/// element (in request order, skipping the failed ones) and each refused element. An
/// answer that names elements that were not sent, or more issues than were asked for, is a
/// decode error.
pub fn bulk_answer(v: &Value, sent: usize) -> Result<BulkCreated, ClientError> {
    let issues: Vec<Created> = match &v["issues"] {
        Value::Null => Vec::new(),
        other => {
            serde_json::from_value(other.clone()).map_err(|e| malformed(format!("issues: {e}")))?
        }
    };
    let mut out = BulkCreated::default();
    let errors = v["errors"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut failed = Vec::new();
    for e in errors {
        let index = e["failedElementNumber"]
            .as_u64()
            .map(|n| n as usize)
            .filter(|n| *n < sent)
            .ok_or_else(|| malformed("a failed element that was not sent"))?;
        let (messages, errors) = collection(&e["elementErrors"]);
        failed.push(index);
        out.failed.push(ElementError {
            index,
            status: e["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(400),
            messages,
            errors,
        });
    }
    if issues.len() + failed.len() > sent {
        return Err(malformed(format!(
            "{} issues and {} failures for {sent} elements",
            issues.len(),
            failed.len()
        )));
    }
    let mut created = issues.into_iter();
    for i in (0..sent).filter(|i| !failed.contains(i)) {
        if let Some(c) = created.next() {
            out.created.push((i, c));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_bulk_answer_maps_issues_to_their_elements_around_the_failures() {
        let v = json!({
            "issues": [{ "id": "1", "key": "A-1" }, { "id": "3", "key": "A-3" }],
            "errors": [{ "failedElementNumber": 1, "status": 400,
                         "elementErrors": { "errors": { "summary": "required" } } }]
        });
        let a = bulk_answer(&v, 3).unwrap();
        assert_eq!(
            a.created
                .iter()
                .map(|(i, c)| (*i, c.key.as_str()))
                .collect::<Vec<_>>(),
            [(0, "A-1"), (2, "A-3")]
        );
        assert_eq!(a.failed[0].index, 1);
        assert_eq!(
            a.failed[0].errors,
            [("summary".to_owned(), "required".to_owned())]
        );
    }

    #[test]
    fn a_malformed_bulk_answer_is_a_decode_error_not_a_panic() {
        for v in [
            json!({ "errors": [{ "failedElementNumber": 7 }] }),
            json!({ "errors": [{ "failedElementNumber": -1 }] }),
            json!({ "errors": [{}] }),
            json!({ "issues": [{ "id": "1", "key": "A-1" }, { "id": "2", "key": "A-2" }] }),
            json!({ "issues": "nope" }),
        ] {
            assert!(
                matches!(bulk_answer(&v, 1), Err(ClientError::Decode { .. })),
                "{v}"
            );
        }
        assert_eq!(bulk_answer(&json!([]), 0).unwrap(), BulkCreated::default());
        assert_eq!(jira_messages(b"<html>"), (vec![], vec![]));
    }
}
