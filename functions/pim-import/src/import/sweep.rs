//! The sweep: inbox files whose upload event was lost still get imported.

use super::{INBOX, ImportError, Importer};
use bridge_domain::ports::ImportStatus;
use chrono::{DateTime, Utc};

impl Importer {
    /// Queues an import for every inbox file older than the sweep age that has no running
    /// or finished import: files whose event was lost still get imported.
    pub async fn sweep(&self, now: DateTime<Utc>) -> Result<Vec<String>, ImportError> {
        let mut queued = Vec::new();
        for (key, modified) in self.ports.files.list(INBOX).await? {
            if key.ends_with('/')
                || (now - modified).num_seconds() < self.settings.sweep_min_age_seconds
            {
                continue;
            }
            let running = self.ports.ledger.get(&key).await?.is_some_and(|r| {
                r.status == ImportStatus::Running && r.lease_until >= now.timestamp()
            });
            if !running {
                self.continue_later(&key, 0).await?;
                queued.push(key);
            }
        }
        Ok(queued)
    }
}
