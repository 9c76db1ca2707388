//! Webhooks as Jira Cloud sends them (reference jira-cloud-api.md section 9).
//!
//! - **Dynamic webhooks** (`registerDynamicWebhooks`, section 9.1): only OAuth 2.0 (3LO)
//!   apps may register them; at most 5 per app and user on a site; each needs a `jqlFilter`
//!   in the documented subset; they expire 30 days after registration or the last
//!   `refreshWebhooks`. Deliveries carry `Authorization: Bearer <JWT>`, HS256 signed with
//!   the app's client secret (the algorithm is UNCONFIRMED officially; the simulator signs
//!   so, and its claims are `iss`, `iat`, `exp`).
//! - **Admin webhooks** (`POST /rest/webhooks/1.0/webhook`, section 9.2): only accounts that
//!   administer Jira; with a secret, deliveries carry `X-Hub-Signature: sha256=<hex HMAC of
//!   the body>`. They do not expire.
//!
//! Every change of an issue yields its events (`jira:issue_created`, `jira:issue_updated`,
//! `jira:issue_deleted`, `comment_created`, `comment_updated`, `comment_deleted`,
//! `issue_property_set`); a comment change is also a `jira:issue_updated`, as in Jira. Each
//! matching webhook gets one delivery per event with its own
//! `X-Atlassian-Webhook-Identifier`; a delivery answered 408, 409, 425, 429 or 5xx, or not
//! answered, is retried with `X-Atlassian-Webhook-Retry: N` (section 9.1). Per site, faults
//! delay, drop or duplicate deliveries (`WebhookFaults`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration as StdDuration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::jql::{self, Expr, Field, Op};
use crate::model::{Issue, Site, World, lock};
use crate::render;

/// Dynamic webhooks live this long after registration or refresh.
pub const DYNAMIC_TTL: Duration = Duration::days(30);
/// Dynamic webhooks one OAuth 2.0 app and user may hold on a site.
pub const MAX_DYNAMIC_PER_APP_USER: usize = 5;
/// The events a webhook may name (`WebhookDetails.events` in the OpenAPI document).
pub const EVENTS: &[&str] = &[
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
    "issue_property_set",
    "issue_property_deleted",
];
/// Attempts of one delivery: the first and the retries.
const ATTEMPTS: u32 = 5;
/// How long a receiver may take to answer one attempt.
const ANSWER_WITHIN: StdDuration = StdDuration::from_secs(10);

/// Who registered a webhook, and so how its deliveries are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A dynamic webhook of an OAuth 2.0 app (bearer JWT signed with its client secret).
    Dynamic { client_id: String, account: String },
    /// An admin webhook; with a secret, deliveries carry `X-Hub-Signature`.
    Admin {
        name: String,
        secret: Option<String>,
    },
}

/// One registered webhook.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub id: u64,
    pub url: String,
    pub events: Vec<String>,
    /// The JQL filter, checked against the documented subset at registration.
    pub jql: Option<String>,
    pub signer: Signer,
    /// Dynamic webhooks only: after this instant nothing is sent.
    pub expires: Option<DateTime<Utc>>,
}

impl Webhook {
    /// `Webhook` of `getDynamicWebhooksForApp`.
    pub fn render(&self) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "jqlFilter": self.jql,
            "expirationDate": self.expires.map(|t| t.timestamp_millis()),
        })
    }
}

/// Faults of a site's deliveries, set through the control API.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookFaults {
    /// Each delivery waits this long before its first attempt (Jira's are "up to 30
    /// minutes" late, section 9.1).
    pub delay_ms: u64,
    /// The next this many deliveries are never sent.
    pub drop_next: u32,
    /// Every delivery is sent twice, with the same identifier.
    pub duplicate: bool,
}

