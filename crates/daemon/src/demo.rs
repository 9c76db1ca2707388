//! `jira-sync demo`: the simulator in process with the two demo sites (`acme` in UTC and
//! `globex` in New York, a few hundred issues, a few seconds of search lag), the daemon on
//! the repository's `config/` demo configuration, and a live summary until Ctrl-C. Nothing
//! is written outside a temporary directory.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use jira_sim::Simulator;
use jira_sim::seed::SeedFile;
use jira_sync_jobs::Daemon;
use jira_sync_metrics::Metrics;
use serde_json::json;

use crate::cli::DemoArgs;

/// The demo configuration (`config/`), built into the binary so the demo runs anywhere.
const FILES: &[(&str, &str)] = &[
    (
        "jira-sync.toml",
        include_str!("../../../config/jira-sync.toml"),
    ),
    (
        "sites.d/acme.toml",
        include_str!("../../../config/sites.d/acme.toml"),
    ),
    (
        "sites.d/globex.toml",
        include_str!("../../../config/sites.d/globex.toml"),
    ),
    (
        "secrets/acme.token",
        include_str!("../../../config/secrets/acme.token"),
    ),
    (
        "secrets/globex.token",
        include_str!("../../../config/secrets/globex.token"),
    ),
    (
        "secrets/hub-api.token",
        include_str!("../../../config/secrets/hub-api.token"),
    ),
];
const SEED: &str = include_str!("../../../config/sim-seed.toml");

pub fn run(args: &DemoArgs) -> ExitCode {
    if let Err(e) = crate::logs::init(jira_sync_config::LogFormat::Pretty, tracing::Level::WARN) {
        eprintln!("jira-sync demo: {e}");
        return ExitCode::from(crate::EXIT_CONFIG);
    }
    match crate::runtime().block_on(demo(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jira-sync demo: {e}");
            ExitCode::from(crate::EXIT_FAILURE)
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<(), String> {
    let sim = Simulator::start().await.map_err(|e| e.to_string())?;
    let mut seed = SeedFile::parse(SEED)?;
    for site in &mut seed.site {
        for p in &mut site.projects {
            // A realistic few hundred: acme's security project is the bigger one.
            p.seed_issues = Some(if site.name == "acme" { 200 } else { 100 });
        }
        sim.control()
            .create_site(site.clone())
            .map_err(|e| e.to_string())?;
    }
    let dir = tempfile::Builder::new()
        .prefix("jira-sync-demo-")
        .tempdir()
        .map_err(|e| e.to_string())?;
    write_config(dir.path(), &sim.addr().to_string(), &args.listen)?;
    let config = jira_sync_config::load(dir.path()).map_err(|e| e.to_string())?;
    let metrics = Metrics::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let serving = crate::run::serve(config, None, metrics.clone(), move |addr, daemon| {
        let _ = ready_tx.send((addr, daemon.clone()));
    });
    let shown = async {
        let Ok((addr, daemon)) = ready_rx.await else {
            return;
        };
        println!(
            "jira-sync demo: simulated Jira Cloud at http://{} (sites acme and globex), state in {}",
            sim.addr(),
            dir.path().display()
        );
        println!("  metrics: http://{addr}/metrics");
        println!("  status:  http://{addr}/status");
        println!(
            "  every 15 s each connector syncs; acme/sec (200 issues) and globex/ops (100) mirror each other."
        );
        if args.play {
            println!("  --play: a person edits issues on both sides every few seconds.");
        }
        println!("  Ctrl-C stops.");
        let people = async {
            if args.play {
                play(&sim).await;
            }
        };
        tokio::join!(summary(&metrics, &daemon, &sim), people);
    };
    tokio::select! {
        res = serving => res?,
        _ = shown => {}
    }
    println!("jira-sync demo: stopped; {} removed.", dir.path().display());
    Ok(())
}

/// The demo configuration, pointing at the simulator, with its state in `dir`.
fn write_config(dir: &Path, sim: &str, listen: &str) -> Result<(), String> {
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let text = text
            .replace("127.0.0.1:9080", sim)
            .replace("../target/jira-sync-demo/state", "state")
            .replace(
                "listen = \"127.0.0.1:9464\"",
                &format!("listen = \"{listen}\""),
            );
        std::fs::write(&path, text).map_err(|e| e.to_string())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// The sum of the series of `name` whose labels include all of `labels`, from the
/// exposition text.
fn total(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, rest) = series.split_once('{').unwrap_or((series, ""));
            (n == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())?
        })
        .sum::<f64>()
        // Whole counts: an empty sum is -0.0.
        .max(0.0)
        .round()
}

/// One line every few seconds: what was mirrored each way, conflicts, runs, credentials.
async fn summary(metrics: &Metrics, daemon: &Daemon, sim: &Simulator) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        let f = metrics.encode();
        let created = |site| {
            total(
                &f,
                "jira_sync_issues_pushed_total",
                &[("site", site), ("op", "create")],
            )
        };
        let updated = |site| {
            ["update", "transition", "comment"]
                .iter()
                .map(|op| {
                    total(
                        &f,
                        "jira_sync_issues_pushed_total",
                        &[("site", site), ("op", op)],
                    )
                })
                .sum::<f64>()
        };
        let runs = total(&f, "jira_sync_sync_runs_total", &[]);
        let ok = total(&f, "jira_sync_sync_runs_total", &[("outcome", "success")]);
        let credentials: Vec<String> = daemon
            .status()
            .sites
            .iter()
            .map(|s| {
                format!(
                    "{} {}",
                    s.site,
                    s.health.state.as_deref().unwrap_or("unknown")
                )
            })
            .collect();
        let count = |site| sim.control().issue_count(site).unwrap_or(0);
        println!(
            "[{}] acme->globex {} created, {} updates | globex->acme {} created, {} updates | issues acme {} globex {} | conflicts {} | runs {}/{} ok | credentials: {}",
            chrono::Utc::now().format("%H:%M:%S"),
            created("globex"),
            updated("globex"),
            created("acme"),
            updated("acme"),
            count("acme"),
            count("globex"),
            total(&f, "jira_sync_conflicts_total", &[]),
            ok,
            runs,
            credentials.join(", ")
        );
    }
}

