//! When each side changed a field both sides changed: the `newest` conflict policy compares
//! the times the *field* changed, from each issue's changelog (reference jira-cloud-api.md
//! section 11.8), not the issues' `updated`, which moves with every other field's edit too.
//! Changelogs are read only for an issue whose fields conflict.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use jira_sync_config::{ConflictPolicy, Connector, ConnectorRef};
use serde_json::Value;

use super::{Engine, EngineError, SiteCtx, Work, jira_time};
use crate::mapping::to_hub;

/// Hub field -> (when it changed on this issue, when it last changed on the record's other
/// issues), each where a changelog says.
pub(super) type FieldTimes = BTreeMap<String, (Option<DateTime<Utc>>, Option<DateTime<Utc>>)>;

/// The Jira field id of hub field `f` on connector `c` (as changelogs name it).
fn field_id<'a>(c: &'a Connector, f: &'a str) -> &'a str {
    c.fields.get(f).map_or(f, String::as_str)
}

impl Engine {
    /// The change times of the fields of `issue` (of `me`) that conflict with the hub (both
    /// sides changed them since the link's base, to different values), under `newest`.
    pub(super) async fn conflict_times(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        issue: &Value,
        fields: &[String],
        work: &Work,
    ) -> Result<FieldTimes, EngineError> {
        let mut times = FieldTimes::new();
        if conn.conflict != ConflictPolicy::Newest {
            return Ok(times);
        }
        let id = issue["id"].as_str().unwrap_or_default();
        let link = match work
            .links
            .values()
            .find(|l| l.site == me.site && l.connector == me.connector && l.issue_id == id)
        {
            Some(l) => Some(l.clone()),
            None => self.hub.link(&me.site, &me.connector, id)?,
        };
        let Some(link) = link else {
            return Ok(times);
        };
        let Some(record) = self.record(work, link.record)? else {
            return Ok(times);
        };
        let jira = to_hub(conn, &ctx.field_types, &me.site, &issue["fields"]);
        let conflicting: Vec<&String> = fields
            .iter()
            .filter(|f| {
                let (Some(j), Some(base)) = (jira.get(*f), link.base.get(*f)) else {
                    return false;
                };
                let h = record.fields.get(*f);
                j != base && h != Some(base) && h != Some(j)
            })
            .collect();
        if conflicting.is_empty() {
            return Ok(times);
        }
        let here = ctx.client.field_change_times(&link.issue_key).await?;
        let mut there: BTreeMap<&String, DateTime<Utc>> = BTreeMap::new();
        for other in self.hub.links_of(record.id)? {
            if (other.site == me.site && other.connector == me.connector) || other.missing.is_some()
            {
                continue;
            }
            let r = ConnectorRef {
                site: other.site.clone(),
                connector: other.connector.clone(),
            };
            let (Some((_, other_conn)), Ok(octx)) =
                (self.config.connector(&r), self.site_ctx(&other.site))
            else {
                continue;
            };
            // Another site's trouble leaves its time unknown; it never stops this run.
            match octx.client.field_change_times(&other.issue_key).await {
                Ok(t) => {
                    for f in &conflicting {
                        if let Some(at) = t.get(field_id(other_conn, f)).and_then(|s| jira_time(s))
                        {
                            there
                                .entry(*f)
                                .and_modify(|x| *x = (*x).max(at))
                                .or_insert(at);
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(site = %other.site, issue = %other.issue_key, error = %e, "No changelog of the other side; the issues' times decide.");
                }
            }
        }
        for f in conflicting {
            let mine = here.get(field_id(conn, f)).and_then(|s| jira_time(s));
            times.insert(f.clone(), (mine, there.get(f).copied()));
        }
        Ok(times)
    }
}
