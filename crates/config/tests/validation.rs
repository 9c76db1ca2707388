//! Each rule of the configuration: the message names the file, the key and what is allowed.

use jira_sync_harness::config_dir::*;

#[test]
fn minimal_site_is_valid_and_defaults_apply() {
    let f = Fixture::new();
    f.site("acme", SITE);
    let c = f.ok();
    let site = c.site("acme").expect("site named after the file stem");
    assert_eq!(site.url.as_str(), "https://acme.atlassian.net/");
    assert_eq!(site.limits.requests_per_second.get(), 10);
    assert_eq!(site.limits.burst.get(), 20);
    assert_eq!(site.limits.max_concurrency.get(), 4);
    let conn = &site.connectors[0];
    assert_eq!(conn.schedule.as_str(), "0 */5 * * * *");
    assert_eq!(conn.overlap, std::time::Duration::from_secs(300));
    assert_eq!(c.daemon.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(c.daemon.gateway_url.as_str(), "https://api.atlassian.com/");
    assert_eq!(
        c.daemon.state_dir,
        f.path().join("state"),
        "$STATE_DIRECTORY is the default"
    );
    assert!(c.daemon.api_token.is_none(), "no api_token: hub API off");
}

#[test]
fn unknown_keys_are_refused_everywhere_and_all_reported() {
    let f = Fixture::new();
    f.daemon("lisen = \"127.0.0.1:1\"\n");
    f.site(
        "acme",
        &format!("{SITE}colour = \"red\"\nschedul = \"0 * * * * *\"\n[limits]\nburts = 3\n"),
    );
    f.write(
        "sites.d/globex.toml",
        &SITE.replace("[auth]", "urll = \"x\"\n[auth]\ntokn = 1"),
    );
    let e = f.errors();
    assert_problem(&e, "jira-sync.toml", "lisen", &["unknown key", "`listen`"]);
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.colour",
        &["unknown key", "`schedule`"],
    );
    assert_problem(&e, "acme.toml", "connector.sec.schedul", &["unknown key"]);
    assert_problem(&e, "acme.toml", "limits.burts", &["unknown key", "`burst`"]);
    assert_problem(&e, "globex.toml", "urll", &["unknown key", "`url`"]);
    assert_problem(&e, "globex.toml", "auth.tokn", &["unknown key", "`token`"]);
}

#[test]
fn numbers_that_are_not_whole_are_refused_not_rounded() {
    // The `config` crate would read `burst = 1.5` as 2 and `true` as 1.
    let f = Fixture::new();
    f.daemon("max_runs_in_flight = 2.0\n");
    f.site(
        "acme",
        &format!(
            "{SITE}[limits]\nburst = 1.5\nmax_concurrency = true\nrequests_per_second = \"7\"\n"
        ),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "jira-sync.toml",
        "max_runs_in_flight",
        &["2", "expected a whole number"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "limits.burst",
        &["1.5", "expected a whole number"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "limits.max_concurrency",
        &["expected a whole number"],
    );
    assert_eq!(e.problems().len(), 3, "digits in a string are read: {e}");
}

#[test]
fn all_problems_of_a_file_come_together() {
    let f = Fixture::new();
    f.site(
        "acme",
        r#"
url = "ftp://acme.atlassian.net"
extra = 1
[auth]
method = "api_token"
email = "integration@acme.example"
expires_at = "soon"
[limits]
burst = 0
requests_per_second = "ten"
[[connector]]
name = "sec"
project = "sec"
schedule = "*/5 * * * *"
"#,
    );
    let e = f.errors();
    assert_problem(&e, "acme.toml", "extra", &["unknown key"]);
    assert_problem(
        &e,
        "acme.toml",
        "limits.requests_per_second",
        &["\"ten\"", "expected a whole number"],
    );
    assert_problem(&e, "acme.toml", "url", &["https://"]);
    assert_problem(
        &e,
        "acme.toml",
        "auth.token",
        &["missing", "email and token"],
    );
    assert_problem(&e, "acme.toml", "auth.expires_at", &["not a date"]);
    assert_problem(&e, "acme.toml", "limits.burst", &["is 0", "1 to 100000"]);
    assert_problem(&e, "acme.toml", "connector.sec.project", &["project key"]);
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.schedule",
        &["seconds field"],
    );
    assert_eq!(e.problems().len(), 8, "{e}");
}

#[test]
fn missing_and_malformed_urls() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace("url = \"https://acme.atlassian.net\"", ""),
    );
    f.site(
        "globex",
        &SITE.replace("https://acme.atlassian.net", "acme.atlassian.net"),
    );
    f.daemon("gateway_url = \"https://user:hunter2@api.example\"\n");
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "url",
        &["missing", "https://acme.atlassian.net"],
    );
    assert_problem(&e, "globex.toml", "url", &["not a URL"]);
    let p = assert_problem(
        &e,
        "jira-sync.toml",
        "gateway_url",
        &["user name or password"],
    );
    assert!(
        !e.to_string().contains("hunter2"),
        "a password in a URL is never echoed: {p}"
    );
}