/// A person at work on both sites: an edit, a comment or a transition every few seconds.
async fn play(sim: &Simulator) {
    let c = sim.control();
    // A fixed seed: the same demo every time.
    let mut rng = jira_sim::seed::Rng(0x9e37_79b9_7f4a_7c15);
    let mut next = move |n: u64| rng.below(n);
    let sides = [
        (
            "acme",
            "SEC",
            "alice@acme.example",
            ["In Progress", "Done", "To Do"],
        ),
        (
            "globex",
            "OPS",
            "bob@globex.example",
            ["Working", "Closed", "Open"],
        ),
    ];
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    for round in 0u64.. {
        tick.tick().await;
        let (site, project, person, statuses) = sides[(round % 2) as usize];
        let n = c.issue_count(site).unwrap_or(0) as u64;
        if n == 0 {
            continue;
        }
        let key = format!("{project}-{}", 1 + next(n));
        let done = match next(4) {
            0 => c.edit_issue(
                site,
                &key,
                person,
                &json!({ "fields": { "summary": format!("{key} edited by {person} (round {round})") } }),
            ),
            1 => {
                let priority = ["High", "Low", "Medium"][next(3) as usize];
                c.edit_issue(
                    site,
                    &key,
                    person,
                    &json!({ "fields": { "priority": { "name": priority } } }),
                )
            }
            2 => c
                .comment_issue(site, &key, person, &json!(format!("A note from {person}, round {round}.")))
                .map(|_| ()),
            _ => c.transition_issue(site, &key, person, statuses[next(3) as usize]),
        };
        // Some picks are not possible (a status not reachable from the current one): skip.
        let _ = done;
    }
}
