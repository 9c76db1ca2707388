//! The end-to-end tests: the whole daemon against the simulator, as one test binary.
//!
//! Each module is one area an operator meets (the binary's commands, `run` under signals, the
//! hub API, the jobs, crash loops, TLS, secrets, the shipped units and alert rules). They
//! share the workspace's one harness, `jira-sync-harness` (`tests/harness/`); see
//! `tests/README.md` for why this binary is a `[[test]]` target of `crates/daemon`.

mod api;
mod check_cli;
mod crash;
mod demo;
mod isolation;
mod jobs;
mod online;
mod ops;
mod refusals;
mod run;
mod secrets;
mod slots;
mod tls;
mod webhooks;

/// What every module takes from the harness.
mod harness {
    pub use jira_sync_harness::config_dir::{
        NEVER, copy_config, demo, demo_shaped, demo_sized, demo_with, edit, free_port,
        listen_on_free_port, private_repo_config, repo_config, schedule_all, set_mode,
        write_secret,
    };
    pub use jira_sync_harness::daemon::*;
    pub use jira_sync_harness::repo_root;
    pub use jira_sync_harness::world::{
        CONSENTED, all_issues, bot_site, consent, consent_to, consented_app, requests,
        write_requests,
    };
}
