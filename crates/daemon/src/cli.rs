//! The command line, as `../shared/DESIGN.md` lays it out.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Keeps Jira Cloud sites in sync in both directions and watches their credentials.
///
/// Configuration: DIR/jira-sync.toml (daemon-wide) and one DIR/sites.d/NAME.toml per Jira
/// site. Any key can be overridden from the environment as JIRA_SYNC__KEY or
/// JIRA_SYNC__SITES__NAME__KEY (nested keys joined by `__`).
///
/// Environment: JIRA_SYNC_LOG holds log filter directives (`info`,
/// `info,jira_sync_engine=debug`); JIRA_SYNC_SHARD and JIRA_SYNC_SHARDS name a shard (see
/// `run --shard`); CREDENTIALS_DIRECTORY and STATE_DIRECTORY are systemd's.
///
/// Files: /etc/jira-sync/jira-sync.toml, /etc/jira-sync/sites.d/NAME.toml,
/// /etc/jira-sync/secrets/ (root:jira-sync 0640), /var/lib/jira-sync (state);
/// /usr/share/doc/jira-sync/ (README, RUNBOOK.md, examples/).
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
    /// Validate the configuration; online (the default), also resolve every site and probe
    /// every credential.
    ///
    /// Reads DIR/jira-sync.toml and DIR/sites.d/*.toml, resolves every secret reference and
    /// checks every rule; all problems of all files are printed together on stderr (exit 2).
    /// Without --offline it then resolves each site's cloud ID, probes each credential and
    /// prints one row per site; exit 0 when every site is usable, 1 otherwise. The systemd
    /// unit runs `jira-sync check --offline` before starting.
    Check(CheckArgs),
    /// Run the daemon: every connector on its schedule, credential health, metrics.
    ///
    /// Serves /metrics, /healthz, /readyz and /status on `listen`, tells systemd when it is
    /// ready (Type=notify) and pets its watchdog. SIGHUP reloads the configuration (an
    /// invalid one keeps the old running); SIGTERM or SIGINT let running cycles finish their
    /// page and commit (within `shutdown_grace`), then exit 0. Logs go to stderr in
    /// `log_format`; JIRA_SYNC_LOG sets the level (default info).
    Run(RunArgs),
    /// The simulator with two demo sites and the daemon syncing them, until Ctrl-C.
    ///
    /// Starts a simulated Jira Cloud in process (sites acme and globex, in different time
    /// zones, a few hundred issues, a few seconds of search lag), runs the daemon on the
    /// repository's config/ demo configuration with its state in a temporary directory, and
    /// prints where to look and a live summary. Writes nothing outside that directory.
    Demo(DemoArgs),
    /// Sites, credentials, connectors, last runs and backlog: from the running daemon's
    /// /status, or from the state database when the daemon is down.
    Status(StatusArgs),
    /// Run one sync cycle of a connector now and print what it did.
    ///
    /// Pulls what changed, merges it into the hub, pushes what the hub has that Jira lacks
    /// (creating mirrors of records from the connector's peers), and commits. Stop the daemon
    /// first: it holds the state database. Exit 1 when the cycle fails.
    Sync(SyncArgs),
    /// Print the minimal OAuth / API-token scopes each site needs for its connectors.
    ///
    /// Classic and granular forms, space-separated, ready to paste into Atlassian's token or
    /// app dialog. Pull-only connectors need no write scopes.
    Scopes(ScopesArgs),
    /// Print the webhook a site's Jira administrator registers (URL, events, JQL filter,
    /// secret), for sites with `webhooks = true`.
    ///
    /// Sites that are not `oauth2` receive an admin webhook: register it in Jira (Settings >
    /// System > WebHooks, or POST /rest/webhooks/1.0/webhook) with exactly these values and
    /// the secret `webhook_secret` names. `oauth2` sites need nothing: the daemon registers
    /// and refreshes their dynamic webhook itself. Exit 2 when the site has webhooks off.
    Webhooks(WebhooksArgs),
    /// OAuth 2.0 (3LO) consent for `oauth2` sites.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Maintenance of the state database.
    #[command(subcommand)]
    Store(StoreCommand),
    /// Print a shell completion script for SHELL on stdout.
    ///
    /// bash: `jira-sync completions bash > /usr/share/bash-completion/completions/jira-sync`;
    /// zsh: into a directory of $fpath as `_jira-sync`; fish: into
    /// ~/.config/fish/completions/jira-sync.fish. The Debian package installs all three.
    Completions(CompletionsArgs),
    /// Write the manual pages (roff): jira-sync(1) and one jira-sync-COMMAND(1) per
    /// command (jira-sync-auth-login(1) for nested ones) into DIR. The Debian package
    /// installs them.
    #[command(hide = true)]
    Manpage(ManpageArgs),
}

#[derive(Debug, Args)]
pub struct ManpageArgs {
    /// The directory to write NAME.1 files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Re-derive hub records and links from the sites after the state database was lost.
    ///
    /// Reads every connector's issues with their `jira-sync` property (each issue jira-sync
    /// created names its record and the issues it mirrors) and the markers on mirrored
    /// comments, and stores the records and links. Refuses a database that already holds
    /// records. Every site must be reachable: a partial rebuild would let the next cycle
    /// mirror issues a second time. OAuth refresh tokens cannot be re-derived: run
    /// `jira-sync auth login` for `oauth2` sites first. Stop the daemon first.
    Rebuild(ConfigArgs),
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
    /// Show each site's shard out of N (as `run --shard I/N` places mirror groups; at most
    /// 1024). Default: JIRA_SYNC_SHARDS, else 1.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: Option<u32>,
    /// Print one JSON document on stdout instead of text: `valid`, the configuration
    /// problems or the daemon and its sites, and, online, each site's probe.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run only the mirror groups of shard I of N (0-based), e.g. 0/3, on `listen`'s port +
    /// I (several shards on one host). Without it, JIRA_SYNC_SHARD (I, or a pod name ending
    /// in -I) and JIRA_SYNC_SHARDS (N) name the shard, on `listen`'s port itself (one shard
    /// per pod, as a Kubernetes StatefulSet runs them).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<jira_sync_jobs::Shard>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Address of /metrics and /status.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9464")]
    pub listen: String,
    /// Play a person editing, commenting and moving issues on both sites every few seconds.
    #[arg(long)]
    pub play: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print JSON (the same as the daemon's /status).
    #[arg(long)]
    pub json: bool,
    /// The status of shard I of N (`run --shard I/N`): its endpoint and its database.
    /// Without it, JIRA_SYNC_SHARD and JIRA_SYNC_SHARDS name the shard as for `run`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<jira_sync_jobs::Shard>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The connector, as SITE/CONNECTOR.
    pub connector: String,
}

#[derive(Debug, Args)]
pub struct ScopesArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Only this site.
    pub site: Option<String>,
}

#[derive(Debug, Args)]
pub struct WebhooksArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The site (its name in sites.d).
    pub site: String,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Consent in a browser and store the site's rotating refresh token in the token vault.
    ///
    /// Prints an authorize URL to open in a browser, receives the callback on a loopback
    /// port (register http://ADDR/callback as the app's callback URL in the developer
    /// console), exchanges the code, stores the refresh token under state_dir and prints the
    /// sites the grant reaches. Stop the daemon first: it holds the state database.
    Login(LoginArgs),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The `oauth2` site to log in to.
    pub site: String,
    /// Loopback address of the callback; the app's callback URL is http://ADDR/callback.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8976")]
    pub listen: SocketAddr,
    /// How long to wait for the browser, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub timeout: u64,
}
