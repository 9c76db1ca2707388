//! `jira-sync`: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

mod api;
mod check;
mod cli;
mod demo;
mod login;
mod online;
mod run;
mod scopes;
mod sites;
mod status;
mod store;
mod sync;

/// Exit status for runtime failures.
pub const EXIT_FAILURE: u8 = 1;
/// Exit status for usage and configuration errors.
pub const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    // Everything jira-sync writes (the state database, the token vault) is its owner's only.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check(args) => check::run(&args),
        cli::Command::Scopes(args) => scopes::run(&args),
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Status(args) => status::run(&args),
        cli::Command::Sync(args) => sync::run(&args),
        cli::Command::Auth(cli::AuthCommand::Login(args)) => login::run(&args),
        cli::Command::Store(cli::StoreCommand::Rebuild(args)) => store::rebuild(&args),
    }
}

/// Loads the configuration, printing every problem on failure.
pub fn load(dir: &std::path::Path) -> Result<jira_sync_config::Config, ExitCode> {
    jira_sync_config::load(dir).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Shard I of N keeps its database in `state_dir/shard-I` and listens on `listen`'s port + I,
/// so shards of one host never share either.
pub fn for_shard(config: &mut jira_sync_config::Config, shard: Option<jira_sync_jobs::Shard>) {
    if let Some(s) = shard {
        let d = &mut config.daemon;
        d.state_dir = d.state_dir.join(format!("shard-{}", s.index));
        if d.listen.port() != 0 {
            let port = d.listen.port().saturating_add(s.index as u16);
            d.listen.set_port(port);
        }
    }
}

/// Where `auth login` leaves refresh tokens when it cannot write the vault itself (the
/// daemon holds the database, or the host runs shards): `state_dir/logins`, one for all the
/// shards of a host (each takes in the sites it runs). `config` is as `for_shard` left it.
pub fn logins_dir(
    config: &jira_sync_config::Config,
    shard: Option<jira_sync_jobs::Shard>,
) -> std::path::PathBuf {
    let state_dir = &config.daemon.state_dir;
    match shard {
        // `for_shard` put the shard's database one level down.
        Some(_) => state_dir.parent().unwrap_or(state_dir).join("logins"),
        None => state_dir.join("logins"),
    }
}

/// A runtime for the commands that talk to Jira.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
