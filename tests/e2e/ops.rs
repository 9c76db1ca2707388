//! What operators install, checked with the real tools: `systemd-analyze` on the units,
//! `promtool` on the alert rules and the dashboard's queries, and a real Prometheus server
//! scraping a real daemon while the simulator revokes a credential.
//! `scripts/test` installs the tools (Debian's `systemd` and `prometheus` packages).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;
use serde_json::Value;

fn repo() -> PathBuf {
    repo_root()
}

/// Runs a tool the test command installs, with a clear message when it is missing.
fn tool(name: &str, args: &[&str]) -> Output {
    Command::new(name)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{name}` cannot run ({e}); scripts/test installs it"))
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A copy of a unit whose binary path is the one just built: `verify` checks that the
/// executable exists.
fn unit_copy(name: &str, as_name: &str, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("systemd").join(name))
        .unwrap()
        .replace("/usr/bin/jira-sync", binary().to_str().unwrap());
    let p = dir.join(as_name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn the_units_pass_systemd_analyze_verify_and_are_hardened() {
    let dir = tempfile::tempdir().unwrap();
    for (name, as_name) in [
        ("jira-sync.service", "jira-sync.service"),
        ("jira-sync@.service", "jira-sync@.service"),
        ("jira-sync@.service", "jira-sync@0.service"),
    ] {
        let unit = unit_copy(name, as_name, dir.path());
        let o = tool("systemd-analyze", &["verify", unit.to_str().unwrap()]);
        // verify exits 0 on unknown keys and bad values too, but says so: silence is success.
        assert!(
            o.status.success() && out(&o).trim().is_empty(),
            "{as_name}:\n{}",
            out(&o)
        );
        let o = tool(
            "systemd-analyze",
            &[
                "security",
                "--offline=true",
                "--threshold=20",
                unit.to_str().unwrap(),
            ],
        );
        assert!(
            o.status.success(),
            "{as_name} is exposed above 2.0:\n{}",
            out(&o)
        );
    }
    // The check sees a mistake (so its silence above means something).
    let bad = dir.path().join("bad.service");
    std::fs::write(
        &bad,
        std::fs::read_to_string(dir.path().join("jira-sync.service"))
            .unwrap()
            .replace("Type=notify", "Type=notifyy"),
    )
    .unwrap();
    let o = tool("systemd-analyze", &["verify", bad.to_str().unwrap()]);
    assert!(out(&o).contains("notifyy"), "{}", out(&o));
    // What the daemon relies on is in the unit.
    let unit = std::fs::read_to_string(repo().join("systemd/jira-sync.service")).unwrap();
    for needed in [
        "Type=notify",
        "WatchdogSec=",
        "ExecStartPre=/usr/bin/jira-sync check --offline",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "User=jira-sync",
        "Group=jira-sync",
        "StateDirectory=jira-sync",
        "ConfigurationDirectory=jira-sync",
        "LoadCredential=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "RestrictAddressFamilies=",
    ] {
        assert!(unit.contains(needed), "jira-sync.service lacks {needed}");
    }
    // A reload always reaches the daemon, which refuses an invalid configuration itself and
    // says so in jira_sync_config_last_reload_success (a failing ExecReload= check would
    // stop the signal, and the reload alert could never fire).
    assert!(
        !unit.contains("ExecReload=/usr/bin/jira-sync"),
        "nothing before the signal may fail the reload"
    );
    let template = std::fs::read_to_string(repo().join("systemd/jira-sync@.service")).unwrap();
    assert!(template.contains("--shard %i/${JIRA_SYNC_SHARDS}"));
}

#[test]
fn the_alert_rules_check_and_their_unit_tests_pass() {
    let rules = repo().join("dashboards/alerts.yml");
    let o = tool("promtool", &["check", "rules", rules.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let tests = repo().join("dashboards/alerts.test.yml");
    let o = tool("promtool", &["test", "rules", tests.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    // Every alert is unit-tested, firing and not firing.
    let rules_text = std::fs::read_to_string(&rules).unwrap();
    let tests_text = std::fs::read_to_string(&tests).unwrap();
    for alert in rules_text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        let cases = tests_text.matches(&format!("alertname: {alert}\n")).count();
        assert!(cases >= 2, "{alert} has {cases} test case(s)");
        assert!(
            tests_text.contains(&format!("alertname: {alert}\n    exp_alerts: []")),
            "{alert} is never tested not firing"
        );
        assert!(
            tests_text.contains(&format!("alertname: {alert}\n    exp_alerts:\n")),
            "{alert} is never tested firing"
        );
    }
}

/// Every alert links its own section of docs/RUNBOOK.md, and that section says what it
/// means and what to do.
#[test]
fn every_alert_has_a_runbook_section() {
    let rules = std::fs::read_to_string(repo().join("dashboards/alerts.yml")).unwrap();
    let runbook = std::fs::read_to_string(repo().join("docs/RUNBOOK.md")).unwrap();
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let home = cargo
        .lines()
        .find_map(|l| l.strip_prefix("repository = "))
        .unwrap()
        .trim_matches('"');
    let mut alert = None;
    let mut linked = 0;
    for line in rules.lines().map(str::trim) {
        if let Some(a) = line.strip_prefix("- alert: ") {
            assert!(alert.is_none(), "the alert before {a} has no runbook_url");
            alert = Some(a);
        }
        if let Some(url) = line.strip_prefix("runbook_url: ") {
            let a = alert.take().expect("a runbook_url belongs to an alert");
            let want = format!("{home}/blob/main/docs/RUNBOOK.md#{}", a.to_lowercase());
            assert_eq!(url.trim_matches('"'), want);
            let section = runbook
                .split(&format!("\n## {a}\n"))
                .nth(1)
                .unwrap_or_else(|| panic!("RUNBOOK.md has no section {a}"));
            let section = section.split("\n## ").next().unwrap();
            assert!(
                section.contains("**Means:**") && section.contains("**Do:**"),
                "{a}: {section}"
            );
            linked += 1;
        }
    }
    assert!(alert.is_none(), "the last alert has no runbook_url");
    assert_eq!(linked, rules.matches("- alert: ").count());
}

/// Families the daemon exports beyond DESIGN.md's table, with the issue that added them.
const BEYOND_DESIGN: &[(&str, &str)] = &[(
    "jira_sync_credential_expiry_declared",
    "issue 20 (an API token without a declared expiry)",
)];

/// Names of the metric families DESIGN.md's table lists, and those beyond it (what the
/// daemon exports).
fn exported() -> BTreeSet<String> {
    let design = std::fs::read_to_string(repo().join("../shared/DESIGN.md")).unwrap();
    design
        .lines()
        .filter_map(|l| l.strip_prefix("| `jira_sync_"))
        .filter_map(|l| l.split('`').next())
        .map(|n| format!("jira_sync_{n}"))
        .chain(BEYOND_DESIGN.iter().map(|(n, _)| (*n).to_owned()))
        .collect()
}

