//! Configuration parsing: arbitrary `jira-sync.toml` and site file contents (split at the
//! first NUL byte) are either a configuration or a list of problems, never a panic.
#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;

static DIR: LazyLock<tempfile::TempDir> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("sites.d")).unwrap();
    dir
});

fuzz_target!(|data: &[u8]| {
    let (daemon, site) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b""[..], data),
    };
    let dir = DIR.path();
    std::fs::write(dir.join("jira-sync.toml"), daemon).unwrap();
    std::fs::write(dir.join("sites.d/site.toml"), site).unwrap();
    let env = BTreeMap::from([("FUZZ_TOKEN".to_owned(), "FAKE-token".to_owned())]);
    if let Err(problems) = jira_sync_config::Loader::with_env(env).load(dir) {
        // Every refusal says what is wrong.
        assert!(!problems.to_string().trim().is_empty());
    }
});