#[test]
fn http_is_only_for_loopback() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace("https://acme.atlassian.net", "http://acme.atlassian.net"),
    );
    f.daemon("auth_url = \"http://10.0.0.8:9080\"\n");
    let e = f.errors();
    assert_problem(&e, "acme.toml", "url", &["http://", "loopback"]);
    assert_problem(&e, "jira-sync.toml", "auth_url", &["http://", "loopback"]);

    for ok in [
        "http://127.0.0.1:9080/site/acme",
        "http://localhost:9080",
        "http://[::1]:9080",
    ] {
        let f = Fixture::new();
        f.site("acme", &SITE.replace("https://acme.atlassian.net", ok));
        f.daemon("gateway_url = \"http://127.0.0.1:9080\"\n");
        let c = f.ok();
        assert!(c.sites[0].url.as_str().starts_with("http://"), "{ok}");
    }
}

#[test]
fn each_auth_method_needs_its_fields() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("api_token", "", &["auth.email", "auth.token"]),
        (
            "service_account",
            "email = \"sa@serviceaccount.atlassian.com\"",
            &["auth.token"],
        ),
        ("oauth2", "client_id = \"AbC\"", &["auth.client_secret"]),
        (
            "client_credentials",
            "client_secret = { env = \"FAKE_TOKEN\" }",
            &["auth.client_id"],
        ),
    ];
    for (method, given, missing) in cases {
        let f = Fixture::new();
        f.site(
            "acme",
            &format!(
                "url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"{method}\"\n{given}\n"
            ),
        );
        let e = f.errors();
        for key in *missing {
            assert_problem(
                &e,
                "acme.toml",
                key,
                &["is missing", &format!("method {method} needs")],
            );
        }
        assert_eq!(e.problems().len(), missing.len(), "{e}");
    }
}

#[test]
fn auth_method_must_be_known_and_fields_must_belong_to_it() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace("method = \"api_token\"", "method = \"password\""),
    );
    f.site(
        "globex",
        &SITE.replace(
            "method = \"api_token\"",
            "method = \"api_token\"\nclient_id = \"AbC\"",
        ),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.method",
        &[
            "`password`",
            "api_token, service_account, oauth2, client_credentials",
        ],
    );
    assert_problem(
        &e,
        "globex.toml",
        "auth.client_id",
        &["not used by method api_token"],
    );
}

#[test]
fn oauth2_needs_a_place_for_its_refresh_token() {
    let oauth = r#"
url = "https://acme.atlassian.net"
[auth]
method = "oauth2"
client_id = "AbCdEf123"
client_secret = { env = "FAKE_TOKEN" }
"#;
    let f = Fixture::new();
    // state_dir under a regular file can never be created.
    f.write("not-a-dir", "x");
    f.daemon("state_dir = \"not-a-dir/state\"\n");
    f.site("acme", oauth);
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.method",
        &["refresh token", "state_dir"],
    );

    let f = Fixture::new();
    f.daemon("state_dir = \"state\"\n");
    f.site("acme", oauth);
    let c = f.ok();
    assert!(matches!(c.sites[0].auth, jira_sync_config::Auth::OAuth2(_)));
}

#[test]
fn expires_at_must_be_a_date() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace(
            "[[connector]]",
            "expires_at = \"2027-13-45\"\n[[connector]]",
        ),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.expires_at",
        &["`2027-13-45` is not a date", "YYYY-MM-DD"],
    );

    // Quoted dates, TOML date literals and RFC 3339 times are all accepted.
    for v in ["\"2027-10-01\"", "2027-10-01", "\"2027-10-01T12:00:00Z\""] {
        let f = Fixture::new();
        f.site(
            "acme",
            &SITE.replace("[[connector]]", &format!("expires_at = {v}\n[[connector]]")),
        );
        let c = f.ok();
        let at = c.sites[0].auth.declared_expiry().expect("expiry");
        assert_eq!(at.format("%Y-%m-%d").to_string(), "2027-10-01", "{v}");
    }
}

