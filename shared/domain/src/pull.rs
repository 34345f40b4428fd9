//! The delta pull (contract section 5): what the ERP's changes endpoint answers, what the
//! pull remembers between runs, and the ports for both.

use crate::error::PortError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// One change as the ERP lists it: a webhook event's `type` and `data`, `data` kept as JSON
/// text (the domain knows no wire format; the intake's parser validates it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledChange {
    pub event_type: String,
    pub data_json: String,
}

/// One page of `GET /changes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangesPage {
    pub changes: Vec<PulledChange>,
    pub next_cursor: String,
    pub has_more: bool,
}

/// What can go wrong asking the ERP for changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangesError {
    /// 429: the ERP asks to wait (`Retry-After`, when it said how long).
    #[error("the ERP throttles the pull (retry after {retry_after:?})")]
    Throttled { retry_after: Option<Duration> },
    /// 5xx, timeouts, refused connections: nothing was consumed, ask again later.
    #[error("the ERP is unavailable: {0}")]
    Transient(String),
    /// 4xx other than 429, or an answer that is not the contract's: asking again will not
    /// help (a wrong token, a cursor the ERP no longer knows).
    #[error("the ERP refused the pull: {0}")]
    Refused(String),
}

impl ChangesError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::Refused(_))
    }
}

/// The ERP's changes endpoint.
#[async_trait]
pub trait ErpChanges: Send + Sync {
    /// The changes after `since` (`None`: from the beginning), of `types`, at most `limit`.
    async fn changes(
        &self,
        since: Option<&str>,
        types: &[String],
        limit: u32,
    ) -> Result<ChangesPage, ChangesError>;
}

/// What the pull keeps between runs. The cursor is the last one whose page is durably
/// enqueued: a failed run leaves it where the last good page ended.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct PullState {
    pub name: String,
    /// Absent, not null, before the first page: the store's condition tests for absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// When the cursor last moved to a new value.
    pub cursor_moved_at: Option<DateTime<Utc>>,
    /// When a run last reached the end of the ERP's changes (`has_more: false`).
    pub caught_up_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// `caught_up`, `partial` (budget used up, more to come), `throttled`, `failed`.
    pub last_run_status: Option<String>,
    pub last_run_changes: u64,
    pub last_run_pages: u64,
    pub last_error: Option<String>,
    pub total_changes: u64,
}

impl PullState {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            ..Self::default()
        }
    }

    /// How far the shop may be behind the ERP: time since the pull last caught up.
    pub fn lag(&self, now: DateTime<Utc>) -> Option<chrono::Duration> {
        self.caught_up_at.map(|at| now - at)
    }
}

/// Where the pull keeps its state.
#[async_trait]
pub trait PullStateStore: Send + Sync {
    async fn load(&self, name: &str) -> Result<Option<PullState>, PortError>;
    /// Saves `state` if the stored cursor is still `expected_cursor` (`None`: no cursor
    /// stored yet); `false` when another run moved it meanwhile.
    async fn save(
        &self,
        state: &PullState,
        expected_cursor: Option<&str>,
    ) -> Result<bool, PortError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_is_time_since_caught_up() {
        let now = Utc::now();
        let mut state = PullState::new("erp");
        assert_eq!(state.lag(now), None);
        state.caught_up_at = Some(now - chrono::Duration::minutes(90));
        assert_eq!(state.lag(now), Some(chrono::Duration::minutes(90)));
    }

    #[test]
    fn only_refusals_are_permanent() {
        assert!(ChangesError::Throttled { retry_after: None }.is_retryable());
        assert!(ChangesError::Transient("503".into()).is_retryable());
        assert!(!ChangesError::Refused("401".into()).is_retryable());
    }
}
