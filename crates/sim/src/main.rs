//! `jira-sim`: the Jira Cloud simulator on its own.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use jira_sim::seed::SeedFile;

/// A stateful simulator of Jira Cloud for tests and the demo (never for production use).
///
/// Serves sites at /site/NAME/..., the API gateway at /ex/jira/CLOUD_ID/..., and the
/// control API at /_sim/... (see crates/sim/README.md).
#[derive(Debug, Parser)]
#[command(name = "jira-sim", version)]
struct Args {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9080")]
    listen: SocketAddr,
    /// TOML file of sites, accounts, credentials and projects to create at start.
    #[arg(long, value_name = "FILE")]
    seed: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let seed = match args.seed.as_deref().map(SeedFile::read).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jira-sim: cannot read the seed file: {e}");
            return ExitCode::from(2);
        }
    };
    let sim = match jira_sim::Simulator::bind(args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jira-sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(1);
        }
    };
    let (sites, clients) = seed.map(|s| (s.site, s.oauth_client)).unwrap_or_default();
    for site in sites {
        let name = site.name.clone();
        match sim.control().create_site(site) {
            Ok(info) => println!(
                "site {name}: {} (cloud ID {})",
                sim.site_url(&name),
                info.cloud_id
            ),
            Err(e) => {
                eprintln!("jira-sim: seed site {name}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    for client in clients {
        match sim.control().create_oauth_client(client) {
            Ok((id, _)) => println!("OAuth client {id}"),
            Err(e) => {
                eprintln!("jira-sim: seed OAuth client: {e}");
                return ExitCode::from(2);
            }
        }
    }
    println!("jira-sim listening on {}", sim.base_url());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}