#[test]
fn five_field_cron_is_refused_with_a_hint_about_seconds() {
    let f = Fixture::new();
    f.site("acme", &format!("{SITE}schedule = \"*/5 * * * *\"\n"));
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.schedule",
        &["5 fields", "seconds field is needed", "\"0 */5 * * * *\""],
    );

    let f = Fixture::new();
    f.site(
        "acme",
        &format!("{SITE}schedule = \"0 */5 * * * * banana\"\n"),
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "connector.sec.schedule",
        &["not a valid cron expression"],
    );

    for ok in ["0 */5 * * * *", "0 0 12 * * * 2030", "*/15 * * * * *"] {
        let f = Fixture::new();
        f.site("acme", &format!("{SITE}schedule = \"{ok}\"\n"));
        let c = f.ok();
        let next = c.sites[0].connectors[0]
            .schedule
            .next_after(chrono::Utc::now());
        assert!(next.is_some(), "{ok} fires");
    }
}

#[test]
fn duplicate_site_names_are_refused() {
    let f = Fixture::new();
    f.site("acme", SITE);
    f.site("acme-2", &format!("name = \"acme\"\n{SITE}"));
    let e = f.errors();
    assert_problem(
        &e,
        "acme-2.toml",
        "name",
        &["`acme` is also used by", "acme.toml", "unique"],
    );
    assert_problem(
        &e,
        "sites.d/acme.toml",
        "",
        &["`acme` is also used by", "acme-2.toml"],
    );
}

#[test]
fn duplicate_connector_names_in_a_site_are_refused() {
    let f = Fixture::new();
    f.site(
        "acme",
        &format!("{SITE}[[connector]]\nname = \"sec\"\nproject = \"OPS\"\n"),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.name",
        &["defined twice", "unique within a site"],
    );
}

#[test]
fn mirror_must_name_an_existing_connector() {
    let f = Fixture::new();
    f.site(
        "acme",
        &format!("{SITE}mirror = [\"globex/ops\", \"globex/nope\", \"acme/sec\", \"bad\"]\n"),
    );
    f.site("globex", &SITE.replace("\"sec\"", "\"ops\""));
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.mirror",
        &["`globex/nope` names no configured connector"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.mirror",
        &["`acme/sec` is this connector itself"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.mirror",
        &["`bad` is not a connector reference", "site/connector"],
    );
    assert_eq!(e.problems().len(), 3, "globex/ops exists: {e}");
}

#[test]
fn ambiguous_status_map_is_refused_when_pushing() {
    let statuses = "[connector.statuses]\n\"To Do\" = \"open\"\n\"Backlog\" = \"open\"\n\"Done\" = \"closed\"\n";
    let f = Fixture::new();
    f.site("acme", &format!("{SITE}direction = \"both\"\n{statuses}"));
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "connector.sec.statuses",
        &["`Backlog`, `To Do`", "hub status `open`", "ambiguous"],
    );

    // Pulling only, many Jira statuses may fold into one hub status.
    let f = Fixture::new();
    f.site("acme", &format!("{SITE}direction = \"pull\"\n{statuses}"));
    assert_eq!(f.ok().sites[0].connectors[0].statuses.len(), 3);
}

#[test]
fn zero_and_negative_limits_are_refused() {
    let f = Fixture::new();
    f.site(
        "acme",
        &format!("{SITE}[limits]\nrequests_per_second = 0\nburst = -5\nmax_concurrency = 0\n"),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "limits.requests_per_second",
        &["is 0", "whole number from 1"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "limits.burst",
        &["is -5", "whole number from 1"],
    );
    assert_problem(&e, "acme.toml", "limits.max_concurrency", &["is 0"]);
}

#[test]
fn inline_secret_needs_an_owner_only_file() {
    let inline = SITE.replace(
        "token = { env = \"FAKE_TOKEN\" }",
        "token = \"FAKE-inline-token-555\"",
    );
    let f = Fixture::new();
    let path = f.site("acme", &inline);
    set_mode(&path, 0o644);
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.token",
        &["inline", "group or others can read", "chmod"],
    );
    assert!(!e.to_string().contains("FAKE-inline-token-555"));

    set_mode(&path, 0o640);
    assert_problem(&f.errors(), "acme.toml", "auth.token", &["inline"]);

    set_mode(&path, 0o600);
    let c = f.ok();
    let jira_sync_config::Auth::ApiToken(t) = &c.sites[0].auth else {
        panic!()
    };
    assert_eq!(t.token.expose(), "FAKE-inline-token-555");
}