/// What happened to one delivery (the control API lists them).
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryLog {
    pub identifier: String,
    pub webhook_id: u64,
    pub event: String,
    pub issue_key: String,
    /// The status of each attempt in order; 0 for no answer.
    pub attempts: Vec<u16>,
    pub dropped: bool,
}

/// A site's webhooks and the changes not yet delivered.
#[derive(Debug, Default)]
pub struct SiteWebhooks {
    pub hooks: Vec<Webhook>,
    next_id: u64,
    pub faults: WebhookFaults,
    /// (issue id, the issue before the change or None when created, when): in order.
    touched: Vec<(u64, Option<Issue>, DateTime<Utc>)>,
    /// The delivery log, oldest first (bounded).
    pub log: Vec<DeliveryLog>,
    /// Where the simulator is reached (`http://HOST`), for `self` links.
    origin: String,
    wake: Option<Arc<Notify>>,
}

impl SiteWebhooks {
    /// The most deliveries the log keeps.
    const LOG: usize = 10_000;

    /// Notes a change of issue `id` about to happen, while any webhook is registered.
    pub(crate) fn touch(&mut self, id: u64, before: Option<&Issue>, now: DateTime<Utc>) {
        if self.hooks.is_empty() {
            return;
        }
        self.touched.push((id, before.cloned(), now));
        if let Some(w) = &self.wake {
            w.notify_one();
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        !self.hooks.is_empty()
    }

    /// Adds a webhook; returns its id.
    pub fn add(&mut self, mut hook: Webhook) -> u64 {
        self.next_id += 1;
        hook.id = 10_000 + self.next_id;
        let id = hook.id;
        self.hooks.push(hook);
        id
    }

    fn note(&mut self, entry: DeliveryLog) {
        if self.log.len() >= Self::LOG {
            self.log.remove(0);
        }
        self.log.push(entry);
    }
}

/// The world's delivery machinery: started by the first registration.
#[derive(Debug, Default)]
pub struct Dispatcher {
    wake: Arc<Notify>,
    started: OnceLock<()>,
    next: AtomicU64,
    /// `http://HOST:PORT` of the simulator, once it listens.
    origin: OnceLock<String>,
}

impl Dispatcher {
    /// Where the simulator listens, for the `self` links of payloads.
    pub fn set_origin(&self, origin: String) {
        let _ = self.origin.set(origin);
    }
}

/// Readies `site` for deliveries (its origin and wake-up) and starts the world's
/// dispatcher once. `base` is the URL a registration came through, if any.
pub(crate) fn arm(world: &Arc<World>, site: &mut Site, base: Option<&str>) {
    let origin = base
        .and_then(|b| b.split_once("/site/").or_else(|| b.split_once("/ex/jira/")))
        .map(|(o, _)| o.to_owned())
        .or_else(|| world.dispatcher.origin.get().cloned())
        .unwrap_or_default();
    site.webhooks.origin = origin;
    site.webhooks.wake = Some(world.dispatcher.wake.clone());
    if world.dispatcher.started.set(()).is_ok() {
        tokio::spawn(dispatch(
            Arc::downgrade(world),
            world.dispatcher.wake.clone(),
        ));
    }
}

/// Checks a `jqlFilter` against the subset dynamic webhooks take (section 9.1): `project`,
/// `issueKey`, `status` (the fields the simulator models of `issuetype`, `assignee`,
/// `reporter`, `issue.property`, `cf[id]`) with `=`, `!=`, `IN`, `NOT IN`; `AND`, `OR`,
/// `NOT`; no `ORDER BY`.
pub fn check_filter(site: &Site, text: &str) -> Result<(), String> {
    let q = jql::parse(text)?;
    if !q.order.is_empty() {
        return Err("ORDER BY is not supported in a webhook's JQL filter.".into());
    }
    let Some(filter) = &q.filter else {
        return Err("The JQL filter is required.".into());
    };
    fn walk(e: &Expr) -> Result<(), String> {
        match e {
            Expr::And(a, b) | Expr::Or(a, b) => walk(a).and(walk(b)),
            Expr::Not(a) => walk(a),
            Expr::Clause(c) => {
                let field_ok = matches!(c.field, Field::Project | Field::Issue | Field::Status);
                let op_ok = matches!(c.op, Op::Eq | Op::Ne | Op::In | Op::NotIn);
                if field_ok && op_ok {
                    Ok(())
                } else {
                    Err(format!(
                        "The clause '{}' is not supported in a webhook's JQL filter.",
                        c.text
                    ))
                }
            }
        }
    }
    walk(filter)?;
    jql::compile(&q, site, "", chrono_tz::UTC).map(|_| ())
}

/// One event of a change.
struct Event {
    name: &'static str,
    /// `issue_event_type_name` of `jira:issue_updated`.
    kind: Option<&'static str>,
    comment: Option<u64>,
}

/// The events of one change of an issue: `before` and `after` (None when created or deleted).
fn events(before: Option<&Issue>, after: Option<&Issue>) -> Vec<Event> {
    let ev = |name, kind, comment| Event {
        name,
        kind,
        comment,
    };
    let (b, a) = match (before, after) {
        (None, Some(_)) => return vec![ev("jira:issue_created", None, None)],
        (Some(_), None) => return vec![ev("jira:issue_deleted", None, None)],
        (None, None) => return vec![],
        (Some(b), Some(a)) => (b, a),
    };
    let old: BTreeMap<u64, &crate::model::Comment> = b.comments.iter().map(|c| (c.id, c)).collect();
    let new: BTreeMap<u64, &crate::model::Comment> = a.comments.iter().map(|c| (c.id, c)).collect();
    let mut out = Vec::new();
    for (id, c) in &new {
        match old.get(id) {
            None => {
                out.push(ev("comment_created", None, Some(*id)));
                out.push(ev("jira:issue_updated", Some("issue_commented"), Some(*id)));
            }
            Some(o) if o.body != c.body || o.visibility != c.visibility => {
                out.push(ev("comment_updated", None, Some(*id)));
                out.push(ev(
                    "jira:issue_updated",
                    Some("issue_comment_edited"),
                    Some(*id),
                ));
            }
            Some(_) => {}
        }
    }
    for id in old.keys().filter(|id| !new.contains_key(id)) {
        out.push(ev("comment_deleted", None, Some(*id)));
        out.push(ev(
            "jira:issue_updated",
            Some("issue_comment_deleted"),
            None,
        ));
    }
    if !out.is_empty() {
        return out;
    }
    if a.history.len() > b.history.len() || a.updated != b.updated {
        vec![ev("jira:issue_updated", Some("issue_updated"), None)]
    } else if a.properties != b.properties {
        vec![ev("issue_property_set", None, None)]
    } else {
        vec![]
    }
}

/// A delivery ready to send.
struct Delivery {
    site: String,
    url: String,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    log: DeliveryLog,
}

/// The payload of one event (section 9.1: `webhookEvent`, `timestamp`, `user`, `issue`,
/// `changelog`, `comment`).
fn payload(
    site: &Site,
    issue: &Issue,
    before: Option<&Issue>,
    e: &Event,
    t: DateTime<Utc>,
) -> Value {
    let base = format!("{}/site/{}", site.webhooks.origin, site.name);
    let project = site.projects.iter().find(|p| p.id == issue.project_id);
    let status = site.status(&issue.status);
    let issue_type = site.issue_types.iter().find(|it| it.id == issue.issue_type);
    let actor = issue
        .history
        .last()
        .map(|h| h.author.clone())
        .unwrap_or_else(|| issue.creator.clone());
    let mut v = json!({
        "timestamp": t.timestamp_millis(),
        "webhookEvent": e.name,
        "user": site.accounts.get(&actor).map(|a| render::user(a, &base, false)),
        "issue": {
            "id": issue.id.to_string(),
            "key": issue.key,
            "self": format!("{base}/rest/api/3/issue/{}", issue.id),
            "fields": {
                "project": project.map(|p| json!({"id": p.id.to_string(), "key": p.key, "name": p.name})),
                "issuetype": issue_type.map(|it| json!({"id": it.id, "name": it.name})),
                "status": status.map(|s| json!({"id": s.id, "name": s.name})),
                "summary": issue.summary,
                "created": render::timestamp(issue.created),
                "updated": render::timestamp(issue.updated),
            },
        },
    });
    if let Some(kind) = e.kind {
        v["issue_event_type_name"] = json!(kind);
    }
    if e.name == "jira:issue_updated" && e.kind == Some("issue_updated") {
        let seen = before.map_or(0, |b| b.history.len());
        let items: Vec<Value> = issue.history[seen.min(issue.history.len())..]
            .iter()
            .flat_map(|h| h.items.iter())
            .map(|(field, from, to)| json!({"field": field, "fieldId": field, "fromString": from, "toString": to}))
            .collect();
        v["changelog"] = json!({ "id": issue.history.len().to_string(), "items": items });
    }
    if let Some(id) = e.comment {
        let c = issue
            .comments
            .iter()
            .chain(before.into_iter().flat_map(|b| b.comments.iter()))
            .find(|c| c.id == id);
        if let Some(c) = c {
            v["comment"] = render::comment(site, issue, c, &base, false);
        }
    }
    v
}

/// HS256 JWT over `claims` with `secret` (RFC 7519 compact form).
pub fn jwt_hs256(claims: &Value, secret: &[u8]) -> String {
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing = format!("{head}.{body}");
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, signing.as_bytes());
    format!("{signing}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

/// `sha256=<hex>`: the `X-Hub-Signature` of an admin webhook's delivery.
pub fn hub_signature(body: &[u8], secret: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let sig = ring::hmac::sign(&key, body);
    let hex: String = sig.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Turns the changes noted on `site` into deliveries.
fn collect(world: &World, site: &mut Site, next: &AtomicU64) -> Vec<Delivery> {
    let touched = std::mem::take(&mut site.webhooks.touched);
    let mut out = Vec::new();
    for (i, (id, before, t)) in touched.iter().enumerate() {
        // The state after this change: the state before the next change of the same issue,
        // or the issue as it is.
        let after = touched[i + 1..]
            .iter()
            .find(|(other, _, _)| other == id)
            .map_or_else(|| site.issues().get(id).cloned(), |(_, b, _)| b.clone());
        let Some(shown) = after.as_ref().or(before.as_ref()) else {
            continue;
        };
        for e in events(before.as_ref(), after.as_ref()) {
            for hook in &site.webhooks.hooks {
                if !hook.events.iter().any(|n| n == e.name)
                    || hook.expires.is_some_and(|x| x <= *t)
                    || !filter_matches(site, hook, shown)
                {
                    continue;
                }
                let body = payload(site, shown, before.as_ref(), &e, *t);
                let n = next.fetch_add(1, Ordering::Relaxed) + 1;
                let identifier = format!("{}-{n}", site.cloud_id);
                let body = body.to_string().into_bytes();
                let mut headers = vec![
                    ("content-type", "application/json".to_owned()),
                    ("x-atlassian-webhook-identifier", identifier.clone()),
                ];
                match &hook.signer {
                    Signer::Dynamic { client_id, .. } => {
                        let secret = world
                            .oauth
                            .lock()
                            .expect("oauth lock")
                            .clients
                            .get(client_id)
                            .map(|c| c.secret.clone());
                        // An app deleted since registering gets nothing.
                        let Some(secret) = secret else { continue };
                        let claims = json!({
                            "iss": format!("jira:{}", site.cloud_id),
                            "iat": t.timestamp(),
                            "exp": t.timestamp() + 180,
                        });
                        headers.push((
                            "authorization",
                            format!("Bearer {}", jwt_hs256(&claims, secret.as_bytes())),
                        ));
                    }
                    Signer::Admin {
                        secret: Some(s), ..
                    } => {
                        headers.push(("x-hub-signature", hub_signature(&body, s.as_bytes())));
                    }
                    Signer::Admin { secret: None, .. } => {}
                }
                out.push(Delivery {
                    site: site.name.clone(),
                    url: hook.url.clone(),
                    body,
                    headers,
                    log: DeliveryLog {
                        identifier,
                        webhook_id: hook.id,
                        event: e.name.to_owned(),
                        issue_key: shown.key.clone(),
                        attempts: vec![],
                        dropped: false,
                    },
                });
            }
        }
    }
    out
}

fn filter_matches(site: &Site, hook: &Webhook, issue: &Issue) -> bool {
    let Some(text) = &hook.jql else { return true };
    let caller = match &hook.signer {
        Signer::Dynamic { account, .. } => account.as_str(),
        Signer::Admin { .. } => "",
    };
    jql::parse(text)
        .and_then(|q| jql::compile(&q, site, caller, chrono_tz::UTC))
        .is_ok_and(|c| c.matches(issue))
}

/// The dispatcher: waits for changes, turns them into deliveries and sends each on its own
/// task. Ends when the world is gone.
async fn dispatch(world: Weak<World>, wake: Arc<Notify>) {
    // reqwest is built with rustls elsewhere in the workspace; it needs a provider even for
    // plain http://.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(ANSWER_WITHIN)
        .build()
        .expect("an HTTP client without TLS builds");
    loop {
        wake.notified().await;
        let Some(world) = world.upgrade() else { return };
        let mut ready = Vec::new();
        for name in world.site_names() {
            let Some(site) = world.site(&name) else {
                continue;
            };
            let mut s = lock(&site);
            if s.webhooks.is_active() {
                ready.extend(collect(&world, &mut s, &world.dispatcher.next));
            }
        }
        for d in ready {
            let faults = world
                .site(&d.site)
                .map(|s| {
                    let mut s = lock(&s);
                    let f = s.webhooks.faults.clone();
                    if s.webhooks.faults.drop_next > 0 {
                        s.webhooks.faults.drop_next -= 1;
                    }
                    f
                })
                .unwrap_or_default();
            if faults.drop_next > 0 {
                let mut log = d.log;
                log.dropped = true;
                if let Some(s) = world.site(&d.site) {
                    lock(&s).webhooks.note(log);
                }
                continue;
            }
            let copies = if faults.duplicate { 2 } else { 1 };
            let d = Arc::new(d);
            for _ in 0..copies {
                let (http, d, world) = (http.clone(), d.clone(), Arc::downgrade(&world));
                let delay = StdDuration::from_millis(faults.delay_ms);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let attempts = send(&http, &d).await;
                    if let Some(s) = world.upgrade().and_then(|w| w.site(&d.site)) {
                        let mut log = d.log.clone();
                        log.attempts = attempts;
                        lock(&s).webhooks.note(log);
                    }
                });
            }
        }
    }
}

/// Sends one delivery, retrying as Jira does; returns each attempt's status (0: none).
async fn send(http: &reqwest::Client, d: &Delivery) -> Vec<u16> {
    let mut attempts = Vec::new();
    for n in 0..ATTEMPTS {
        if n > 0 {
            tokio::time::sleep(StdDuration::from_secs(u64::from(n))).await;
        }
        let mut req = http.post(&d.url).body(d.body.clone());
        for (k, v) in &d.headers {
            req = req.header(*k, v);
        }
        if n > 0 {
            req = req.header("x-atlassian-webhook-retry", n.to_string());
        }
        let status = match req.send().await {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        };
        attempts.push(status);
        let retry = status == 0 || matches!(status, 408 | 409 | 425 | 429) || status >= 500;
        if !retry {
            break;
        }
    }
    attempts
}
