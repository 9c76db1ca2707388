//! What a run knows of a target project, read from Jira and kept for an hour: its issue
//! types and create screens (create metadata), edit screens per issue type and status (edit
//! metadata), and its workflow as far as seen (status categories, transitions).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use jira_sync_config::{Connector, ConnectorRef};
use jira_sync_store::hub::Link;
use serde_json::Value;

use super::{Engine, EngineError, SiteCtx, locked};

/// (site, project) -> (when read, the project's issue types as (id, name)), reused for
/// [`ISSUE_TYPES_TTL`].
pub(super) type IssueTypeCache = HashMap<(String, String), (DateTime<Utc>, Vec<(String, String)>)>;

/// (site, project, issue type id) -> (when read, the create screen's fields).
pub(super) type CreateScreenCache = HashMap<
    (String, String, String),
    (DateTime<Utc>, BTreeMap<String, jira_sync_client::FieldMeta>),
>;

/// (site, project, issue type name, status name) -> (when read, the edit screen's fields).
pub(super) type EditScreenCache = HashMap<
    (String, String, String, String),
    (DateTime<Utc>, BTreeMap<String, jira_sync_client::FieldMeta>),
>;

/// (site, project) -> (when its statuses were read, what is known of its workflow).
pub(super) type WorkflowCache =
    HashMap<(String, String), (DateTime<Utc>, crate::plan::WorkflowMap)>;

/// How long a project's create metadata (its issue types) is reused.
pub(super) const ISSUE_TYPES_TTL: Duration = Duration::hours(1);

impl Engine {
    /// The issue types a create in `conn`'s project may use, as (id, name): from create
    /// metadata (`getCreateIssueMetaIssueTypes`), cached for an hour per site and project.
    pub(super) async fn project_issue_types(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
    ) -> Result<Vec<(String, String)>, EngineError> {
        let key = (me.site.clone(), conn.project.clone());
        let now = (self.now)();
        if let Some((at, types)) = locked(&self.issue_types).get(&key)
            && now - *at < ISSUE_TYPES_TTL
        {
            return Ok(types.clone());
        }
        let types: Vec<(String, String)> = ctx
            .client
            .createmeta_issue_types(&conn.project)
            .await?
            .into_iter()
            .map(|t| (t.id, t.name))
            .collect();
        locked(&self.issue_types).insert(key, (now, types.clone()));
        Ok(types)
    }

    /// What is known of `conn`'s project's workflow; its status categories are read again
    /// (`GET /project/{key}/statuses`) when older than [`ISSUE_TYPES_TTL`]. A failed read
    /// leaves what was known: the walk then relies on the edges seen.
    pub(super) async fn workflow_map(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
    ) -> crate::plan::WorkflowMap {
        let key = (me.site.clone(), conn.project.clone());
        let now = (self.now)();
        let cached = locked(&self.workflows).get(&key).cloned();
        if let Some((at, map)) = &cached
            && now - *at < ISSUE_TYPES_TTL
        {
            return map.clone();
        }
        let mut map = cached.map(|(_, m)| m).unwrap_or_default();
        match ctx.client.project_statuses(&conn.project).await {
            Ok(statuses) => {
                for s in statuses {
                    if let Some(r) = s.category_rank() {
                        map.ranks.insert(s.name.to_lowercase(), r);
                    }
                }
                locked(&self.workflows).insert(key, (now, map.clone()));
            }
            Err(e) => {
                tracing::debug!(site = %me.site, project = %conn.project, error = %e, "Could not read the project's statuses; walking by the transitions seen.");
            }
        }
        map
    }

    /// Keeps what a walk learnt of `conn`'s project's workflow.
    pub(super) fn keep_workflow_map(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        map: &crate::plan::WorkflowMap,
    ) {
        let mut all = locked(&self.workflows);
        let entry = all
            .entry((me.site.clone(), conn.project.clone()))
            .or_insert_with(|| ((self.now)() - ISSUE_TYPES_TTL, Default::default()));
        entry.1 = map.clone();
    }

    /// The create screen of issue type `type_id` in `conn`'s project (field id -> what it
    /// takes), cached for an hour.
    pub(super) async fn create_screen(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        type_id: &str,
    ) -> Result<BTreeMap<String, jira_sync_client::FieldMeta>, EngineError> {
        let key = (me.site.clone(), conn.project.clone(), type_id.to_owned());
        let now = (self.now)();
        if let Some((at, screen)) = locked(&self.create_screens).get(&key)
            && now - *at < ISSUE_TYPES_TTL
        {
            return Ok(screen.clone());
        }
        let screen = ctx.client.createmeta_fields(&conn.project, type_id).await?;
        locked(&self.create_screens).insert(key, (now, screen.clone()));
        Ok(screen)
    }

    /// The edit screen of `link`'s issue (`getEditIssueMeta`), cached for an hour per issue
    /// type and status as the link last saw them (the screen depends on both: a status
    /// whose issues cannot be edited offers no field).
    pub(super) async fn edit_screen(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        link: &Link,
    ) -> Result<BTreeMap<String, jira_sync_client::FieldMeta>, EngineError> {
        let ty = link.base.get("issuetype").and_then(Value::as_str);
        let status = link.base.get("status").and_then(Value::as_str);
        let key = ty.zip(status).map(|(t, s)| {
            (
                me.site.clone(),
                conn.project.clone(),
                conn.issuetypes
                    .get(t)
                    .map_or(t, String::as_str)
                    .to_lowercase(),
                crate::mapping::jira_status(conn, s).to_lowercase(),
            )
        });
        let now = (self.now)();
        if let Some(k) = &key
            && let Some((at, screen)) = locked(&self.edit_screens).get(k)
            && now - *at < ISSUE_TYPES_TTL
        {
            return Ok(screen.clone());
        }
        let screen = ctx.client.editmeta(&link.issue_key).await?;
        if let Some(k) = key {
            locked(&self.edit_screens).insert(k, (now, screen.clone()));
        }
        Ok(screen)
    }

    /// Forgets the edit screens of `conn`'s project: the next edit reads them again.
    pub(super) fn forget_edit_screens(&self, me: &ConnectorRef, conn: &Connector) {
        locked(&self.edit_screens)
            .retain(|(site, project, _, _), _| *site != me.site || *project != conn.project);
    }

    /// Forgets `conn`'s project's issue types and create screens: the next create reads
    /// them again.
    pub(super) fn forget_issue_types(&self, me: &ConnectorRef, conn: &Connector) {
        locked(&self.issue_types).remove(&(me.site.clone(), conn.project.clone()));
        locked(&self.create_screens)
            .retain(|(site, project, _), _| *site != me.site || *project != conn.project);
    }
}
