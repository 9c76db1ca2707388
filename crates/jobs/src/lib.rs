//! The jobs of the jira-sync daemon: scheduled sync, census and token-health runs on
//! tokio-cron-scheduler, with single-flight runs, timeouts, tracked tasks, credential
//! gating, reload and sharding by mirror group.

mod daemon; // Daemon: the scheduler, the jobs and their guards.
pub mod groups; // Mirror groups and rendezvous sharding.
pub mod probe; // One site's credential verdict.

pub use daemon::{
    ConnectorView, Daemon, DaemonError, Options, SiteView, Status, WEBHOOK_EVENTS, WebhookState,
    admin_webhook_name, registers_webhook, run_status, stored_status, webhook_filter,
};
pub use groups::{Shard, groups, shard_of};
pub use probe::{Verdict, probe_site};
