//! `jira-sync`: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

mod api;
mod check;
mod cli;
mod demo;
mod login;
mod logs;
mod online;
mod run;
mod scopes;
mod shard;
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
        cli::Command::Completions(args) => {
            let mut cmd = <cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(args.shell, &mut cmd, "jira-sync", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        cli::Command::Manpage => {
            let cmd = <cli::Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(cmd).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("jira-sync manpage: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

/// Loads the configuration, printing every problem on failure.
pub fn load(dir: &std::path::Path) -> Result<jira_sync_config::Config, ExitCode> {
    jira_sync_config::load(dir).map_err(|e| {
        eprint!("{e}");
        ExitCode::from(EXIT_CONFIG)
    })
}

/// A runtime for the commands that talk to Jira.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
