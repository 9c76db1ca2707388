//! The command line, as `../shared/DESIGN.md` lays it out.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keeps Jira Cloud sites in sync in both directions and watches their credentials.
///
/// Configuration: DIR/jira-sync.toml (daemon-wide) and one DIR/sites.d/NAME.toml per Jira
/// site. Any key can be overridden from the environment as JIRA_SYNC__KEY or
/// JIRA_SYNC__SITES__NAME__KEY (nested keys joined by `__`).
///
/// Exit status: 0 success, 1 runtime failure, 2 usage or configuration error.
#[derive(Debug, Parser)]
#[command(name = "jira-sync", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the configuration and print a summary of it.
    ///
    /// Reads DIR/jira-sync.toml and DIR/sites.d/*.toml, resolves every secret reference and
    /// checks every rule; all problems of all files are printed together on stderr. The
    /// systemd unit runs `jira-sync check --offline` before starting and before reloading.
    Check(CheckArgs),
}

/// Where the configuration lives.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Configuration directory holding jira-sync.toml and sites.d/.
    #[arg(long, value_name = "DIR", default_value = "/etc/jira-sync")]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Check the files only: no network requests (no cloud ID lookup, no token probe).
    #[arg(long)]
    pub offline: bool,
}
