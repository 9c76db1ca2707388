//! A temporary configuration directory and assertions on the problems it produces.

#![allow(dead_code, clippy::new_without_default)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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

#[derive(Debug)]
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub env: BTreeMap<String, String>,
}

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