#[test]
fn bad_names_and_values_say_what_is_allowed() {
    let f = Fixture::new();
    f.site("Acme", SITE);
    f.site(
        "globex",
        &format!("{SITE}direction = \"sideways\"\nconflict = \"coin\"\noverlap = \"10s\"\n[connector.fields]\nseverity = \"Severity Field\"\n"),
    );
    f.daemon("listen = \"localhost\"\nlog_format = \"xml\"\n");
    let e = f.errors();
    assert_problem(&e, "Acme.toml", "", &["site name `Acme`", "lower-case"]);
    assert_problem(
        &e,
        "globex.toml",
        "connector.sec.direction",
        &["`sideways`", "pull, push, both"],
    );
    assert_problem(
        &e,
        "globex.toml",
        "connector.sec.conflict",
        &["`coin`", "newest, jira, hub"],
    );
    assert_problem(
        &e,
        "globex.toml",
        "connector.sec.overlap",
        &["`10s`", "1m to 24h"],
    );
    assert_problem(
        &e,
        "globex.toml",
        "connector.sec.fields.severity",
        &["customfield_NNNNN"],
    );
    assert_problem(&e, "jira-sync.toml", "listen", &["IP:PORT"]);
    assert_problem(&e, "jira-sync.toml", "log_format", &["json, pretty"]);
}

#[test]
fn broken_toml_and_missing_files_are_reported() {
    let f = Fixture::new();
    f.site("acme", "url = \"https://acme.atlassian.net\"\n[auth\n");
    let e = f.errors();
    assert_problem(&e, "acme.toml", "", &["not valid TOML"]);

    let empty = tempfile::tempdir().unwrap();
    let e = jira_sync_config::Loader::with_env(Default::default())
        .load(empty.path())
        .unwrap_err();
    assert_problem(&e, "jira-sync.toml", "", &["not found"]);

    let f = Fixture::new();
    assert_problem(&f.errors(), "sites.d", "", &["no site file"]);
}

#[test]
fn non_toml_and_hidden_files_in_sites_d_are_ignored_and_order_is_sorted() {
    let f = Fixture::new();
    f.site("zeta", &SITE.replace("\"sec\"", "\"z\""));
    f.site("alpha", SITE);
    f.write("sites.d/.alpha.toml.swp.toml", "garbage = [");
    f.write("sites.d/README", "not a site");
    f.write("sites.d/old.toml.bak", "garbage = [");
    let c = f.ok();
    let names: Vec<_> = c.sites.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alpha", "zeta"]);
}

#[test]
fn attachments_are_off_by_default_and_the_size_cap_takes_units() {
    let f = Fixture::new();
    f.site("acme", SITE);
    let c = f.ok();
    let conn = &c.site("acme").unwrap().connectors[0];
    assert!(!conn.attachments, "off unless asked for");
    assert_eq!(conn.max_attachment_size, 10 * 1024 * 1024);
    for (written, bytes) in [
        ("\"10MiB\"", 10 << 20),
        ("\"500 KB\"", 500_000),
        ("\"1.5GiB\"", 3 << 29),
        ("2048", 2048),
        ("\"1gb\"", 1_000_000_000),
    ] {
        let f = Fixture::new();
        f.site(
            "acme",
            &format!("{SITE}attachments = true\nmax_attachment_size = {written}\n"),
        );
        let c = f.ok();
        let conn = &c.site("acme").unwrap().connectors[0];
        assert!(conn.attachments);
        assert_eq!(conn.max_attachment_size, bytes, "{written}");
    }
    for bad in [
        "\"ten megs\"",
        "\"10 parsecs\"",
        "0",
        "\"-1MB\"",
        "-5",
        "1.5",
    ] {
        let f = Fixture::new();
        f.site("acme", &format!("{SITE}max_attachment_size = {bad}\n"));
        let e = f.errors().to_string();
        assert!(
            e.contains("max_attachment_size") && e.contains("KiB, MiB"),
            "{bad}: {e}"
        );
    }
    let f = Fixture::new();
    f.site("acme", &format!("{SITE}max_attachment_size = true\n"));
    assert!(f.errors().to_string().contains("max_attachment_size"));
}

