//! `jira-sync demo`, the README's first command: it mirrors both ways, shows it, writes
//! nothing outside its temporary directory, and Ctrl-C stops it cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::harness::binary;
use std::time::{Duration, Instant};

#[test]
fn the_demo_mirrors_both_ways_and_stops_cleanly_on_ctrl_c() {
    let cwd = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new(binary())
        .args(["demo", "--play", "--listen", "127.0.0.1:0"])
        .current_dir(cwd.path())
        .env("TMPDIR", tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = Vec::new();
    let converged = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("no mirror both ways in time:\n{}", seen.join("\n")));
        seen.push(line.clone());
        if line.contains("acme->globex 200 created") && line.contains("globex->acme 100 created") {
            break line;
        }
    };
    assert!(
        converged.contains("issues acme 300 globex 300"),
        "{converged}"
    );
    assert!(
        converged.contains("credentials: acme valid, globex valid"),
        "{converged}"
    );
    let all = seen.join("\n");
    assert!(all.contains("/metrics") && all.contains("/status"), "{all}");
    assert!(!all.contains("FAKE-demo"), "no secret in the demo's output");

    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the demo did not stop");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.starts_with("jira-sync demo: stopped")),
        "{rest:?}"
    );
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        0,
        "nothing written to the working directory"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the temporary directory is removed"
    );
}
