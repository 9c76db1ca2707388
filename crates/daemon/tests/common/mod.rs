//! The demo's simulator and a copy of `config/` pointing at it, and the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jira_sim::Simulator;
use jira_sim::seed::SeedFile;

pub fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// The simulator seeded as the demo expects, and a copy of `config/` pointing at it.
pub async fn demo() -> (Simulator, tempfile::TempDir) {
    let sim = Simulator::start().await.unwrap();
    for site in SeedFile::read(&repo_config().join("sim-seed.toml"))
        .unwrap()
        .site
    {
        sim.control().create_site(site).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    copy_config(&repo_config(), dir.path(), &sim.addr().to_string());
    (sim, dir)
}

pub fn copy_config(from: &Path, to: &Path, addr: &str) {
    for sub in ["", "sites.d", "secrets"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let text = std::fs::read_to_string(&p)
                    .unwrap()
                    .replace("127.0.0.1:9080", addr)
                    .replace("../target/jira-sync-demo/state", "state");
                std::fs::write(to.join(sub).join(p.file_name().unwrap()), text).unwrap();
            }
        }
    }
}

pub fn jira_sync(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jira-sync"))
        .args(args)
        .env_remove("JIRA_SYNC__LISTEN")
        .output()
        .unwrap()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub const SECRETS: &[&str] = &[
    "FAKE-demo-acme-scoped-token-not-a-secret",
    "FAKE-demo-globex-classic-token-not-a-secret",
    "FAKE-demo-hub-api-token-not-a-secret",
    "FAKE-sim-client-secret",
];

pub fn assert_no_secrets(out: &str) {
    for s in SECRETS {
        assert!(!out.contains(s), "secret {s} in output:\n{out}");
    }
}

/// Replaces `from` with `to` in `dir/file` (which must contain it).
pub fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).unwrap();
    assert!(text.contains(from), "{file} has no `{from}`");
    std::fs::write(&p, text.replace(from, to)).unwrap();
}

/// A schedule that never fires while a test runs: tests tick by hand.
pub const NEVER: &str = "0 0 0 1 1 * 2099";

/// The demo with every schedule set to `schedule` and `listen` on a free port.
pub async fn demo_with(schedule: &str) -> (Simulator, tempfile::TempDir) {
    let (sim, dir) = demo().await;
    for f in ["sites.d/acme.toml", "sites.d/globex.toml"] {
        edit(
            dir.path(),
            f,
            "schedule = \"*/15 * * * * *\"",
            &format!("schedule = \"{schedule}\""),
        );
    }
    edit(
        dir.path(),
        "jira-sync.toml",
        "127.0.0.1:9464",
        "127.0.0.1:0",
    );
    (sim, dir)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The value of the first series named `name` with all of `labels`.
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|l| {
        let (series, v) = l.rsplit_once(' ')?;
        let (n, rest) = series.split_once('{').unwrap_or((series, "}"));
        (n == name
            && labels
                .iter()
                .all(|(k, val)| rest.contains(&format!("{k}=\"{val}\""))))
        .then(|| v.parse().ok())?
    })
}

/// Points a `demo_with` configuration's `listen` at a free port (for `status` and
/// Prometheus, which need to know it in advance), and returns it.
pub fn listen_on_free_port(dir: &Path) -> u16 {
    let port = free_port();
    edit(
        dir,
        "jira-sync.toml",
        "127.0.0.1:0",
        &format!("127.0.0.1:{port}"),
    );
    port
}
