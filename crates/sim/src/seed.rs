//! `--seed FILE` and the deterministic issue generator.

use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::control::{ControlError, SiteSpec, account_ref};
use crate::model::{FieldKind, PRIORITIES, Site};
use crate::{adf, write};

/// A seed file: `[[site]]` tables, each a [`SiteSpec`], and `[[oauth_client]]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub site: Vec<SiteSpec>,
    #[serde(default)]
    pub oauth_client: Vec<crate::oauth::OAuthClientSpec>,
}

impl SeedFile {
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A seed file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// SplitMix64: small, fast and good enough to make realistic-looking data (and the moves
/// of tests and the demo) reproducible.
#[derive(Debug, Default, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }
}

const WORDS: &[&str] = &[
    "login",
    "token",
    "expired",
    "service",
    "timeout",
    "database",
    "replica",
    "latency",
    "alert",
    "dashboard",
    "customer",
    "invoice",
    "export",
    "import",
    "queue",
    "worker",
    "crash",
    "memory",
    "leak",
    "certificate",
    "rotation",
    "firewall",
    "rule",
    "scan",
    "vulnerability",
    "dependency",
    "upgrade",
    "patch",
    "release",
    "rollback",
    "search",
    "index",
    "cache",
    "page",
    "button",
    "mobile",
    "android",
    "ios",
    "payment",
    "webhook",
    "retry",
    "duplicate",
    "sync",
    "field",
    "report",
    "permission",
    "group",
    "audit",
    "log",
    "backup",
];
const LABELS: &[&str] = &[
    "security",
    "backend",
    "frontend",
    "customer",
    "urgent",
    "tech-debt",
    "ops",
    "sync",
];

fn sentence(rng: &mut Rng, min: usize, max: usize) -> String {
    let n = rng.range(min, max);
    let mut s: Vec<&str> = (0..n).map(|_| *rng.pick(WORDS)).collect();
    let first = s[0].to_owned();
    let mut cap = first[..1].to_uppercase();
    cap.push_str(&first[1..]);
    s[0] = &cap;
    s.join(" ")
}

/// Creates `count` issues in `project` through the same rules as `POST /issue`, then dates
/// them over the past 90 days (created before updated) and adds a few comments.
pub fn generate(
    site: &mut Site,
    project: &str,
    count: usize,
    seed: u64,
    as_account: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ControlError> {
    let reporter = match as_account {
        Some(a) => account_ref(site, a)?,
        None => site.accounts.keys().next().cloned().ok_or_else(|| {
            ControlError::Invalid(format!(
                "site {} has no account to report issues",
                site.name
            ))
        })?,
    };
    let p = site
        .project_by_ref(project)
        .ok_or_else(|| ControlError::NotFound(format!("no project `{project}`")))?
        .clone();
    let accounts: Vec<String> = site.accounts.keys().cloned().collect();
    let fields = site.fields.clone();
    // Generated issues are standard ones (a sub-task needs a parent), with priorities the
    // project's scheme offers.
    let types: Vec<String> = p
        .issue_types
        .iter()
        .filter(|id| site.issue_type(id).is_none_or(|t| t.hierarchy_level >= 0))
        .cloned()
        .collect();
    let priorities: Vec<(&str, &str)> = PRIORITIES
        .iter()
        .copied()
        .filter(|(_, name)| {
            p.priorities
                .as_ref()
                .is_none_or(|allowed| allowed.iter().any(|a| a.eq_ignore_ascii_case(name)))
        })
        .collect();
    let mut rng = Rng(seed ^ 0x6a09_e667_f3bc_c908);
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let paragraphs = rng.range(1, 5);
        let text: Vec<String> = (0..paragraphs)
            .map(|_| sentence(&mut rng, 10, 60))
            .collect();
        let labels: Vec<&str> = (0..rng.range(0, 3)).map(|_| *rng.pick(LABELS)).collect();
        let mut f = json!({
            "project": { "key": p.key },
            "issuetype": { "id": rng.pick(&types) },
            "summary": sentence(&mut rng, 3, 16),
            "description": adf::from_text(&text.join("\n")),
            "labels": labels,
            "priority": { "id": rng.pick(&priorities).0 },
        });
        if rng.range(0, 3) == 0 {
            f["assignee"] = json!({ "accountId": rng.pick(&accounts) });
        }
        for field in &fields {
            let v = match &field.kind {
                FieldKind::Text => json!(sentence(&mut rng, 1, 4)),
                FieldKind::Textarea => adf::from_text(&sentence(&mut rng, 5, 20)),
                FieldKind::Number => json!(rng.range(0, 1000)),
                FieldKind::Date => json!(
                    (now - Duration::days(rng.range(0, 365) as i64))
                        .format("%Y-%m-%d")
                        .to_string()
                ),
                FieldKind::Select(options) => json!({ "value": rng.pick(options) }),
                FieldKind::MultiSelect(options) => json!([{ "value": rng.pick(options) }]),
                FieldKind::DateTime => json!(
                    (now - Duration::minutes(rng.range(0, 365 * 24 * 60) as i64))
                        .format("%Y-%m-%dT%H:%M:00.000+0000")
                        .to_string()
                ),
                FieldKind::Labels => json!([rng.pick(LABELS)]),
                FieldKind::Sprint
                | FieldKind::User
                | FieldKind::MultiUser
                | FieldKind::Group
                | FieldKind::MultiGroup
                | FieldKind::Version
                | FieldKind::MultiVersion => Value::Null,
                FieldKind::Cascading(tree) => {
                    let (parent, children) = rng.pick(tree);
                    json!({ "value": parent, "child": { "value": rng.pick(children) } })
                }
            };
            f[&field.id] = v;
        }
        let id = write::create(site, now, &reporter, &json!({ "fields": f }))?;
        let created = now - Duration::minutes(rng.range(60, 90 * 24 * 60) as i64);
        let updated = created
            + Duration::minutes(rng.range(0, (now - created).num_minutes() as usize) as i64);
        let n_comments = rng.range(0, 3);
        let next_comment = site.next_comment_id;
        let bodies: Vec<Value> = (0..n_comments)
            .map(|_| adf::from_text(&sentence(&mut rng, 5, 40)))
            .collect();
        let who: Vec<String> = (0..n_comments)
            .map(|_| rng.pick(&accounts).clone())
            .collect();
        let key = site
            .write_issue(id, now, |issue| {
                issue.created = created;
                issue.updated = updated;
                for (i, (body, author)) in bodies.into_iter().zip(who).enumerate() {
                    issue.comments.push(crate::model::Comment {
                        visibility: None,
                        id: next_comment + i as u64,
                        author: author.clone(),
                        update_author: author,
                        body,
                        created: updated,
                        updated,
                        properties: Default::default(),
                    });
                }
                for h in &mut issue.history {
                    h.created = created;
                }
                issue.key.clone()
            })
            .expect("just created");
        keys.push(key);
        site.next_comment_id += n_comments as u64;
    }
    Ok(keys)
}
