//! S3 event notifications as SQS message bodies: which objects they name. Shared by the
//! functions that S3 triggers through a queue (the PIM import, reconciliation).

use serde_json::Value;

/// S3 event keys are form-encoded (`+` for space, `%XX`).
pub fn decode_s3_key(key: &str) -> String {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An object an S3 notification reports as created: its key (decoded) and, in a versioned
/// bucket, the version that was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub key: String,
    pub version: Option<String>,
}

/// The object keys a queue message names: an S3 notification, or an operator's request
/// `{"<request_field>": "<key>"}` (a continuation, a manual re-run). Anything else is a
/// permanent `invalid_message`.
pub fn keys_of_message(
    body: &str,
    request_field: &str,
) -> Result<Vec<String>, crate::MessageError> {
    Ok(objects_of_message(body, request_field)?
        .into_iter()
        .map(|o| o.key)
        .collect())
}

/// As [`keys_of_message`], with the version each notification names (a request names
/// none: the current version).
pub fn objects_of_message(
    body: &str,
    request_field: &str,
) -> Result<Vec<CreatedObject>, crate::MessageError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|e| crate::MessageError::permanent("invalid_message", format!("not JSON: {e}")))?;
    if let Some(key) = value.get(request_field).and_then(Value::as_str) {
        return Ok(vec![CreatedObject {
            key: key.to_string(),
            version: None,
        }]);
    }
    created_objects(&value).ok_or_else(|| {
        crate::MessageError::permanent(
            "invalid_message",
            format!("neither an S3 notification nor a request {{\"{request_field}\": key}}"),
        )
    })
}

/// The keys of the objects an S3 notification reports as created (decoded), or `None` if
/// `message` is not an S3 notification. S3's `s3:TestEvent` names no object.
pub fn created_keys(message: &Value) -> Option<Vec<String>> {
    Some(
        created_objects(message)?
            .into_iter()
            .map(|o| o.key)
            .collect(),
    )
}

/// The objects (key and version) an S3 notification reports as created, or `None` if
/// `message` is not an S3 notification.
pub fn created_objects(message: &Value) -> Option<Vec<CreatedObject>> {
    if message.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Some(Vec::new());
    }
    let records = message.get("Records")?.as_array()?;
    Some(
        records
            .iter()
            .filter(|r| {
                r["eventName"]
                    .as_str()
                    .is_none_or(|n| n.starts_with("ObjectCreated"))
            })
            .filter_map(|r| {
                let key = r.pointer("/s3/object/key").and_then(Value::as_str)?;
                Some(CreatedObject {
                    key: decode_s3_key(key),
                    version: r
                        .pointer("/s3/object/versionId")
                        .and_then(Value::as_str)
                        .filter(|v| !v.is_empty() && *v != "null")
                        .map(str::to_string),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn s3_keys_are_form_decoded() {
        assert_eq!(
            decode_s3_key("pim%2Finbox%2Fmy+file%C3%A4.csv"),
            "pim/inbox/my fileä.csv"
        );
        assert_eq!(decode_s3_key("a%zz"), "a%zz");
    }

    #[test]
    fn created_objects_test_events_and_other_messages() {
        let s3 = json!({"Records": [
            {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "erp%2Fsnapshots%2Fstock-1.csv"}}},
            {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "gone.csv"}}}
        ]});
        assert_eq!(
            created_keys(&s3).unwrap(),
            vec!["erp/snapshots/stock-1.csv"]
        );
        assert_eq!(
            created_keys(&json!({"Event": "s3:TestEvent"})).unwrap(),
            Vec::<String>::new()
        );
        assert!(created_keys(&json!({"import": "x"})).is_none());
        let versioned = json!({"Records": [{"eventName": "ObjectCreated:Put",
            "s3": {"object": {"key": "logistics%2Finbox%2Fdn.xml", "versionId": "v-2"}}}]});
        assert_eq!(
            created_objects(&versioned).unwrap(),
            vec![CreatedObject {
                key: "logistics/inbox/dn.xml".into(),
                version: Some("v-2".into())
            }]
        );
        assert_eq!(
            objects_of_message(r#"{"document": "logistics/inbox/a.xml"}"#, "document").unwrap()[0]
                .version,
            None
        );
        assert!(created_keys(&json!([])).is_none());
    }
}
