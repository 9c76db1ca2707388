//! Durable writes without sled's `flush_async`.
//!
//! sled 0.34's `flush_async` runs the flush as a task on sled's IO thread pool, and the flush
//! waits for log-buffer writes that are queued on the same pool. The pool only grows when
//! more than seven tasks wait, so seven flushes at once take every thread and the writes they
//! wait for never run: the daemon hung this way with 40 connectors committing every 2 s
//! (`tests/flush.rs` reproduces it). Here a flush runs on one of tokio's blocking threads,
//! one at a time, and covers every write made before it started: the writes that waited
//! while it ran share the next one (group commit).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;

#[derive(Debug, Clone)]
pub(crate) struct Durable {
    db: sled::Db,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Tickets taken, one per caller, each after its write.
    tickets: AtomicU64,
    /// The highest ticket whose write is on disk; held while a flush runs.
    flushed: tokio::sync::Mutex<u64>,
}

impl Durable {
    pub(crate) fn new(db: sled::Db) -> Self {
        Durable {
            db,
            shared: Arc::default(),
        }
    }

    /// Returns once every write the caller made before calling is on disk.
    pub(crate) async fn flush(&self) -> Result<(), StoreError> {
        let mine = self.shared.tickets.fetch_add(1, Ordering::SeqCst) + 1;
        let mut flushed = self.shared.flushed.lock().await;
        if *flushed >= mine {
            // A flush that started after this caller's write has finished.
            return Ok(());
        }
        // Every ticket up to here was taken after its write, and the flush starts now.
        let upto = self.shared.tickets.load(Ordering::SeqCst);
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || db.flush())
            .await
            .map_err(|e| StoreError::Db(sled::Error::Io(std::io::Error::other(e))))??;
        *flushed = upto;
        Ok(())
    }
}
