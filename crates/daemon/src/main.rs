//! `jira-sync`: parse the command line, run the command, map the outcome to an exit status.

use std::process::ExitCode;

use clap::Parser;

mod api;
mod bounded; // The webhook listener's bound on connections and their lifetime.
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
mod webhook; // The listener for Jira's webhook deliveries.
mod webhooks; // `jira-sync webhooks SITE`: what an administrator registers.

/// The allocator. At 10,000 connectors glibc's malloc held 1,015 MB after the initial sync
/// against mimalloc's 834 MB for the same work (README "Measured", `scripts/bench-scale
/// scale-10000`): freed memory spread over many threads' arenas stays with glibc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        cli::Command::Webhooks(args) => webhooks::run(&args),
        cli::Command::Run(args) => run::run(&args),
        cli::Command::Demo(args) => demo::run(&args),
        cli::Command::Status(args) => status::run(&args),
        cli::Command::Sync(args) => sync::run(&args),
        cli::Command::Auth(cli::AuthCommand::Login(args)) => login::run(&args),
        cli::Command::Store(cli::StoreCommand::Rebuild(args)) => store::rebuild(&args),
        cli::Command::Completions(args) => {
            print!("{}", completions(args.shell));
            ExitCode::SUCCESS
        }
        cli::Command::Manpage(args) => {
            let cmd = <cli::Cli as clap::CommandFactory>::command();
            match manpages(cmd, &args.dir) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("jira-sync manpage: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

/// The completion script for `shell`. clap_complete's bash script names a hyphenated
/// binary's subcommands two ways (`jira__sync__subcmd__check` where it reads the words,
/// `jira__subcmd__sync__subcmd__check` in its `case`; clap-rs/clap#6421), so nothing after a
/// subcommand completed: the `case` labels are made to match.
fn completions(shell: clap_complete::Shell) -> String {
    let mut cmd = <cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "jira-sync", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    match shell {
        clap_complete::Shell::Bash => {
            script.replace("jira__subcmd__sync__subcmd__", "jira__sync__subcmd__")
        }
        _ => script,
    }
}

/// Writes `NAME.1` for `cmd` and, recursively, `NAME-SUB.1` for each visible subcommand,
/// into `dir`: the pages jira-sync(1) refers to.
fn manpages(cmd: clap::Command, dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut todo = vec![(cmd.get_name().to_owned(), cmd)];
    while let Some((name, cmd)) = todo.pop() {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub_name = format!("{name}-{}", sub.get_name());
            // clap names commands with `&'static str`; this one-shot command leaks a few.
            let leaked: &'static str = Box::leak(sub_name.clone().into_boxed_str());
            todo.push((sub_name, sub.clone().name(leaked)));
        }
        let mut page = Vec::new();
        clap_mangen::Man::new(cmd).render(&mut page)?;
        std::fs::write(dir.join(format!("{name}.1")), page)?;
    }
    Ok(())
}

/// Loads the configuration, printing every problem on failure.
pub fn load(dir: &std::path::Path) -> Result<jira_sync_config::Config, ExitCode> {
    jira_sync_config::load(dir).map_err(|e| {
        logs::eprint_error(&e.to_string());
        ExitCode::from(EXIT_CONFIG)
    })
}

/// Loads the configuration as a command that opens the state database must see it: on the
/// shard `cli` (`--shard I/N`) or the environment (`JIRA_SYNC_SHARD`, `JIRA_SYNC_SHARDS`)
/// names, as `run` places itself, so that in a shard's pod or beside `jira-sync@I` a command
/// opens that shard's database (and finds it held while the shard runs) rather than a
/// second, empty one. `command` names the command in errors (exit 2).
pub fn load_placed(
    dir: &std::path::Path,
    cli: Option<jira_sync_jobs::Shard>,
    command: &str,
) -> Result<(jira_sync_config::Config, Option<shard::Placement>), ExitCode> {
    let mut config = load(dir)?;
    let placement = shard::placement(cli).map_err(|e| {
        logs::eprint_error(&format!("jira-sync {command}: {e}\n"));
        ExitCode::from(EXIT_CONFIG)
    })?;
    shard::apply(&mut config, placement).map_err(|e| {
        logs::eprint_error(&format!("jira-sync {command}: {e}\n"));
        ExitCode::from(EXIT_CONFIG)
    })?;
    let how = if matches!(command, "run" | "status") {
        "JIRA_SYNC_SHARD=I and JIRA_SYNC_SHARDS=N (or --shard I/N)"
    } else {
        "JIRA_SYNC_SHARD=I and JIRA_SYNC_SHARDS=N"
    };
    if placement.is_none()
        && let Some(refusal) = shard::beside_shards(&config.daemon.state_dir, command, how)
    {
        logs::eprint_error(&refusal);
        return Err(ExitCode::from(EXIT_CONFIG));
    }
    Ok((config, placement))
}

/// Refuses (exit 2) to let root open a state directory that another user owns: the
/// service runs as `jira-sync`, and files root leaves in its database (sled creates new
/// ones as it writes) stop the service from opening it. The nearest existing ancestor
/// decides when `state_dir` does not exist yet.
pub fn state_owner_ok(state_dir: &std::path::Path, command: &str) -> Result<(), ExitCode> {
    use std::os::unix::fs::MetadataExt;
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    let owner = state_dir
        .ancestors()
        .find_map(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.uid());
    if owner == 0 {
        return Ok(());
    }
    logs::eprint_error(&format!(
        "jira-sync {command}: {} belongs to uid {owner}, the service's user; run this as that user (`sudo -u jira-sync jira-sync {command} ...`): as root it would leave files there that the service cannot open\n",
        state_dir.display()
    ));
    Err(ExitCode::from(EXIT_CONFIG))
}

/// A runtime for the commands that talk to Jira.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
