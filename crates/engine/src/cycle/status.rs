//! The status of a linked issue, moved through its workflow: by the workflow's definition
//! where the account may read it, else one hop at a time as Jira offers them (reference
//! jira-cloud-api.md section 11.1; the decisions are `crate::plan`'s pure functions).

use jira_sync_client::ClientError;
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::{IntentKind, Link, Record};
use serde_json::{Value, json};

use super::{Engine, EngineError, Report, SiteCtx, Work};
use crate::mapping::jira_status;
use crate::plan::{FieldRefusal, Refusal, TransitionPlan, next_hop, plan_transition};

/// Transitions one push takes at most on the way to a status, without the workflow's
/// definition (with it, as many as the workflow has statuses).
const MAX_HOPS: usize = 5;

impl Engine {
    /// Moves the issue to `hub_status` through the workflow as Jira offers it: one hop at a
    /// time (Jira lists only the transitions valid from the current status), directly when
    /// a transition goes there, else along the shortest path through what is known of the
    /// workflow, else a step toward the target's status category (see [`next_hop`]); each
    /// hop's screen fields are filled by [`plan_transition`]. What cannot be reached, or
    /// needs a field nobody can give, parks the status with why. An intermediate status
    /// reached on the way becomes the link's base, so the next pull does not read it as a
    /// change made in Jira.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn push_status(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        record: &Record,
        link: &mut Link,
        hub_status: &str,
        work: &mut Work,
        report: &mut Report,
        written: &mut Vec<String>,
    ) -> Result<(), EngineError> {
        let key = link.issue_key.clone();
        let now = (self.now)();
        let target = jira_status(conn, hub_status).to_owned();
        let mut current = match link.base.get("status").and_then(Value::as_str) {
            Some(h) => jira_status(conn, h).to_owned(),
            None => {
                // A just-created issue's status is unknown: it may already be the target.
                let issue = ctx.client.get_issue(&key, &["status".into()], &[]).await?;
                let name = issue["fields"]["status"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                if name.eq_ignore_ascii_case(&target) {
                    link.base.insert("status".into(), json!(hub_status));
                    link.parked.remove("status");
                    return Ok(());
                }
                name
            }
        };
        let resolution = record.fields.get("resolution").and_then(Value::as_str);
        // This project's name for the issue's type: the workflow is chosen per issue type.
        let issue_type = link
            .base
            .get("issuetype")
            .and_then(Value::as_str)
            .map(|t| conn.issuetypes.get(t).map_or(t, String::as_str).to_owned())
            .unwrap_or_default();
        let mut known = self.workflow_map(me, conn, ctx, &issue_type).await?;
        let mut visited = vec![current.clone()];
        let mut refusal = None;
        // The definition is read again at most once per walk: when what Jira offers shows a
        // status it lacks, or it knows no way on (an administrator changed the workflow).
        let mut reread = false;
        let mut hops = 0;
        // A simple path visits each status once: the definition bounds the walk.
        while hops < MAX_HOPS.max(if known.complete { known.ranks.len() } else { 0 }) {
            let transitions = ctx.client.transitions(&key).await?;
            let mut consistent = known.learn(&current, &transitions);
            let mut hop = next_hop(&current, &target, &transitions, &known, &visited);
            if known.complete && (!consistent || hop.is_none()) && !reread {
                reread = true;
                self.forget_workflow_map(me, conn, &issue_type);
                known = self.workflow_map(me, conn, ctx, &issue_type).await?;
                consistent = known.learn(&current, &transitions);
                hop = next_hop(&current, &target, &transitions, &known, &visited);
            }
            if !known.complete {
                // What a walk learns is kept; the definition's map stays as read (this
                // issue's conditions are not every issue's).
                self.keep_workflow_map(me, conn, &issue_type, &known);
            } else if !consistent {
                tracing::debug!(site = %me.site, issue = %key, "The workflow offers statuses its definition lacks.");
            }
            let Some(hop) = hop else {
                report.unreachable.push((key.clone(), target.clone()));
                let offered: Vec<&str> = transitions.iter().map(|t| t.to.name.as_str()).collect();
                refusal = Some(FieldRefusal {
                    field: "status".into(),
                    reason: Refusal::NoTransition,
                    message: format!(
                        "no transition path from `{current}` to `{target}` is known (from `{current}` it offers: {})",
                        if offered.is_empty() {
                            "none".to_owned()
                        } else {
                            offered.join(", ")
                        }
                    ),
                });
                break;
            };
            match plan_transition(&hop, &transitions, resolution, conn.resolution.as_deref()) {
                TransitionPlan::Take {
                    id,
                    fields,
                    resolution,
                } => {
                    let intent = self
                        .intent(me, record.id, IntentKind::Transition { to: target.clone() })
                        .await?;
                    let sent = ctx.client.transition(&key, &id, fields).await;
                    work.done.push(intent);
                    match sent {
                        Ok(()) => {
                            report.transitioned += 1;
                            written.push(link.issue_id.clone());
                            if let Some(r) = resolution {
                                link.base.insert("resolution".into(), json!(r));
                            }
                            if hop.eq_ignore_ascii_case(&target) {
                                link.base.insert("status".into(), json!(hub_status));
                                link.parked.remove("status");
                                return Ok(());
                            }
                            // On the way: what Jira now holds is the base.
                            link.base.insert(
                                "status".into(),
                                json!(conn.statuses.get(&hop).map_or(hop.as_str(), String::as_str)),
                            );
                            visited.push(hop.clone());
                            current = hop;
                            hops += 1;
                        }
                        Err(ClientError::Invalid {
                            errors, messages, ..
                        }) => {
                            let message = errors
                                .iter()
                                .map(|(f, m)| format!("{f}: {m}"))
                                .chain(messages)
                                .collect::<Vec<_>>()
                                .join("; ");
                            let reason = match Refusal::of_message(&message) {
                                Refusal::Refused => Refusal::TransitionNeedsField,
                                other => other,
                            };
                            refusal = Some(FieldRefusal {
                                field: "status".into(),
                                reason,
                                message: format!("transition to `{hop}` refused: {message}"),
                            });
                            break;
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                TransitionPlan::NeedsField { message, .. } => {
                    refusal = Some(FieldRefusal {
                        field: "status".into(),
                        reason: Refusal::TransitionNeedsField,
                        message,
                    });
                    break;
                }
                TransitionPlan::NoTransition { message } => {
                    refusal = Some(FieldRefusal {
                        field: "status".into(),
                        reason: Refusal::NoTransition,
                        message,
                    });
                    break;
                }
            }
        }
        let refusal = refusal.unwrap_or_else(|| FieldRefusal {
            field: "status".into(),
            reason: Refusal::NoTransition,
            message: format!("`{target}` not reached within {hops} transitions"),
        });
        self.park_field(me, conn, record, link, refusal, now, report);
        Ok(())
    }
}
