//! The `jira-sync` binary as a child process (`jira_sync` for one command, [`Daemon`] for
//! `run` on `127.0.0.1:0`), the daemon's jobs in this process ([`start`]), and what tests
//! read from them: output text, metric values, secrets that must not appear.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The built `jira-sync` binary.
///
/// Cargo names a binary (`CARGO_BIN_EXE_jira-sync`) only to the tests of its own package, so
/// the end-to-end tests are a `[[test]]` target of `crates/daemon` (which also makes Cargo
/// build the binary before them), and this library, shared with other packages, finds the
/// path at run time: `JIRA_SYNC_BIN` if set, else the variable Cargo or nextest sets for
/// the running test (`CARGO_BIN_EXE_jira-sync`, `NEXTEST_BIN_EXE_jira-sync`), else the
/// binary beside the test executable's directory (`target/PROFILE/jira-sync`).
///
/// # Panics
/// When none of them names an existing file, with what was tried.
pub fn binary() -> PathBuf {
    let from_env = [
        "JIRA_SYNC_BIN",
        "CARGO_BIN_EXE_jira-sync",
        "NEXTEST_BIN_EXE_jira-sync",
    ]
    .into_iter()
    .find_map(std::env::var_os)
    .map(PathBuf::from);
    let beside = std::env::current_exe().ok().and_then(|exe| {
        // target/PROFILE/deps/e2e-HASH -> target/PROFILE/jira-sync
        Some(exe.parent()?.parent()?.join("jira-sync"))
    });
    let path = from_env.or(beside);
    match path {
        Some(p) if p.is_file() => p,
        other => panic!(
            "the jira-sync binary was not found (tried JIRA_SYNC_BIN, CARGO_BIN_EXE_jira-sync, \
             NEXTEST_BIN_EXE_jira-sync and {other:?}); run the tests with \
             `cargo nextest run --workspace`, which builds it"
        ),
    }
}

/// A `jira-sync` command with `args`, as an operator would start it (no `JIRA_SYNC__LISTEN`
/// inherited from the test's environment).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(binary());
    c.args(args).env_remove("JIRA_SYNC__LISTEN");
    c
}

/// Runs `jira-sync ARGS` to completion.
pub fn jira_sync(args: &[&str]) -> Output {
    command(args).output().unwrap()
}

/// A command's stdout and stderr, as one text.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The demo configuration's secrets: none may appear in any output.
pub const SECRETS: &[&str] = &[
    "FAKE-demo-acme-scoped-token-not-a-secret",
    "FAKE-demo-globex-classic-token-not-a-secret",
    "FAKE-demo-hub-api-token-not-a-secret",
    "FAKE-sim-client-secret",
];

/// Fails naming the secret if `out` contains one of [`SECRETS`].
pub fn assert_no_secrets(out: &str) {
    for s in SECRETS {
        assert!(!out.contains(s), "secret {s} in output:\n{out}");
    }
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
        let mut cmd = command(&["run", "--config", dir.to_str().unwrap()]);
        cmd.envs(env.iter().copied()).stderr(stderr);
        Self::spawn(&mut cmd)
    }

    /// Starts `cmd` (a `jira-sync run` command) and waits for its address.
    pub fn spawn(cmd: &mut Command) -> Daemon {
        let mut child = cmd
            .env("JIRA_SYNC__LOG_FORMAT", "json")
            .stdout(Stdio::piped())
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
