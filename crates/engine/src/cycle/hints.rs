//! Hints: issues a webhook delivery named (issue 21). The next pulls of the connector read
//! them through `reconcileIssues`, whatever search says, at most `RECONCILE_MAX` a pull.

use std::collections::BTreeSet;

use jira_sync_config::ConnectorRef;

use super::Engine;

impl Engine {
    /// Names issues (ids) the next pull of `me` reads whatever search says: a webhook
    /// delivery's issue. A pull takes at most `RECONCILE_MAX` of them (the lowest ids) as
    /// `reconcileIssues`; the rest stay for the next pull ([`Engine::has_hints`] tells the
    /// caller to run again), so a burst of deliveries larger than one request is read in
    /// as many runs, none hidden by search lag.
    pub fn hint(&self, me: &ConnectorRef, ids: impl IntoIterator<Item = u64>) {
        let mut hints = self
            .hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hints.entry(me.clone()).or_default().extend(ids);
    }

    /// Every hinted id not yet pulled, taken (a reload hands them to the next engine).
    pub fn drain_hints(&self) -> Vec<(ConnectorRef, BTreeSet<u64>)> {
        let mut hints = self
            .hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::mem::take(&mut *hints).into_iter().collect()
    }

    /// Whether hinted ids of `me` wait for a pull (more than one pull takes).
    pub fn has_hints(&self, me: &ConnectorRef) -> bool {
        let hints = self
            .hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hints.get(me).is_some_and(|h| !h.is_empty())
    }

    /// At most `max` hinted ids of `me` (the lowest), taken; the rest stay.
    pub(super) fn take_hints(&self, me: &ConnectorRef, max: usize) -> BTreeSet<u64> {
        let mut hints = self
            .hints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(all) = hints.get_mut(me) else {
            return BTreeSet::new();
        };
        let taken = match all.iter().nth(max).copied() {
            Some(first_left) => {
                let rest = all.split_off(&first_left);
                std::mem::replace(all, rest)
            }
            None => std::mem::take(all),
        };
        if all.is_empty() {
            hints.remove(me);
        }
        taken
    }

    /// Gives hinted ids back to `me` (a pull that took them failed before reading them).
    pub(super) fn give_back_hints(&self, me: &ConnectorRef, ids: BTreeSet<u64>) {
        if !ids.is_empty() {
            self.hint(me, ids);
        }
    }
}
