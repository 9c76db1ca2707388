//! Simulator building blocks shared by the tests: people, the three-status `ops` workflow, a
//! select field, a site with one bot account, classic tokens, OAuth consents, and request
//! counting.

use jira_sim::Simulator;
use jira_sim::control::{AccountSpec, CredentialSpec, FieldSpec, ProjectSpec, SiteSpec};
use jira_sim::model::{Category, CredentialKind, TransitionSpec, WorkflowSpec};

/// A person with an email Jira shows and a time zone (an IANA name).
pub fn person(name: &str, email: &str, time_zone: &str) -> AccountSpec {
    AccountSpec {
        display_name: name.into(),
        email: Some(email.into()),
        time_zone: Some(time_zone.into()),
        ..Default::default()
    }
}

/// A custom field `id` named `name` of simulator type `kind` (no options); `system`: a
/// system field such as `components`, mapped but not created (see `pair::MirroredField`).
pub fn field(id: &str, name: &str, kind: &str) -> FieldSpec {
    FieldSpec {
        id: Some(id.into()),
        name: name.into(),
        kind: kind.into(),
        options: vec![],
    }
}

/// A person in UTC whose email others see.
pub fn person_utc(name: &str, email: &str) -> AccountSpec {
    person(name, email, "UTC")
}

/// The workflow `ops`: Open -> Working (Start), any -> Closed (Close), Closed -> Open
/// (Reopen). Its status names differ from the default workflow's, as two companies' do.
pub fn ops_workflow() -> WorkflowSpec {
    let transition = |name: &str, from: &[&str], to: &str| transition(name, from, to, false);
    WorkflowSpec {
        name: "ops".into(),
        statuses: vec![
            ("Open".into(), Category::New),
            ("Working".into(), Category::Indeterminate),
            ("Closed".into(), Category::Done),
        ],
        transitions: vec![
            transition("Start", &["Open"], "Working"),
            transition("Close", &[], "Closed"),
            transition("Reopen", &["Closed"], "Open"),
        ],
        locked: vec![],
    }
}

/// [`ops_workflow`] as a company-managed project has it: Close requires a resolution on its
/// screen, and Closed issues cannot be edited.
pub fn strict_ops_workflow() -> WorkflowSpec {
    let mut w = ops_workflow();
    if let Some(close) = w.transitions.iter_mut().find(|t| t.name == "Close") {
        close.screen = vec!["resolution".into()];
        close.required = vec!["resolution".into()];
    }
    w.locked = vec!["Closed".into()];
    w
}

/// A transition of a workflow spec; `resolution` puts a required resolution on its screen.
pub fn transition(name: &str, from: &[&str], to: &str, resolution: bool) -> TransitionSpec {
    let screen: Vec<String> = if resolution {
        vec!["resolution".into()]
    } else {
        vec![]
    };
    TransitionSpec {
        name: name.into(),
        from: from.iter().map(|s| (*s).into()).collect(),
        to: to.into(),
        required: screen.clone(),
        screen,
    }
}

/// A single-select custom field `Severity` (Low, High) with the given id.
pub fn severity(id: &str) -> FieldSpec {
    FieldSpec {
        id: Some(id.into()),
        name: "Severity".into(),
        kind: "select".into(),
        options: vec!["Low".into(), "High".into()],
    }
}

/// A site with one account, `bot@NAME.example`, and a project of `issues` seeded issues.
pub fn bot_site(sim: &Simulator, name: &str, project: &str, issues: usize) {
    sim.control()
        .create_site(SiteSpec {
            name: name.into(),
            accounts: vec![AccountSpec {
                display_name: format!("{name} bot"),
                email: Some(format!("bot@{name}.example")),
                ..Default::default()
            }],
            projects: vec![ProjectSpec {
                key: project.into(),
                seed_issues: Some(issues),
                ..Default::default()
            }],
            ..Default::default()
        })
        .unwrap();
}

/// A classic API token of `account` on `site` that never expires: its value.
pub fn classic_token(sim: &Simulator, site: &str, account: &str) -> String {
    sim.control()
        .create_credential(
            site,
            CredentialSpec {
                kind: CredentialKind::ClassicToken,
                account: account.into(),
                token: None,
                expires_at: None,
                scopes: vec![],
            },
        )
        .unwrap()
        .token
}

/// Every issue of `site`'s `project`, as the simulator holds it (keys 1 to count + 5, so
/// deleted and moved issues leave gaps).
pub fn all_issues(sim: &Simulator, site: &str, project: &str) -> Vec<serde_json::Value> {
    let n = sim.control().issue_count(site).unwrap();
    (1..=n + 5)
        .filter_map(|i| sim.control().issue(site, &format!("{project}-{i}")).ok())
        .collect()
}

/// Requests the simulator served since its counters were reset: for `site`, or in all.
pub fn requests(sim: &Simulator, site: Option<&str>) -> u64 {
    sim.control()
        .counters(site)
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum()
}

/// Write requests the simulator served (create, edit, transition, comment, property, delete):
/// everything but reads, searches and bulk fetches.
pub fn write_requests(sim: &Simulator) -> u64 {
    sim.control()
        .counters(None)
        .unwrap()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("search") && !c.route.contains("bulkfetch")
        })
        .map(|c| c.count)
        .sum()
}

/// An OAuth 2.0 (3LO) app the account `bot@SITE.example` consented to for `site`:
/// (client id, client secret, refresh token), as `jira-sync auth login` would obtain them.
pub async fn consented_app(
    sim: &Simulator,
    site: &str,
    spec: jira_sim::oauth::OAuthClientSpec,
) -> (String, String, String) {
    let (id, secret) = sim
        .control()
        .create_oauth_client(jira_sim::oauth::OAuthClientSpec {
            redirect_uris: vec![REDIRECT.to_owned()],
            ..spec
        })
        .unwrap();
    let refresh = consent(sim, &id, &secret, site).await;
    (id, secret, refresh)
}

const REDIRECT: &str = "http://127.0.0.1:1/callback";

/// The scopes [`consent`] grants: a read-write integration.
pub const CONSENTED: &str = "read:jira-work write:jira-work read:jira-user offline_access";

/// The account `bot@SITE.example` consents (again) to app `id`: a new refresh token.
pub async fn consent(sim: &Simulator, id: &str, secret: &str, site: &str) -> String {
    consent_to(sim, id, secret, site, CONSENTED).await
}

/// The account `bot@SITE.example` consents to app `id` with `scope`: a new refresh token.
pub async fn consent_to(
    sim: &Simulator,
    id: &str,
    secret: &str,
    site: &str,
    scope: &str,
) -> String {
    let code = sim
        .control()
        .oauth_consent(
            id,
            REDIRECT,
            &jira_sim::oauth::Consent {
                account: format!("bot@{site}.example"),
                sites: vec![site.into()],
            },
            scope,
        )
        .unwrap();
    crate::install_crypto();
    let tokens: serde_json::Value = jira_sync_auth::http_client()
        .post(format!("{}/oauth/token", sim.base_url()))
        .json(&serde_json::json!({
            "grant_type": "authorization_code", "client_id": id, "client_secret": secret,
            "code": code, "redirect_uri": REDIRECT,
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    tokens["refresh_token"].as_str().unwrap().to_owned()
}
