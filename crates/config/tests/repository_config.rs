//! The demo configuration in `config/` and every file in `config/examples/` validate, so
//! they cannot drift from the code.

use std::path::{Path, PathBuf};

use jira_sync_harness::config_dir::*;

fn repo_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

#[test]
fn demo_config_is_valid_as_documented() {
    // As installed: the secret files readable by their owner only.
    let installed = private_repo_config();
    let c = jira_sync_config::Loader::with_env(Default::default())
        .load(installed.path())
        .unwrap_or_else(|e| panic!("config/ must validate:\n{e}"));
    let names: Vec<_> = c.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["acme", "globex"]);
    for site in &c.sites {
        let host = site.url.host_str().unwrap();
        assert_eq!(
            (host, site.url.port()),
            ("127.0.0.1", Some(9080)),
            "demo talks to the simulator"
        );
        assert_eq!(site.connectors.len(), 1);
    }
    let sec = &c.site("acme").unwrap().connectors[0];
    let ops = &c.site("globex").unwrap().connectors[0];
    assert_eq!(sec.mirror[0].to_string(), "globex/ops");
    assert_eq!(ops.mirror[0].to_string(), "acme/sec");
    assert!(c.daemon.api_token.is_some(), "the demo enables the hub API");
    assert_eq!(c.daemon.gateway_url.as_str(), "http://127.0.0.1:9080/");
}

/// Each example goes into `sites.d/` under the name of its site (the first label of its
/// URL's host), as the comments tell an operator to do, and all validate together.
#[test]
fn every_example_site_file_is_valid() {
    // Where the examples point, as the package installs them: readable by the service only.
    let f = Fixture::new();
    for name in [
        "acme.token",
        "globex.token",
        "initech-oauth.secret",
        "umbrella-sa.secret",
    ] {
        f.write(&format!("secrets/{name}"), "FAKE-example-credential");
    }
    let mut methods = Vec::new();
    let mut examples: Vec<_> = std::fs::read_dir(repo_config().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    examples.sort();
    for path in &examples {
        assert_eq!(path.extension().unwrap(), "toml", "{}", path.display());
        let text = std::fs::read_to_string(path).unwrap();
        let url_line = text
            .lines()
            .find(|l| l.starts_with("url = "))
            .expect("example has a url");
        let site = url_line
            .split("//")
            .nth(1)
            .unwrap()
            .split('.')
            .next()
            .unwrap();
        f.site(site, &text);
        methods.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    let c = f.ok();
    let mut configured: Vec<_> = c
        .sites
        .iter()
        .map(|s| s.auth.method().as_str().to_owned())
        .collect();
    configured.sort();
    methods.sort();
    assert_eq!(
        configured, methods,
        "one example per auth method, named after it"
    );
    assert_eq!(
        methods,
        [
            "api_token",
            "client_credentials",
            "oauth2",
            "service_account"
        ]
    );
}

/// The daemon file the Debian package installs as /etc/jira-sync/jira-sync.toml is valid
/// as shipped (every key commented: the defaults) and documents every key it may set.
#[test]
fn the_packaged_daemon_file_is_valid_and_names_every_key() {
    let text = std::fs::read_to_string(repo_config().join("../packaging/jira-sync.toml")).unwrap();
    let f = Fixture::new();
    f.daemon(&text);
    f.site("acme", SITE);
    let c = f.ok();
    assert_eq!(c.daemon.listen.to_string(), "127.0.0.1:9464");
    for key in [
        "state_dir",
        "listen",
        "log_format",
        "api_token",
        "shutdown_grace",
        "run_timeout",
        "health_schedule",
        "census_schedule",
        "max_runs_in_flight",
    ] {
        assert!(
            text.contains(&format!("# {key} = ")),
            "{key} is not documented"
        );
    }
    // Uncommented, each documented value is accepted.
    let uncommented: String = text
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.contains(" = "))
                .unwrap_or(l)
        })
        .map(|l| format!("{l}\n"))
        .collect();
    f.write("secrets/hub-api.token", "FAKE-hub-token");
    f.daemon(&uncommented);
    f.ok();
}