#[test]
fn webhook_keys_need_their_listener_url_and_the_right_secret() {
    let hooked = |extra: &str| format!("webhooks = true\n{extra}{SITE}");
    // A token site with webhooks: a secret, and the daemon's listener and URL.
    let f = Fixture::new();
    f.site("acme", &hooked(""));
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "webhook_secret",
        &["is missing", "admin webhook"],
    );
    assert_problem(
        &e,
        "acme.toml",
        "webhooks",
        &["webhook_listen and webhook_url"],
    );

    let f = Fixture::new();
    f.daemon("webhook_listen = \"127.0.0.1:9464\"\nwebhook_url = \"http://hooks.example/jira\"\n");
    f.site(
        "acme",
        &hooked("webhook_secret = { env = \"FAKE_TOKEN\" }\n"),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "jira-sync.toml",
        "webhook_listen",
        &["takes the port `listen`", "deliveries need their own port"],
    );
    assert_problem(&e, "jira-sync.toml", "webhook_url", &["https://"]);

    // A secret without webhooks, or on an oauth2 site, is refused.
    let f = Fixture::new();
    f.site(
        "acme",
        &format!("webhook_secret = {{ env = \"FAKE_TOKEN\" }}\n{SITE}"),
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "webhook_secret",
        &["without `webhooks = true`"],
    );
    let f = Fixture::new();
    f.daemon("state_dir = \"state\"\nwebhook_listen = \"127.0.0.1:9465\"\nwebhook_url = \"https://hooks.example/jira/\"\n");
    f.site(
        "acme",
        "webhooks = true\nwebhook_secret = { env = \"FAKE_TOKEN\" }\nurl = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"oauth2\"\nclient_id = \"AbCdEf123\"\nclient_secret = { env = \"FAKE_TOKEN\" }\n",
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "webhook_secret",
        &["not used by oauth2 sites"],
    );

    // Complete: the site's delivery URL is the public URL and its name.
    let f = Fixture::new();
    f.daemon(
        "webhook_listen = \"127.0.0.1:9465\"\nwebhook_url = \"https://hooks.example/jira/\"\n",
    );
    f.site(
        "acme",
        &hooked("webhook_secret = { env = \"FAKE_TOKEN\" }\n"),
    );
    let c = f.ok();
    assert!(c.site("acme").unwrap().webhooks);
    assert_eq!(
        c.daemon.webhook_url_of("acme").as_deref(),
        Some("https://hooks.example/jira/acme")
    );
    assert_eq!(c.daemon.webhook_listen.unwrap().port(), 9465);

    // A guessable secret lets anyone sign deliveries; its length is said, never its value.
    let f = Fixture::new().env("FAKE_SHORT", "FAKE-short");
    f.daemon(
        "webhook_listen = \"127.0.0.1:9465\"\nwebhook_url = \"https://hooks.example/jira/\"\n",
    );
    f.site(
        "acme",
        &hooked("webhook_secret = { env = \"FAKE_SHORT\" }\n"),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "webhook_secret",
        &["is 10 characters long", "at least 16"],
    );
    assert!(!e.to_string().contains("FAKE-short"), "{e}");

    // The wildcard address takes the port on every address, `listen`'s too.
    for (hooks, listen) in [
        ("0.0.0.0:9464", "127.0.0.1:9464"),
        ("127.0.0.1:9464", "[::]:9464"),
    ] {
        let f = Fixture::new();
        f.daemon(&format!(
            "listen = \"{listen}\"\nwebhook_listen = \"{hooks}\"\nwebhook_url = \"https://hooks.example/jira/\"\n"
        ));
        f.site(
            "acme",
            &hooked("webhook_secret = { env = \"FAKE_TOKEN\" }\n"),
        );
        assert_problem(
            &f.errors(),
            "jira-sync.toml",
            "webhook_listen",
            &["deliveries need their own port"],
        );
    }
}
