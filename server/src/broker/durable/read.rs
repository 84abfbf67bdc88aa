//! Catch-up reads from the data dir, for cursors older than the hub's history.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use push_core::{Error, ErrorKind, Gap, MessageId, Result};

use super::Shared;
use crate::broker::catch_up::{LogRead, Read};
use crate::hub::Hub;
use crate::storage::record::Record;

/// Catch-up reads from the data dir.
pub(super) struct DiskRead(pub(super) Arc<Shared>);

impl LogRead for DiskRead {
    fn read(&self, _hub: Arc<Hub>, after: MessageId, until: MessageId, limit: usize) -> BoxFuture<'_, Result<Read>> {
        let shared = self.0.clone();
        Box::pin(async move {
            let entries = tokio::task::spawn_blocking(move || shared.log.read(after, until, limit.max(1)))
                .await
                .map_err(|e| Error::new(ErrorKind::Internal, format!("a log read panicked: {e}")))??;
            let cut = entries.len() >= limit.max(1) && entries.last().is_some_and(|(id, _)| *id < until);
            let mut read = Read { after, messages: Vec::with_capacity(entries.len()), first: None, last: None, lost: Vec::new(), cut };
            for (id, entry) in entries {
                read.first.get_or_insert(id);
                read.last = Some(id);
                match entry {
                    // Later copies of idempotency keys were never written.
                    Record::Message { message, .. } => read.messages.push(Arc::new(message)),
                    Record::Lost { from } => read.lost.push(Gap { from, to: id }),
                }
            }
            Ok(read)
        })
    }
}
