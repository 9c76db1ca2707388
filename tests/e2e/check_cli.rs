//! `jira-sync check --offline`: exit status, summary and errors as an operator sees them.

use crate::harness::{SECRETS, binary, private_repo_config, set_mode};
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

fn repo_config() -> tempfile::TempDir {
    private_repo_config()
}

/// `dir` with one api_token site `acme` whose token is the file `secrets/acme.token` of
/// `mode`, and whose expiry is not declared.
fn token_file_site(dir: &std::path::Path, mode: u32) {
    std::fs::create_dir_all(dir.join("sites.d")).unwrap();
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("jira-sync.toml"), "").unwrap();
    std::fs::write(dir.join("secrets/acme.token"), "FAKE-file-token-789\n").unwrap();
    set_mode(&dir.join("secrets/acme.token"), mode);
    std::fs::write(
        dir.join("sites.d/acme.toml"),
        "url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = { file = \"secrets/acme.token\" }\n[[connector]]\nname = \"sec\"\nproject = \"SEC\"\nmirror = []\n",
    )
    .unwrap();
}

#[test]
fn a_token_file_others_can_read_is_refused_like_an_inline_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    for mode in [0o644, 0o604] {
        token_file_site(dir.path(), mode);
        let out = jira_sync(&["check", "--offline", "--config", &d], &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{mode:o}: {stderr}");
        assert!(
            stderr.contains("acme.toml: auth.token:")
                && stderr.contains("that others can read")
                && stderr.contains("chmod 0640")
                && stderr.contains("readable by the service only"),
            "{stderr}"
        );
        assert!(!stderr.contains("FAKE-file-token-789"), "{stderr}");
    }
    // The packaged way: root:jira-sync 0640 (here the owner's group), or owner only.
    for mode in [0o640, 0o600, 0o440] {
        token_file_site(dir.path(), mode);
        let out = jira_sync(&["check", "--offline", "--config", &d], &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{mode:o}: {}",
            text(&out.stderr)
        );
    }
    // The same words as an inline secret in a readable file.
    std::fs::write(
        dir.path().join("sites.d/acme.toml"),
        "url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = \"FAKE-inline-token-789\"\n[[connector]]\nname = \"sec\"\nproject = \"SEC\"\n",
    )
    .unwrap();
    set_mode(&dir.path().join("sites.d/acme.toml"), 0o644);
    let out = jira_sync(&["check", "--offline", "--config", &d], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("readable by the service only"), "{stderr}");
    assert!(!stderr.contains("FAKE-inline-token-789"), "{stderr}");
}

#[test]
fn check_json_describes_a_valid_configuration() {
    let dir = tempfile::tempdir().unwrap();
    token_file_site(dir.path(), 0o600);
    let d = dir.path().display().to_string();
    let out = jira_sync(&["check", "--offline", "--json", "--config", &d], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["daemon"]["hub_api"], false);
    let site = &v["sites"][0];
    assert_eq!(site["name"], "acme");
    assert_eq!(site["auth_method"], "api_token");
    assert_eq!(site["expires_at"], serde_json::Value::Null);
    assert_eq!(site["expiry_declared"], false, "{site}");
    assert_eq!(site["connectors"][0]["project"], "SEC");
    assert!(site.get("probe").is_none(), "offline: no probe");
    assert!(!text(&out.stdout).contains("FAKE-file-token-789"));

    let demo = repo_config();
    let demo = demo.path().display().to_string();
    let out = jira_sync(
        &[
            "check",
            "--offline",
            "--json",
            "--shards",
            "3",
            "--config",
            &demo,
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sites = v["sites"].as_array().unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0]["shard"], sites[1]["shard"], "one mirror group");
    assert_eq!(sites[0]["shards"], 3);
    assert_eq!(v["daemon"]["hub_api"], true);
    for s in SECRETS {
        assert!(!text(&out.stdout).contains(s));
    }
}

