//! Each auth method end to end against the simulator: provider, cloud ID, grant check,
//! health probe and site facts.

use chrono::{Duration, Utc};
use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, ProjectSpec, SiteSpec};
use jira_sim::model::CredentialKind;
use jira_sim::oauth::{Consent, OAuthClientSpec};
use jira_sync_auth::login::exchange;
use jira_sync_auth::scopes::required;
use jira_sync_auth::{CredentialState, Provider, Target, http_client, probe};
use jira_sync_config::*;
use jira_sync_resolver::{ResolveError, Resolver};
use jira_sync_store::{RefreshToken, Store};
use url::Url;

const CALLBACK: &str = "http://127.0.0.1:1/callback";

async fn sim() -> Simulator {
    let sim = Simulator::start().await.unwrap();
    sim.control()
        .create_site(SiteSpec {
            name: "acme".into(),
            accounts: vec![
                AccountSpec {
                    display_name: "Alice".into(),
                    email: Some("alice@acme.example".into()),
                    time_zone: Some("Europe/Berlin".into()),
                    ..Default::default()
                },
                AccountSpec {
                    display_name: "Bot".into(),
                    email: Some("bot@serviceaccount.atlassian.com".into()),
                    account_type: Some("app".into()),
                    ..Default::default()
                },
            ],
            projects: vec![ProjectSpec {
                key: "SEC".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
    sim
}

fn site(sim: &Simulator, auth: Auth) -> Site {
    Site {
        connectors: vec![Connector {
            name: "sec".into(),
            project: "SEC".into(),
            jql: None,
            schedule: Schedule::parse("0 */5 * * * *").unwrap(),
            direction: Direction::Both,
            mirror: vec![],
            conflict: ConflictPolicy::Newest,
            overlap: std::time::Duration::from_secs(300),
            propagate_deletes: false,
            resolution: None,
            issuetypes: Default::default(),
            comments: Default::default(),
            attachments: false,
            max_attachment_size: 10 << 20,
            fields: Default::default(),
            statuses: Default::default(),
        }],
        ..jira_sync_harness::sites::site(&sim.site_url("acme"), auth)
    }
}

/// Resolves and probes `site`; returns the health and the facts.
async fn flow(
    sim: &Simulator,
    site: &Site,
    vault: Option<jira_sync_store::Vault>,
) -> (
    jira_sync_auth::Health,
    Result<jira_sync_resolver::SiteFacts, ResolveError>,
) {
    let base = Url::parse(&sim.base_url()).unwrap();
    let provider = Provider::new(site, &base, http_client(), vault);
    let resolver = Resolver::new(http_client(), base.clone(), None);
    let cloud = resolver.cloud_id(site).await.unwrap();
    let gateway = resolver.gateway_base(&cloud);
    if provider.method() == AuthMethod::OAuth2 || provider.method() == AuthMethod::ClientCredentials
    {
        // A revoked grant fails here; the probe below classifies it.
        if let Ok(r) = resolver.check_grant(site, &provider).await {
            assert_eq!(r.id, cloud);
        }
    }
    let req = required(&site.connectors);
    let t = Target {
        site_url: &site.url,
        gateway_base: Some(&gateway),
        required: &req,
        project: Some("SEC"),
        expires_at: site.auth.declared_expiry(),
        window: Duration::days(28),
    };
    let h = probe(&provider, &http_client(), &t, Utc::now()).await;
    let api = resolver.api_base(site, provider.form()).await.unwrap();
    let facts = resolver.facts(site, &provider, &api).await;
    (h, facts)
}

fn cred(sim: &Simulator, kind: CredentialKind, account: &str, scopes: &[&str]) -> String {
    sim.control()
        .create_credential(
            "acme",
            CredentialSpec {
                kind,
                account: account.into(),
                token: None,
                expires_at: None,
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        )
        .unwrap()
        .token
}

const RW: &[&str] = &["read:jira-work", "write:jira-work", "read:jira-user"];

#[tokio::test]
async fn api_token_flow() {
    let sim = sim().await;
    let token = cred(
        &sim,
        CredentialKind::ClassicToken,
        "alice@acme.example",
        &[],
    );
    let expires = Utc::now() + Duration::days(300);
    let s = site(
        &sim,
        Auth::ApiToken(ApiToken {
            email: "alice@acme.example".into(),
            token: Secret::new(token),
            expires_at: Some(expires),
        }),
    );
    let (h, facts) = flow(&sim, &s, None).await;
    assert_eq!(
        (h.state, h.expires_at),
        (CredentialState::Valid, Some(expires)),
        "{}",
        h.message
    );
    let facts = facts.unwrap();
    assert_eq!(facts.time_zone, "Europe/Berlin");
    assert!(facts.fields.contains_key("Summary"));
    assert_eq!(facts.projects["SEC"].statuses["Done"].1, "done");
}

#[tokio::test]
async fn service_account_flow_and_a_token_on_the_wrong_form() {
    let sim = sim().await;
    let token = cred(
        &sim,
        CredentialKind::ServiceAccountToken,
        "bot@serviceaccount.atlassian.com",
        RW,
    );
    let sa = ApiToken {
        email: "bot@serviceaccount.atlassian.com".into(),
        token: Secret::new(token),
        expires_at: None,
    };
    let (h, facts) = flow(&sim, &site(&sim, Auth::ServiceAccount(sa.clone())), None).await;
    assert_eq!(h.state, CredentialState::Valid, "{}", h.message);
    assert_eq!(facts.unwrap().time_zone, "UTC");
    // The same scoped token configured as a classic API token: 401 on the site URL, works on
    // the gateway, and the probe says so.
    let (h, _) = flow(&sim, &site(&sim, Auth::ApiToken(sa)), None).await;
    assert_eq!(h.state, CredentialState::Revoked);
    assert!(h.message.contains("service_account"), "{}", h.message);
    // A read-only scoped token.
    let ro = cred(
        &sim,
        CredentialKind::ScopedToken,
        "alice@acme.example",
        &["read:jira-user"],
    );
    let s = site(
        &sim,
        Auth::ServiceAccount(ApiToken {
            email: "alice@acme.example".into(),
            token: Secret::new(ro),
            expires_at: None,
        }),
    );
    let (h, _) = flow(&sim, &s, None).await;
    assert_eq!(
        (h.state, h.missing_scopes),
        (
            CredentialState::InsufficientScope,
            vec!["read:jira-work".to_owned()]
        )
    );
}

#[tokio::test]
async fn oauth2_flow_with_rotation_and_a_revoked_grant() {
    let sim = sim().await;
    let (id, secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            redirect_uris: vec![CALLBACK.into()],
            ..Default::default()
        })
        .unwrap();
    let scope = "read:jira-work write:jira-work read:jira-user offline_access";
    let code = sim
        .control()
        .oauth_consent(
            &id,
            CALLBACK,
            &Consent {
                account: "alice@acme.example".into(),
                sites: vec!["acme".into()],
            },
            scope,
        )
        .unwrap();
    let base = Url::parse(&sim.base_url()).unwrap();
    let tokens = exchange(
        &http_client(),
        &base,
        &id,
        &secret,
        &code,
        &Url::parse(CALLBACK).unwrap(),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let vault = store.vault().unwrap();
    let now = Utc::now();
    let first = tokens.refresh_token.unwrap();
    vault
        .put_refresh_token(
            "acme",
            &RefreshToken {
                token: Secret::new(first.clone()),
                consented_at: now,
                issued_at: now,
                seed: None,
            },
        )
        .await
        .unwrap();
    let s = site(
        &sim,
        Auth::OAuth2(OAuth2 {
            client_id: id,
            client_secret: Secret::new(secret),
            initial_refresh_token: None,
        }),
    );
    let (h, facts) = flow(&sim, &s, Some(vault.clone())).await;
    assert_eq!(h.state, CredentialState::Valid, "{}", h.message);
    assert_eq!(facts.unwrap().time_zone, "Europe/Berlin");
    assert_ne!(
        vault.refresh_token("acme").unwrap().unwrap().token.expose(),
        first,
        "the provider rotated and stored"
    );

    sim.control()
        .revoke_grant(&sim.control().grants()[0].id)
        .unwrap();
    let (h, _) = flow(&sim, &s, Some(vault)).await;
    assert_eq!(h.state, CredentialState::Revoked, "{}", h.message);
    assert!(h.message.contains("auth login acme"), "{}", h.message);
}

#[tokio::test]
async fn client_credentials_flow_and_a_grant_that_misses_the_site() {
    let sim = sim().await;
    let (id, secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: RW.iter().map(|s| s.to_string()).collect(),
            service_account: Some(Consent {
                account: "bot@serviceaccount.atlassian.com".into(),
                sites: vec!["acme".into()],
            }),
            ..Default::default()
        })
        .unwrap();
    let s = site(
        &sim,
        Auth::ClientCredentials(ClientCredentials {
            client_id: id,
            client_secret: Secret::new(secret),
        }),
    );
    let (h, facts) = flow(&sim, &s, None).await;
    assert_eq!(h.state, CredentialState::Valid, "{}", h.message);
    assert!(facts.is_ok());

    // A grant that reaches another site only.
    sim.control()
        .create_site(SiteSpec {
            name: "other".into(),
            accounts: vec![AccountSpec {
                display_name: "Bot".into(),
                email: Some("bot@serviceaccount.atlassian.com".into()),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
    let (id, secret) = sim
        .control()
        .create_oauth_client(OAuthClientSpec {
            kind: Some("service_account".into()),
            scopes: RW.iter().map(|s| s.to_string()).collect(),
            service_account: Some(Consent {
                account: "bot@serviceaccount.atlassian.com".into(),
                sites: vec!["other".into()],
            }),
            ..Default::default()
        })
        .unwrap();
    let s = site(
        &sim,
        Auth::ClientCredentials(ClientCredentials {
            client_id: id,
            client_secret: Secret::new(secret),
        }),
    );
    let base = Url::parse(&sim.base_url()).unwrap();
    let provider = Provider::new(&s, &base, http_client(), None);
    let e = Resolver::new(http_client(), base, None)
        .check_grant(&s, &provider)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("does not reach") && e.contains("/site/other"),
        "{e}"
    );
}
