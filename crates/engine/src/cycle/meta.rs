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

/// (site, project, issue type name in lower case) -> (when its workflow was read, what is
/// known of it).
pub(super) type WorkflowCache =
    HashMap<(String, String, String), (DateTime<Utc>, crate::plan::WorkflowMap)>;

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

    /// What is known of the workflow of issue type `issue_type` (this project's name for it)
    /// in `conn`'s project, read again when older than [`ISSUE_TYPES_TTL`]: its definition
    /// where the account may read workflows (`readWorkflows`, see
    /// [`jira_sync_client::Client::workflow`]), else its status categories (`GET
    /// /project/{key}/statuses`) and the edges walks have seen. A failed read leaves what was
    /// known.
    pub(super) async fn workflow_map(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        issue_type: &str,
    ) -> Result<crate::plan::WorkflowMap, EngineError> {
        let key = (
            me.site.clone(),
            conn.project.clone(),
            issue_type.to_lowercase(),
        );
        let now = (self.now)();
        let cached = locked(&self.workflows).get(&key).cloned();
        if let Some((at, map)) = &cached
            && now - *at < ISSUE_TYPES_TTL
        {
            return Ok(map.clone());
        }
        match self.workflow_graph(me, conn, ctx, issue_type).await {
            Ok(Some(graph)) => {
                let map = crate::plan::WorkflowMap::from_graph(&graph);
                locked(&self.workflows).insert(key, (now, map.clone()));
                return Ok(map);
            }
            Ok(None) => {}
            Err(e) if e.is_credential() => return Err(e.into()),
            Err(e) => {
                tracing::debug!(site = %me.site, project = %conn.project, error = %e, "Could not read the workflow; walking by the transitions seen.");
            }
        }
        let mut map = cached
            .map(|(_, m)| m)
            .filter(|m| !m.complete)
            .unwrap_or_default();
        match ctx.client.project_statuses(&conn.project).await {
            Ok(statuses) => {
                for s in statuses {
                    if let Some(r) = s.category_rank() {
                        map.ranks.insert(s.name.to_lowercase(), r);
                    }
                }
                locked(&self.workflows).insert(key, (now, map.clone()));
            }
            Err(e) if e.is_credential() => return Err(e.into()),
            Err(e) => {
                tracing::debug!(site = %me.site, project = %conn.project, error = %e, "Could not read the project's statuses; walking by the transitions seen.");
            }
        }
        Ok(map)
    }

    /// The definition of issue type `issue_type`'s workflow in `conn`'s project, by the
    /// project's id and the type's id; `None` when the account may not read it or the
    /// project has no such type.
    async fn workflow_graph(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        ctx: &SiteCtx,
        issue_type: &str,
    ) -> Result<Option<jira_sync_client::WorkflowGraph>, jira_sync_client::ClientError> {
        let types = match self.project_issue_types(me, conn, ctx).await {
            Ok(t) => t,
            Err(EngineError::Client(e)) => return Err(e),
            Err(_) => return Ok(None),
        };
        let Some((type_id, _)) = types
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(issue_type))
        else {
            return Ok(None);
        };
        let project = ctx.client.project(&conn.project).await?;
        ctx.client.workflow(&project.id, type_id).await
    }

    /// Forgets what is known of `issue_type`'s workflow in `conn`'s project: the next walk
    /// reads it again.
    pub(super) fn forget_workflow_map(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        issue_type: &str,
    ) {
        locked(&self.workflows).remove(&(
            me.site.clone(),
            conn.project.clone(),
            issue_type.to_lowercase(),
        ));
    }

    /// Keeps what a walk learnt of the workflow of `issue_type` in `conn`'s project.
    pub(super) fn keep_workflow_map(
        &self,
        me: &ConnectorRef,
        conn: &Connector,
        issue_type: &str,
        map: &crate::plan::WorkflowMap,
    ) {
        let mut all = locked(&self.workflows);
        let entry = all
            .entry((
                me.site.clone(),
                conn.project.clone(),
                issue_type.to_lowercase(),
            ))
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