#[test]
fn check_json_lists_problems_and_online_probes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jira-sync.toml"), "listen = \"nowhere\"\n").unwrap();
    std::fs::create_dir(dir.path().join("sites.d")).unwrap();
    let d = dir.path().display().to_string();
    let out = jira_sync(&["check", "--offline", "--json", "--config", &d], &[]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let p = &v["problems"][0];
    assert!(
        p["file"].as_str().unwrap().ends_with("jira-sync.toml"),
        "{p}"
    );
    assert_eq!(p["key"], "listen");

    // Online, against nothing: each site's probe says unreachable, exit 1.
    std::fs::write(
        dir.path().join("jira-sync.toml"),
        "state_dir = \"state\"\ngateway_url = \"http://127.0.0.1:9\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sites.d/acme.toml"),
        "url = \"http://127.0.0.1:9/site\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = { env = \"T\" }\nexpires_at = \"2099-01-01\"\n[[connector]]\nname = \"c\"\nproject = \"SEC\"\n",
    )
    .unwrap();
    let out = jira_sync(
        &["check", "--json", "--config", &d],
        &[("T", "FAKE-cli-token-456")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let site = &v["sites"][0];
    assert_eq!(site["expiry_declared"], true);
    assert_eq!(site["probe"]["state"], "unreachable", "{site}");
    assert_eq!(site["probe"]["usable"], false);
    assert_eq!(v["usable"], false, "online: not every site works");
    assert_eq!(
        site["probe"]["expires_at"], "2099-01-01T00:00:00Z",
        "the declared expiry, although Jira did not answer"
    );
    assert!(!text(&out.stdout).contains("FAKE-cli-token-456"));
}

#[test]
fn completions_and_the_manual_page_cover_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = jira_sync(&["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for command in ["check", "run", "status", "scopes", "completions"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    // bash completes a subcommand's options (what a user types: `jira-sync check --<TAB>`).
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("jira-sync.bash");
    std::fs::write(&script, jira_sync(&["completions", "bash"], &[]).stdout).unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(jira-sync check --); COMP_CWORD=2; _jira__sync jira-sync -- check; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let offered = text(&out.stdout);
    assert!(
        offered.contains("--offline") && offered.contains("--json"),
        "jira-sync check --<TAB> offers: {offered:?} {}",
        text(&out.stderr)
    );

    let out = jira_sync(&["manpage", "--dir", dir.path().to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(dir.path().join("jira-sync.1")).unwrap();
    assert!(page.contains(".TH jira-sync 1"), "{page}");
    assert!(
        page.contains("Exit status") && page.contains("JIRA_SYNC_LOG"),
        "{page}"
    );
    // Every page jira-sync(1) refers to exists, options included.
    for command in [
        "check",
        "run",
        "status",
        "sync",
        "scopes",
        "auth-login",
        "store-rebuild",
    ] {
        let sub = std::fs::read_to_string(dir.path().join(format!("jira-sync-{command}.1")))
            .unwrap_or_else(|e| panic!("jira-sync-{command}.1: {e}"));
        assert!(sub.contains(&format!(".TH jira-sync-{command} 1")), "{sub}");
        assert!(
            sub.contains("config"),
            "jira-sync-{command}.1 lacks its options"
        );
    }
    assert!(
        !dir.path().join("jira-sync-manpage.1").exists(),
        "hidden: no page"
    );
    let out = jira_sync(&["completions", "tcsh"], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn valid_demo_config_prints_a_summary_and_exits_0() {
    let demo = repo_config();
    let demo = demo.path().display().to_string();
    let out = jira_sync(&["check", "--offline", "--config", &demo], &[]);
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
        &["check", "--offline", "--config", &demo, "--shards", "3"],
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

/// Root opening the service's state directory would leave root-owned files in it that the
/// service (user jira-sync) cannot open: the commands that open it refuse, naming the fix.
#[test]
fn root_is_refused_the_state_directory_of_another_user() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: nothing to refuse");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    token_file_site(dir.path(), 0o600);
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    rustix::fs::chown(&state, Some(rustix::process::Uid::from_raw(65534)), None).unwrap();
    std::fs::write(
        dir.path().join("jira-sync.toml"),
        // Nothing listens on port 1: `status` falls back to the database.
        format!(
            "state_dir = \"{}\"\nlisten = \"127.0.0.1:1\"\n",
            state.display()
        ),
    )
    .unwrap();
    let d = dir.path().display().to_string();
    for args in [
        vec!["check", "--config", &d],
        vec!["status", "--config", &d],
        vec!["sync", "--config", &d, "acme/sec"],
        vec!["store", "rebuild", "--config", &d],
        vec!["run", "--config", &d],
    ] {
        let out = jira_sync(&args, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("sudo -u jira-sync"), "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read_dir(&state).unwrap().count(),
            0,
            "{args:?} wrote"
        );
    }
    // Offline, `check` does not open it.
    let out = jira_sync(&["check", "--offline", "--config", &d], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