/// Every `jira_sync_*` name an expression uses, histogram suffixes removed.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("jira_sync_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        out.push(base.to_owned());
        rest = &tail[end..];
    }
    out
}

#[test]
fn the_dashboard_is_well_formed_and_every_query_parses_and_uses_exported_metrics() {
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("dashboards/jira-sync.json")).unwrap(),
    )
    .unwrap();
    for key in ["uid", "title", "schemaVersion", "panels", "templating"] {
        assert!(dash.get(key).is_some(), "no {key}");
    }
    let vars: Vec<&Value> = dash["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let var = |name: &str| vars.iter().find(|v| v["name"] == name).copied();
    assert_eq!(var("datasource").unwrap()["type"], "datasource");
    assert_eq!(var("datasource").unwrap()["query"], "prometheus");
    // Hosts and shards apart: every query is filtered by job and instance.
    for v in ["job", "instance", "site", "connector"] {
        assert_eq!(var(v).unwrap()["type"], "query", "{v}");
    }
    let mut exprs: Vec<String> = vars
        .iter()
        .filter_map(|v| v["definition"].as_str())
        .filter_map(|d| {
            // label_values(EXPR, label): the series selector is a query of its own.
            let inner = d.strip_prefix("label_values(")?.rsplit_once(',')?.0;
            Some(inner.to_owned())
        })
        .collect();
    let mut ids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for p in dash["panels"].as_array().unwrap() {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate panel id");
        titles.insert(p["title"].as_str().unwrap().to_owned());
        for k in ["h", "w", "x", "y"] {
            assert!(p["gridPos"][k].is_u64(), "{}: gridPos.{k}", p["title"]);
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{} has no query", p["title"]);
        for t in targets {
            let e = t["expr"].as_str().unwrap();
            assert!(
                e.contains("job=~\"$job\"") && e.contains("instance=~\"$instance\""),
                "{}: {e}",
                p["title"]
            );
            exprs.push(e.to_owned());
        }
    }
    for wanted in [
        "Days until each credential expires",
        "Credential state per site",
        "Sync runs by outcome",
        "Time since last success",
        "Issues pulled and pushed",
        "Conflicts",
        "Push backlog",
        "HTTP requests by endpoint",
        "HTTP latency by endpoint (p95)",
        "Rate limiting",
        "Webhook deliveries by outcome",
        "Webhook silence and expiry",
    ] {
        assert!(titles.contains(wanted), "no panel {wanted}");
    }
    // Every expression, the dashboard's and the rules', as a recording rule: promtool parses
    // them all.
    let rules_text = std::fs::read_to_string(repo().join("dashboards/alerts.yml")).unwrap();
    let exported = exported();
    assert_eq!(
        exported.len(),
        24 + BEYOND_DESIGN.len(),
        "DESIGN.md's table has 24 families"
    );
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        let e = e
            .replace("$__rate_interval", "5m")
            .replace("$site", ".*")
            .replace("$connector", ".*")
            .replace("$job", ".*")
            .replace("$instance", ".*");
        rules.push_str(&format!(
            "      - record: dashboard_query_{i}\n        expr: {}\n",
            serde_json::to_string(&e).unwrap()
        ));
    }
    for name in exprs
        .iter()
        .map(String::as_str)
        .chain(std::iter::once(rules_text.as_str()))
        .flat_map(names_in)
    {
        assert!(
            exported.contains(&name),
            "{name} is not a metric the daemon exports"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-queries.yml");
    std::fs::write(&file, &rules).unwrap();
    let o = tool("promtool", &["check", "rules", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{rules}", out(&o));
    // And promtool does refuse a broken query.
    std::fs::write(
        &file,
        "groups:\n  - name: x\n    rules:\n      - record: x\n        expr: \"sum by (site (jira_sync_push_backlog)\"\n",
    )
    .unwrap();
    assert!(
        !tool("promtool", &["check", "rules", file.to_str().unwrap()])
            .status
            .success()
    );
}

/// A Prometheus server on loopback, scraping `target` every second with the rules loaded.
struct Prometheus {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Prometheus {
    fn start(dir: &Path, target: &str) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: jira-sync\n    static_configs:\n      - targets: [\"{target}\"]\n",
                repo().join("dashboards/alerts.yml").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .args([
                &format!("--config.file={}", config.display()),
                &format!("--storage.tsdb.path={}", dir.join("tsdb").display()),
                &format!("--web.listen-address=127.0.0.1:{port}"),
            ])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("`prometheus` cannot run ({e}); scripts/test installs it"));
        Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: jira_sync_auth::http_client(),
        }
    }

    /// The result vector of an instant query (empty while Prometheus starts).
    async fn query(&self, q: &str) -> Vec<Value> {
        let Ok(r) = self
            .http
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", q)])
            .send()
            .await
        else {
            return vec![];
        };
        let v: Value = r.json().await.unwrap_or_default();
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until `q` returns a series with `site`.
    async fn until_site(&self, q: &str, site: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if self
                .query(q)
                .await
                .iter()
                .any(|s| s["metric"]["site"] == site)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{q}` never held for {site}; last: {:?}",
                self.query(q).await
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The expression of `alert` in alerts.yml.
fn alert_expr(alert: &str) -> String {
    let text = std::fs::read_to_string(repo().join("dashboards/alerts.yml")).unwrap();
    let start = text
        .find(&format!("- alert: {alert}\n"))
        .unwrap_or_else(|| panic!("no alert {alert}"));
    let rest = &text[start..];
    let expr = rest.split("expr:").nth(1).unwrap();
    let expr = expr.split("\n        for:").next().unwrap();
    expr.trim().trim_start_matches('|').trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_a_revoked_credential_and_one_about_to_expire() {
    let (sim, dir) = demo_with("*/1 * * * * *").await;
    let port = listen_on_free_port(dir.path());
    // globex's token is declared to expire in 10 days.
    let soon = (chrono::Utc::now() + chrono::Duration::days(10)).format("%Y-%m-%d");
    edit(
        dir.path(),
        "sites.d/globex.toml",
        "expires_at = \"2027-03-01\"",
        &format!("expires_at = \"{soon}\""),
    );
    let mut daemon = Command::new(binary())
        .args(["run", "--config", dir.path().to_str().unwrap()])
        .env_remove("JIRA_SYNC__LISTEN")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let prom = Prometheus::start(dir.path(), &format!("127.0.0.1:{port}"));
    let critical = alert_expr("JiraSyncCredentialExpiringCritical");
    prom.until_site(&critical, "globex").await;
    prom.until_site(
        "ALERTS{alertname=\"JiraSyncCredentialExpiringCritical\"}",
        "globex",
    )
    .await;
    // Nothing says acme is revoked yet.
    let revoked = alert_expr("JiraSyncCredentialRevoked");
    assert!(
        prom.query(&revoked).await.is_empty(),
        "{:?}",
        prom.query(&revoked).await
    );
    sim.control().revoke_credential("acme", "cred-1").unwrap();
    prom.until_site(&revoked, "acme").await;
    // The rule is loaded and evaluating: the alert is pending (it fires after its `for`).
    prom.until_site(
        "ALERTS{alertname=\"JiraSyncCredentialRevoked\",alertstate=\"pending\"}",
        "acme",
    )
    .await;
    let _ = daemon.kill();
    let _ = daemon.wait();
}

/// The image recipe: multi-stage, and the image it runs holds the binary only and runs it
/// as a non-root user (no container runtime here builds it; this reads the recipe).
#[test]
fn the_container_image_holds_the_binary_only_and_runs_it_unprivileged() {
    let recipe = std::fs::read_to_string(repo().join("deploy/Containerfile")).unwrap();
    let lines: Vec<&str> = recipe
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "a build stage and a run stage");
    assert!(
        lines[stages[0]].ends_with(" AS build"),
        "{}",
        lines[stages[0]]
    );
    assert!(
        lines[stages[0]..stages[1]]
            .iter()
            .any(|l| l.contains("cargo build --release --locked -p jira-sync"))
    );
    let run = &lines[stages[1]..];
    let copies: Vec<&&str> = run.iter().filter(|l| l.starts_with("COPY")).collect();
    assert_eq!(
        copies,
        [&"COPY --from=build /out/jira-sync /usr/bin/jira-sync"]
    );
    assert!(
        !run.iter().any(|l| l.starts_with("RUN ")),
        "nothing else in the image"
    );
    let user = run.iter().find_map(|l| l.strip_prefix("USER ")).unwrap();
    let uid: u32 = user.split(':').next().unwrap().parse().unwrap();
    assert_ne!(uid, 0, "runs as a non-root user");
    assert!(run.contains(&r#"ENTRYPOINT ["/usr/bin/jira-sync"]"#));
    assert!(run.contains(&r#"CMD ["run", "--config", "/etc/jira-sync"]"#));
    // The StatefulSet runs the same user.
    let sts = std::fs::read_to_string(repo().join("deploy/kubernetes/statefulset.yaml")).unwrap();
    assert!(sts.contains(&format!("runAsUser: {uid}")), "{sts}");
}
