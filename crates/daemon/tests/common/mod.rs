//! The demo's simulator and a copy of `config/` pointing at it, and the binary.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use jira_sim::Simulator;
use jira_sim::seed::SeedFile;

pub fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// The simulator seeded as the demo expects, and a copy of `config/` pointing at it.
pub async fn demo() -> (Simulator, tempfile::TempDir) {
    demo_sized(None).await
}

/// The demo with `(acme, globex)` seeded issues instead of the seed file's counts.
pub async fn demo_sized(counts: Option<(usize, usize)>) -> (Simulator, tempfile::TempDir) {
    let sim = Simulator::start().await.unwrap();
    for mut site in SeedFile::read(&repo_config().join("sim-seed.toml"))
        .unwrap()
        .site
    {
        if let Some((acme, globex)) = counts {
            for p in &mut site.projects {
                p.seed_issues = Some(if site.name == "acme" { acme } else { globex });
            }
        }
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
    schedule_all(dir.path(), schedule);
    (sim, dir)
}

/// Every connector of the demo on `schedule`, and `listen` on a free port.
pub fn schedule_all(dir: &Path, schedule: &str) {
    for f in ["sites.d/acme.toml", "sites.d/globex.toml"] {
        edit(
            dir,
            f,
            "schedule = \"*/15 * * * * *\"",
            &format!("schedule = \"{schedule}\""),
        );
    }
    edit(dir, "jira-sync.toml", "127.0.0.1:9464", "127.0.0.1:0");
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

/// A running daemon and the address of its endpoints.
pub struct Daemon {
    pub child: Child,
    pub addr: String,
    pub http: reqwest::Client,
}

impl Daemon {
    pub fn start(dir: &Path) -> Daemon {
        Self::start_with(dir, &[])
    }

    pub fn start_with(dir: &Path, env: &[(&str, &str)]) -> Daemon {
        Self::launch(dir, env, Stdio::null())
    }

    /// Started with its logs (stderr) going to `log`.
    pub fn start_logged(dir: &Path, env: &[(&str, &str)], log: &Path) -> Daemon {
        Self::launch(dir, env, std::fs::File::create(log).unwrap().into())
    }

    fn launch(dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jira-sync"))
            .args(["run", "--config", dir.to_str().unwrap()])
            .envs(env.iter().copied())
            .env_remove("JIRA_SYNC__LISTEN")
            .env("JIRA_SYNC__LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the daemon prints its address")
                .unwrap();
            if let Some(a) = line.strip_prefix("jira-sync: listening on ") {
                break a.to_owned();
            }
        };
        Daemon {
            child,
            addr,
            http: jira_sync_auth::http_client(),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("http://{}{path}", self.addr))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig}");
    }

    /// Waits until `/metrics` satisfies `f`.
    pub async fn until(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, text) = self.get("/metrics").await;
            if f(&text) {
                return text;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn wait(mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "the daemon did not exit");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every issue of `site`'s `project`, as the simulator holds it.
pub fn all_issues(sim: &Simulator, site: &str, project: &str) -> Vec<serde_json::Value> {
    let n = sim.control().issue_count(site).unwrap();
    (1..=n + 5)
        .filter_map(|i| sim.control().issue(site, &format!("{project}-{i}")).ok())
        .collect()
}

/// A site with one account, `bot@NAME.example`, and a project of `issues` seeded issues.
pub fn bot_site(sim: &Simulator, name: &str, project: &str, issues: usize) {
    use jira_sim::control::{AccountSpec, ProjectSpec, SiteSpec};
    sim.control()
        .create_site(SiteSpec {
            name: name.into(),
            accounts: vec![AccountSpec {
                display_name: format!("{name} bot"),
                email: Some(format!("bot@{name}.example")),
                ..Default::default()
            }],
            projects: vec![ProjectSpec {
                key: project.into(),
                seed_issues: Some(issues),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
}

/// An OAuth 2.0 (3LO) app the account `bot@SITE.example` consented to for `site`:
/// (client id, client secret, refresh token), as `jira-sync auth login` would obtain them.
pub async fn consented_app(
    sim: &Simulator,
    site: &str,
    spec: jira_sim::oauth::OAuthClientSpec,
) -> (String, String, String) {
    let (id, secret) = sim
        .control()
        .create_oauth_client(jira_sim::oauth::OAuthClientSpec {
            redirect_uris: vec![REDIRECT.to_owned()],
            ..spec
        })
        .unwrap();
    let refresh = consent(sim, &id, &secret, site).await;
    (id, secret, refresh)
}

const REDIRECT: &str = "http://127.0.0.1:1/callback";

/// The account `bot@SITE.example` consents (again) to app `id`: a new refresh token.
pub async fn consent(sim: &Simulator, id: &str, secret: &str, site: &str) -> String {
    let code = sim
        .control()
        .oauth_consent(
            id,
            REDIRECT,
            &jira_sim::oauth::Consent {
                account: format!("bot@{site}.example"),
                sites: vec![site.into()],
            },
            "read:jira-work write:jira-work read:jira-user offline_access",
        )
        .unwrap();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tokens: serde_json::Value = jira_sync_auth::http_client()
        .post(format!("{}/oauth/token", sim.base_url()))
        .json(&serde_json::json!({
            "grant_type": "authorization_code", "client_id": id, "client_secret": secret,
            "code": code, "redirect_uri": REDIRECT,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["refresh_token"].as_str().unwrap().to_owned()
}

/// The daemon's jobs in this process (no HTTP endpoints), with its registry and store.
pub struct Running {
    pub daemon: jira_sync_jobs::Daemon,
    pub metrics: jira_sync_metrics::Metrics,
    pub store: jira_sync_store::Store,
}

pub async fn start(dir: &Path, opts: jira_sync_jobs::Options) -> Running {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = jira_sync_config::load(dir).unwrap();
    let store = jira_sync_store::Store::open(&config.daemon.state_dir).unwrap();
    let metrics = jira_sync_metrics::Metrics::new();
    let daemon = jira_sync_jobs::Daemon::start(config, &store, metrics.clone(), opts)
        .await
        .unwrap();
    Running {
        daemon,
        metrics,
        store,
    }
}

/// Requests the simulator served since its counters were reset: for `site`, or in all.
pub fn requests(sim: &Simulator, site: Option<&str>) -> u64 {
    sim.control()
        .counters(site)
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum()
}
