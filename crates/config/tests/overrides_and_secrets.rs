//! `JIRA_SYNC__...` overrides and `{ credential | file | env }` secret references.

use jira_sync_config::{Auth, SecretSource};
use jira_sync_harness::config_dir::*;

#[test]
fn environment_overrides_daemon_and_site_keys() {
    let f = Fixture::new()
        .env("JIRA_SYNC__LISTEN", "127.0.0.1:19464")
        .env("JIRA_SYNC__LOG_FORMAT", "pretty")
        .env("JIRA_SYNC__SITES__ACME__LIMITS__BURST", "7")
        .env("JIRA_SYNC__SITES__ACME__AUTH__EXPIRES_AT", "2027-01-31");
    f.daemon("listen = \"127.0.0.1:9464\"\n");
    f.site("acme", &format!("{SITE}[limits]\nburst = 20\n"));
    f.site("globex", SITE);
    let c = f.ok();
    assert_eq!(c.daemon.listen.port(), 19464);
    assert_eq!(c.daemon.log_format, jira_sync_config::LogFormat::Pretty);
    assert_eq!(
        c.site("acme").unwrap().limits.burst.get(),
        7,
        "env wins over the file"
    );
    assert_eq!(
        c.site("globex").unwrap().limits.burst.get(),
        20,
        "other sites untouched"
    );
    let at = c.site("acme").unwrap().auth.declared_expiry().unwrap();
    assert_eq!(at.format("%Y-%m-%d").to_string(), "2027-01-31");
}

#[test]
fn environment_override_errors_name_the_variable() {
    let f = Fixture::new()
        .env("JIRA_SYNC__SITES__ACME__LIMITS__BURST", "lots")
        .env("JIRA_SYNC__SITES__NOPE__URL", "https://x.atlassian.net")
        .env("JIRA_SYNC__LISTN", "127.0.0.1:1");
    f.site("acme", SITE);
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "limits.burst",
        &["JIRA_SYNC__SITES__ACME__LIMITS__BURST", "whole number"],
    );
    assert_problem(
        &e,
        "environment",
        "JIRA_SYNC__SITES__NOPE__URL",
        &["names site `nope`", "no file"],
    );
    assert_problem(&e, "jira-sync.toml", "listn", &["unknown key"]);
}

#[test]
fn inline_secret_from_the_environment_is_allowed() {
    let f = Fixture::new().env(
        "JIRA_SYNC__SITES__ACME__AUTH__TOKEN",
        "FAKE-env-inline-token",
    );
    let path = f.site(
        "acme",
        &SITE.replace("token = { env = \"FAKE_TOKEN\" }\n", ""),
    );
    set_mode(&path, 0o644);
    let c = f.ok();
    let Auth::ApiToken(t) = &c.sites[0].auth else {
        panic!()
    };
    assert_eq!(t.token.expose(), "FAKE-env-inline-token");
}

#[test]
fn credential_reference_reads_the_credentials_directory() {
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(
        creds.path().join("acme-token"),
        "FAKE-credential-value-42\n",
    )
    .unwrap();
    let f = Fixture::new().env("CREDENTIALS_DIRECTORY", &creds.path().display().to_string());
    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ credential = \"acme-token\" }",
        ),
    );
    let c = f.ok();
    let Auth::ApiToken(t) = &c.sites[0].auth else {
        panic!()
    };
    assert_eq!(
        t.token.expose(),
        "FAKE-credential-value-42",
        "trailing newline trimmed"
    );
    assert_eq!(
        t.token.source(),
        &SecretSource::Credential("acme-token".into())
    );
    assert_no_secret(&format!("{c:?}"), "FAKE-credential-value-42");
    assert_no_secret(&format!("{}", t.token), "FAKE-credential-value-42");

    // Missing credential, and no credentials directory at all.
    f.site(
        "acme",
        &SITE.replace("{ env = \"FAKE_TOKEN\" }", "{ credential = \"other\" }"),
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "auth.token",
        &["credential `other`", "cannot be read"],
    );
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ credential = \"acme-token\" }",
        ),
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "auth.token",
        &["$CREDENTIALS_DIRECTORY", "LoadCredential=acme-token"],
    );
}

