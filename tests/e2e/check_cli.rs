//! `jira-sync check --offline`: exit status, summary and errors as an operator sees them.

use crate::harness::{binary, repo_root};
use std::process::{Command, Output};

fn jira_sync(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run jira-sync")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo_config() -> String {
    repo_root().join("config").display().to_string()
}

#[test]
fn valid_demo_config_prints_a_summary_and_exits_0() {
    let out = jira_sync(&["check", "--offline", "--config", &repo_config()], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(stdout.contains("is valid"), "{stdout}");
    assert!(stdout.contains("2 sites"), "{stdout}");
    assert!(
        stdout.contains("acme") && stdout.contains("auth service_account"),
        "{stdout}"
    );
    assert!(
        stdout.contains("globex") && stdout.contains("auth api_token"),
        "{stdout}"
    );
    assert!(stdout.contains("connector sec: project SEC"), "{stdout}");
    assert!(stdout.contains("mirrors globex/ops"), "{stdout}");
    assert!(stdout.contains("schedule \"*/15 * * * * *\""), "{stdout}");
    // Both sites mirror each other: one group, run by one shard.
    assert_eq!(
        stdout.matches("mirror group acme, shard 0/1").count(),
        2,
        "{stdout}"
    );
    let out = jira_sync(
        &[
            "check",
            "--offline",
            "--config",
            &repo_config(),
            "--shards",
            "3",
        ],
        &[],
    );
    let shards: Vec<String> = text(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mirror group acme, shard "))
        .map(str::to_owned)
        .collect();
    assert_eq!(shards.len(), 2);
    assert_eq!(shards[0], shards[1], "a group's sites share a shard");
    assert!(shards[0].ends_with("/3"));
    assert!(stdout.contains("hub API on"), "{stdout}");
    assert!(
        !stdout.contains("FAKE-demo"),
        "no secret in the summary: {stdout}"
    );
}

#[test]
fn invalid_config_prints_every_problem_on_stderr_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jira-sync.toml"), "listen = \"nowhere\"\n").unwrap();
    std::fs::create_dir(dir.path().join("sites.d")).unwrap();
    std::fs::write(
        dir.path().join("sites.d/acme.toml"),
        "url = \"http://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = { env = \"T\" }\n[[connector]]\nname = \"sec\"\nproject = \"SEC\"\nschedule = \"*/5 * * * *\"\n",
    )
    .unwrap();
    let out = jira_sync(
        &[
            "check",
            "--offline",
            "--config",
            &dir.path().display().to_string(),
        ],
        &[("T", "FAKE-cli-token-123")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout when invalid");
    assert!(stderr.contains("3 configuration problems"), "{stderr}");
    assert!(stderr.contains("jira-sync.toml: listen:"), "{stderr}");
    assert!(stderr.contains("acme.toml: url:"), "{stderr}");
    assert!(
        stderr.contains("acme.toml: connector.sec.schedule:") && stderr.contains("seconds field"),
        "{stderr}"
    );
    assert!(!stderr.contains("FAKE-cli-token-123"), "{stderr}");
}

#[test]
fn missing_directory_is_a_configuration_error() {
    let out = jira_sync(
        &["check", "--offline", "--config", "/nonexistent/jira-sync"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/jira-sync/jira-sync.toml: not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn default_config_directory_is_etc_jira_sync() {
    let out = jira_sync(&["check", "--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.contains("--config <DIR>") && help.contains("[default: /etc/jira-sync]"),
        "{help}"
    );
    assert!(help.contains("--offline"), "{help}");
}

#[test]
fn help_and_usage_errors() {
    let out = jira_sync(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(
        help.contains("check") && help.contains("Exit status"),
        "{help}"
    );

    let out = jira_sync(&["chekc"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "unknown command is a usage error"
    );
    assert!(
        text(&out.stderr).contains("check"),
        "suggests the right command"
    );
}

#[test]
fn online_check_reports_unreachable_sites_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("jira-sync.toml"),
        "state_dir = \"state\"\ngateway_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("sites.d")).unwrap();
    for name in ["acme", "globex"] {
        std::fs::write(
            dir.path().join(format!("sites.d/{name}.toml")),
            "url = \"http://127.0.0.1:9/site\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = { env = \"T\" }\n[[connector]]\nname = \"c\"\nproject = \"SEC\"\n",
        )
        .unwrap();
    }
    let out = jira_sync(
        &["check", "--config", &dir.path().display().to_string()],
        &[("T", "FAKE-cli-token-456")],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for site in ["acme", "globex"] {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{site} ")))
            .unwrap_or_else(|| panic!("{stdout}"));
        assert!(row.contains("unreachable"), "{row}");
    }
    assert!(stdout.contains("tenant_info cannot be read"), "{stdout}");
    assert!(!stdout.contains("FAKE-cli-token-456"));
}
