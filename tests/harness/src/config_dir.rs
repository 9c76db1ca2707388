//! Temporary configuration directories: one written by hand ([`Fixture`]) with assertions on
//! the problems it produces, and copies of the repository's `config/` (the demo) pointing at
//! a simulator on `127.0.0.1:0`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jira_sim::Simulator;
use jira_sim::seed::SeedFile;
use jira_sync_config::{Config, ConfigErrors, Loader, Problem};

/// A minimal valid site body for `site()`, to which tests append or which they replace.
pub const SITE: &str = r#"
url = "https://acme.atlassian.net"
[auth]
method = "api_token"
email = "integration@acme.example"
token = { env = "FAKE_TOKEN" }
[[connector]]
name = "sec"
project = "SEC"
"#;

/// The obviously fake secret the default environment provides.
pub const FAKE_SECRET: &str = "FAKE-token-for-tests-0123456789";

/// A configuration directory in a temporary directory, and the environment it is loaded with.
#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
}

#[allow(clippy::new_without_default)]
impl Fixture {
    /// A directory with an empty `jira-sync.toml`, a state dir and no sites.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sites.d")).unwrap();
        let f = Fixture {
            env: BTreeMap::from([
                ("FAKE_TOKEN".to_owned(), FAKE_SECRET.to_owned()),
                (
                    "STATE_DIRECTORY".to_owned(),
                    dir.path().join("state").display().to_string(),
                ),
            ]),
            dir,
        };
        f.daemon("");
        f
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn daemon(&self, text: &str) -> PathBuf {
        self.write("jira-sync.toml", text)
    }

    pub fn site(&self, name: &str, text: &str) -> PathBuf {
        self.write(&format!("sites.d/{name}.toml"), text)
    }

    /// Writes a file readable by its owner only (so inline secrets are allowed).
    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        set_mode(&path, 0o600);
        path
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.to_owned(), v.to_owned());
        self
    }

    pub fn load(&self) -> Result<Config, ConfigErrors> {
        Loader::with_env(self.env.clone()).load(self.path())
    }

    pub fn ok(&self) -> Config {
        match self.load() {
            Ok(c) => c,
            Err(e) => panic!("expected a valid configuration, got:\n{e}"),
        }
    }

    pub fn errors(&self) -> ConfigErrors {
        match self.load() {
            Ok(c) => panic!("expected configuration problems, got a valid config: {c:#?}"),
            Err(e) => e,
        }
    }
}

/// Writes a secret file as an operator must: readable by its owner only (the daemon refuses
/// a secret file others can read, and the test's umask may leave it 0644).
pub fn write_secret(path: impl AsRef<Path>, value: impl AsRef<[u8]>) {
    std::fs::write(path.as_ref(), value).unwrap();
    set_mode(path.as_ref(), 0o600);
}

pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Asserts one problem is in `file_name`, at `key`, with a message containing every one of
/// `needles`, and that the rendered error names the file and the key too.
pub fn assert_problem(
    errs: &ConfigErrors,
    file_name: &str,
    key: &str,
    needles: &[&str],
) -> Problem {
    let found = errs.problems().iter().find(|p| {
        p.file.ends_with(file_name) && p.key == key && needles.iter().all(|n| p.message.contains(n))
    });
    let Some(p) = found else {
        panic!("no problem in {file_name} at `{key}` mentioning {needles:?}; got:\n{errs}");
    };
    let rendered = errs.to_string();
    let line = p.to_string();
    assert!(rendered.contains(&line), "{rendered}");
    assert!(line.contains(file_name) && line.contains(key), "{line}");
    p.clone()
}

/// The repository's `config/` directory (the demo configuration).
pub fn repo_config() -> PathBuf {
    crate::repo_root().join("config")
}

/// A copy of the repository's `config/` as an operator installs it: secret files readable by
/// their owner only (a clone leaves them 0644, which the daemon refuses), still pointing at
/// the demo simulator's address.
pub fn private_repo_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_config(&repo_config(), dir.path(), "127.0.0.1:9080");
    dir
}

/// The simulator seeded as the demo expects, and a copy of `config/` pointing at it.
pub async fn demo() -> (Simulator, tempfile::TempDir) {
    demo_sized(None).await
}

/// The demo with `(acme, globex)` seeded issues instead of the seed file's counts.
pub async fn demo_sized(counts: Option<(usize, usize)>) -> (Simulator, tempfile::TempDir) {
    demo_shaped(counts, |_| {}).await
}

/// The demo sized as [`demo_sized`], each site shaped by `shape` before it is created (a
/// project's priority scheme, its workflow, ...).
pub async fn demo_shaped(
    counts: Option<(usize, usize)>,
    shape: impl Fn(&mut jira_sim::control::SiteSpec),
) -> (Simulator, tempfile::TempDir) {
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
        shape(&mut site);
        sim.control().create_site(site).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    copy_config(&repo_config(), dir.path(), &sim.addr().to_string());
    (sim, dir)
}

/// Copies the demo configuration `from` to `to`, pointing it at the simulator on `addr` and
/// its state at `to/state`.
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
                let dest = to.join(sub).join(p.file_name().unwrap());
                std::fs::write(&dest, text).unwrap();
                // A clone leaves files 0644; the daemon refuses secret files others can read.
                if sub == "secrets" {
                    set_mode(&dest, 0o600);
                }
            }
        }
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
