//! `jira-sync`: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

mod check;
mod cli;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.command {
        cli::Command::Check(args) => check::run(&args),
    }
}
