//! The apply pass: the file read again from where the last run stopped, the rows the sku
//! index lets through written in batches (only those whose content hash changed), and
//! deletion records deactivating their products.

use super::Importer;
use super::checkpoint::Checkpoint;
use super::run::{Budget, ImportRun, Pass, Stop};
use super::scan::index_error;
use crate::content;
use crate::formats::{Checked, Outcome, Pending, ReadError};
use crate::index::SkuIndex;
use crate::report::Counts;
use bridge_domain::ports::StoredProduct;
use bridge_domain::{PortError, Sku};
use chrono::Utc;

impl Importer {
    pub(super) async fn apply(
        &self,
        run: &ImportRun,
        checkpoint: &mut Checkpoint,
        index: SkuIndex,
        budget: &mut Budget,
    ) -> (Result<Pass, Stop>, Option<SkuIndex>) {
        let importer = self.clone_parts();
        let mut state = std::mem::replace(checkpoint, Checkpoint::new(Utc::now()));
        let mut bud = Budget {
            deadline: budget.deadline,
            max_records: budget.max_records,
            records: budget.records,
        };
        let run = run.clone();
        let handle = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let result = importer.apply_blocking(&handle, &run, &mut state, &index, &mut bud);
            (result, state, index, bud)
        })
        .await;
        match joined {
            Ok((result, state, index, bud)) => {
                *checkpoint = state;
                budget.records = bud.records;
                (result, Some(index))
            }
            Err(e) => (
                Err(Stop::Port(PortError::retryable(
                    "import.apply",
                    format!("the apply task failed: {e}"),
                ))),
                None,
            ),
        }
    }

    fn apply_blocking(
        &self,
        handle: &tokio::runtime::Handle,
        run: &ImportRun,
        checkpoint: &mut Checkpoint,
        index: &SkuIndex,
        budget: &mut Budget,
    ) -> Result<Pass, Stop> {
        const BATCH: usize = 100;
        let import_id = run.record.import_id.as_str();
        let mut applying = index.applying().map_err(index_error)?;
        let mut source = self.reopen(run, checkpoint.records_done)?;
        let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
        let mut deletions: Vec<Sku> = Vec::new();
        // Records read but not yet written: the checkpoint only moves past written ones.
        let mut pending_records = 0u64;
        loop {
            let spent = budget.spent();
            let next = if spent { None } else { source.next_checked() };
            let finished = next.is_none();
            if let Some(next) = next {
                pending_records += 1;
                budget.records += 1;
                let ordinal = checkpoint.records_done + pending_records;
                match next {
                    // The scan read this file whole: a failure now is the stream's, retry.
                    Err(ReadError::File(reason) | ReadError::Io(reason)) => {
                        return Err(Stop::Port(PortError::retryable("import.read", reason)));
                    }
                    Err(ReadError::Record(_)) => {}
                    Ok(Checked { line, outcome }) => match outcome {
                        Outcome::Rejected(_) => {}
                        Outcome::Deletion(sku) => {
                            if applying.applies(ordinal).map_err(index_error)? {
                                deletions.push(sku);
                            }
                        }
                        Outcome::Valid(valid) => {
                            if applying.applies(ordinal).map_err(index_error)? {
                                batch.push(valid.into_pending(line));
                            }
                        }
                    },
                }
            }
            if batch.len() + deletions.len() >= BATCH || finished {
                handle.block_on(self.write_changed(
                    &mut batch,
                    import_id,
                    &mut checkpoint.tally.counts,
                ))?;
                if !deletions.is_empty() {
                    checkpoint.tally.counts.deactivated +=
                        handle.block_on(self.ports.catalog.deactivate(&deletions, import_id))?;
                    deletions.clear();
                }
                checkpoint.records_done += pending_records;
                pending_records = 0;
            }
            if finished {
                return Ok(if spent { Pass::Paused } else { Pass::Done });
            }
        }
    }

    /// Writes the products of `batch` whose content changed (building only those); counts
    /// all of them.
    async fn write_changed(
        &self,
        batch: &mut Vec<Pending>,
        import_id: &str,
        counts: &mut Counts,
    ) -> Result<(), PortError> {
        if batch.is_empty() {
            return Ok(());
        }
        let skus: Vec<Sku> = batch.iter().map(|p| p.sku.clone()).collect();
        let stored = self.ports.catalog.content_hashes(&skus).await?;
        let now = Utc::now();
        let mut writes = Vec::new();
        for pending in batch.drain(..) {
            let hash = content::hash_text(pending.digest);
            let existing = stored.get(&pending.sku);
            if existing == Some(&hash) {
                counts.unchanged += 1;
                continue;
            }
            let line = pending.line;
            let product = pending.into_product().map_err(|problems| {
                PortError::permanent(
                    "import.apply",
                    format!(
                        "line {line} passed the quality rules in the scan but not when applied: {problems:?}"
                    ),
                )
            })?;
            if existing.is_some() {
                counts.updated += 1;
            } else {
                counts.created += 1;
            }
            writes.push(StoredProduct {
                product,
                content_hash: hash,
                import_id: import_id.to_string(),
                updated_at: now,
            });
        }
        self.ports.catalog.put_products(&writes).await
    }
}