#[test]
fn file_reference_resolves_against_the_config_directory() {
    let f = Fixture::new();
    f.write("secrets/acme.token", "FAKE-file-token-77\n");
    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ file = \"secrets/acme.token\" }",
        ),
    );
    let c = f.ok();
    let Auth::ApiToken(t) = &c.sites[0].auth else {
        panic!()
    };
    assert_eq!(t.token.expose(), "FAKE-file-token-77");
    assert_eq!(
        t.token.source(),
        &SecretSource::File(f.path().join("secrets/acme.token"))
    );
    assert_no_secret(&format!("{c:?}"), "FAKE-file-token-77");

    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ file = \"secrets/missing.token\" }",
        ),
    );
    assert_problem(
        &f.errors(),
        "acme.toml",
        "auth.token",
        &["secrets/missing.token", "cannot be read"],
    );
    f.write("secrets/empty.token", "\n");
    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ file = \"secrets/empty.token\" }",
        ),
    );
    assert_problem(&f.errors(), "acme.toml", "auth.token", &["is empty"]);
}

#[test]
fn env_reference_reads_the_variable() {
    let f = Fixture::new();
    f.daemon("api_token = { env = \"FAKE_TOKEN\" }\n");
    f.site("acme", SITE);
    let c = f.ok();
    assert_eq!(c.daemon.api_token.as_ref().unwrap().expose(), FAKE_SECRET);
    assert_no_secret(&format!("{c:?}"), FAKE_SECRET);

    let f = Fixture::new();
    f.site("acme", &SITE.replace("FAKE_TOKEN", "NOT_SET_ANYWHERE"));
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.token",
        &["`NOT_SET_ANYWHERE`", "not set"],
    );
}

#[test]
fn secret_reference_shape_errors_are_explained() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace("{ env = \"FAKE_TOKEN\" }", "{ vault = \"x\" }"),
    );
    f.site(
        "globex",
        &SITE.replace("{ env = \"FAKE_TOKEN\" }", "{ env = \"A\", file = \"b\" }"),
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.token",
        &["unknown secret source `vault`", "{ credential = \"NAME\" }"],
    );
    assert_problem(&e, "globex.toml", "auth.token", &["exactly one source"]);
}

#[test]
fn secrets_never_appear_in_errors_from_other_keys() {
    // A file full of mistakes next to valid secrets: the rendered errors carry none of them.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("oauth-secret"), "FAKE-client-secret-xyz").unwrap();
    let f = Fixture::new().env("CREDENTIALS_DIRECTORY", &creds.path().display().to_string());
    f.site(
        "acme",
        r#"
url = "https://acme.atlassian.net"
[auth]
method = "client_credentials"
client_id = "AbC"
client_secret = { credential = "oauth-secret" }
token = { env = "FAKE_TOKEN" }
[[connector]]
name = "sec"
project = "SEC"
schedule = "bad"
"#,
    );
    let e = f.errors();
    assert_problem(
        &e,
        "acme.toml",
        "auth.token",
        &["not used by method client_credentials"],
    );
    let text = format!("{e}\n{e:?}");
    assert_no_secret(&text, "FAKE-client-secret-xyz");
    assert_no_secret(&text, FAKE_SECRET);
}

fn assert_no_secret(text: &str, secret: &str) {
    assert!(!text.contains(secret), "secret leaked into: {text}");
}

/// A file that is not valid TOML is reported by line and column, without quoting the line:
/// it may hold a secret (an inline token, a duplicated key).
#[test]
fn a_toml_error_names_the_line_but_never_quotes_it() {
    for body in [
        "url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = \"FAKE-SECRET-INLINE-999\" x\n",
        "url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = \"FAKE-SECRET-INLINE-999\"\ntoken = \"FAKE-SECRET-INLINE-999\"\n",
    ] {
        let f = Fixture::new();
        f.site("acme", body);
        let errs = f.errors();
        let text = errs.to_string();
        assert!(!text.contains("FAKE-SECRET-INLINE-999"), "{text}");
        assert!(
            text.contains("is not valid TOML") && text.contains("line"),
            "{text}"
        );
    }
}

/// A secret file that is a directory, or holds two lines, is refused by name, never sent.
#[test]
fn a_secret_file_must_be_one_line_in_a_file() {
    let f = Fixture::new();
    f.site(
        "acme",
        &SITE.replace(
            "{ env = \"FAKE_TOKEN\" }",
            "{ file = \"secrets/acme.token\" }",
        ),
    );
    std::fs::create_dir_all(f.path().join("secrets/acme.token")).unwrap();
    assert_problem(&f.errors(), "acme.toml", "auth.token", &["is a directory"]);
    std::fs::remove_dir(f.path().join("secrets/acme.token")).unwrap();
    f.write("secrets/acme.token", "FAKE-line-one\nFAKE-line-two\n");
    let errs = f.errors();
    assert_problem(&errs, "acme.toml", "auth.token", &["more than one line"]);
    assert!(!errs.to_string().contains("FAKE-line"), "{errs}");
}
