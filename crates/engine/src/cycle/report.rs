//! What a run did: counts and lists for `sync`'s lines, metrics and `/status`.

use std::collections::BTreeMap;

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub pulled: usize,
    pub created: usize,
    pub updated: usize,
    pub transitioned: usize,
    pub commented: usize,
    pub conflicts: usize,
    /// (record or issue, reason): writes that failed and wait for a change.
    pub parked: Vec<(String, String)>,
    /// Statuses no transition from the current one reaches.
    pub unreachable: Vec<(String, String)>,
    /// Creates of an interrupted run waiting for search to say whether they landed.
    pub deferred: usize,
    /// (issue, error): writes that failed for a transient reason; the next cycle retries.
    pub failed: Vec<(String, String)>,
    /// Records whose refused write waits for a change of the record or the configuration.
    pub waiting: usize,
    /// Assignees and reporters left unset: the person has no visible email, or no account
    /// on this site shows it.
    pub unmapped_people: usize,
    /// (issue key, why): issues the census found deleted, moved or out of the JQL; their
    /// records are marked gone and no longer written anywhere.
    pub gone: Vec<(String, String)>,
    /// Restricted comments (a role or group, or internal notes) not written to this
    /// connector's issues because it says `comments = "public"`, or removed from them when
    /// their source restricted them.
    pub comments_restricted: usize,
    /// Issues deleted because the issue they mirror was deleted (`propagate_deletes`).
    pub deleted: Vec<String>,
    /// Records whose create this connector refused as a whole, parked now (new or
    /// waiting), by reason label.
    pub parked_records: BTreeMap<String, usize>,
    /// Everything parked on this connector after the run, by reason (the `reason` label
    /// of `jira_sync_parked_writes`): parked fields of its issues and refused records.
    pub parked_now: BTreeMap<String, usize>,
    /// Attachments copied to this connector's issues or removed from them
    /// (`attachments = true`).
    pub files: usize,
    /// Attachments not copied here because they are larger than `max_attachment_size`.
    pub files_too_large: usize,
    /// Records the push looked at: those changed since the connector last looked, its
    /// retry set, and in a full reconcile every record in scope. An idle run looks at none.
    pub looked_at: usize,
    /// Whether this run's push was a full reconcile (every record in scope, changed or
    /// not: daily, after a change of configuration, and the first time).
    pub reconciled: bool,
    /// Records a full reconcile wrote although no change had named them (a person who has
    /// an account now, a lost mark): what incremental pushes had missed.
    pub repaired: usize,
}
