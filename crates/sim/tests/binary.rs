//! `jira-sim --listen ADDR --seed FILE` as an operator runs it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

#[tokio::test]
async fn binary_serves_the_seeded_sites() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/sim-seed.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jira-sim"))
        .args(["--listen", "127.0.0.1:0", "--seed"])
        .arg(&seed)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start jira-sim");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("jira-sim prints its address").unwrap();
        if let Some(url) = line.strip_prefix("jira-sim listening on ") {
            break url.to_owned();
        }
    };
    let v: serde_json::Value = jira_sync_harness::http_client()
        .get(format!("{base}/site/acme/_edge/tenant_info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["cloudId"], "a1c3e000-0000-4000-8000-00000000acme");
    let r = jira_sync_harness::http_client()
        .get(format!("{base}/site/globex/rest/api/3/myself"))
        .basic_auth(
            "integration@globex.example",
            Some("FAKE-demo-globex-classic-token-not-a-secret"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_bad_seed_file_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("jira-sim-bad-seed-{}", std::process::id()));
    std::fs::write(&dir, "[[site]]\nname = \"x\"\nbogus = 1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jira-sim"))
        .args(["--listen", "127.0.0.1:0", "--seed"])
        .arg(&dir)
        .output()
        .unwrap();
    std::fs::remove_file(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bogus"),
        "names the bad key"
    );
}
