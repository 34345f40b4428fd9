//! `GET {ERP_BASE_URL}/changes` (contract section 5) with a bearer token.

use async_trait::async_trait;
use bridge_domain::pull::{ChangesError, ChangesPage, ErpChanges, PulledChange};
use bridge_http::{ApiClient, retry_after};
use serde_json::Value;
use std::time::Duration;

pub struct HttpChanges {
    api: ApiClient,
}

impl HttpChanges {
    pub fn new(base_url: &str, token: &str, timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            api: ApiClient::new(base_url, token, timeout)?,
        })
    }
}

/// Reads the page, refusing anything that is not the contract's shape: a page the pull
/// misread would move the cursor past changes it never applied.
pub fn parse_page(body: &Value) -> Result<ChangesPage, ChangesError> {
    let refused = |what: &str| ChangesError::Refused(format!("the changes page {what}"));
    let changes = body
        .get("changes")
        .and_then(Value::as_array)
        .ok_or_else(|| refused("has no `changes` array"))?
        .iter()
        .enumerate()
        .map(|(i, change)| {
            let event_type = change
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| refused(&format!("has no `type` at /changes/{i}")))?;
            let data = change
                .get("data")
                .ok_or_else(|| refused(&format!("has no `data` at /changes/{i}")))?;
            Ok(PulledChange {
                event_type: event_type.to_string(),
                data_json: data.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = body
        .get("next_cursor")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| refused("has no `next_cursor`"))?;
    let has_more = body
        .get("has_more")
        .and_then(Value::as_bool)
        .ok_or_else(|| refused("has no boolean `has_more`"))?;
    Ok(ChangesPage {
        changes,
        next_cursor: next_cursor.to_string(),
        has_more,
    })
}

#[async_trait]
impl ErpChanges for HttpChanges {
    async fn changes(
        &self,
        since: Option<&str>,
        types: &[String],
        limit: u32,
    ) -> Result<ChangesPage, ChangesError> {
        let mut query = vec![("types", types.join(",")), ("limit", limit.to_string())];
        if let Some(cursor) = since {
            query.push(("since", cursor.to_string()));
        }
        let response = self
            .api
            .get("/changes")
            .query(&query)
            .send()
            .await
            .map_err(|e| ChangesError::Transient(e.to_string()))?;
        let status = response.status().as_u16();
        match status {
            200 => {
                let body: Value = response
                    .json()
                    .await
                    .map_err(|e| ChangesError::Transient(format!("reading the page: {e}")))?;
                parse_page(&body)
            }
            429 => Err(ChangesError::Throttled {
                retry_after: retry_after(&response),
            }),
            500..=599 => Err(ChangesError::Transient(format!("HTTP {status}"))),
            _ => {
                let text = response.text().await.unwrap_or_default();
                Err(ChangesError::Refused(format!(
                    "HTTP {status}: {}",
                    text.chars().take(300).collect::<String>()
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_keeps_each_change_data_as_sent() {
        let page = parse_page(&json!({
            "changes": [{"type": "stock.changed", "data": {"sku": "A", "available": "1.50"}}],
            "next_cursor": "c-9", "has_more": true
        }))
        .unwrap();
        assert_eq!(page.changes[0].event_type, "stock.changed");
        assert!(page.changes[0].data_json.contains("\"1.50\""));
        assert_eq!(page.next_cursor, "c-9");
        assert!(page.has_more);
    }

    #[test]
    fn a_page_without_cursor_or_has_more_is_refused() {
        for body in [
            json!({"changes": [], "has_more": false}),
            json!({"changes": [], "next_cursor": "c-1"}),
            json!({"next_cursor": "c-1", "has_more": false}),
            json!({"changes": [{"data": {}}], "next_cursor": "c-1", "has_more": false}),
        ] {
            assert!(
                matches!(parse_page(&body), Err(ChangesError::Refused(_))),
                "{body}"
            );
        }
    }
}
