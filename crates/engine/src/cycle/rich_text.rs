//! Rich text written on a site: other sites' media as placeholders, mentions mapped by
//! email (the pure rules are [`crate::rich`]'s; reference jira-cloud-api.md section 11.10).

use jira_sync_config::ConnectorRef;
use jira_sync_store::hub::RecordId;
use serde_json::Value;

use super::{Engine, EngineError, PEOPLE_TTL, SiteCtx, Work, locked};
use crate::rich::{self, Mentions, Sources};

impl Engine {
    /// Where each site's media of `record` are shown: its issue on every site it is linked
    /// on (this run's links first), as a browse URL of the site.
    pub(super) fn sources(&self, record: RecordId, work: &Work) -> Result<Sources, EngineError> {
        let mut links = self.hub.links_of(record)?;
        if let Some(l) = work.links.get(&record) {
            links.insert(0, l.clone());
        }
        let mut out = Sources::new();
        for l in links {
            let Some(site) = self.config.sites.iter().find(|s| s.name == l.site) else {
                continue;
            };
            let url = format!(
                "{}/browse/{}",
                site.url.as_str().trim_end_matches('/'),
                l.issue_key
            );
            out.entry(l.site.clone())
                .or_insert((l.issue_key.clone(), url));
        }
        Ok(out)
    }

    /// Hub value `v` as written on `me`'s site: unchanged unless it is rich text, whose
    /// other sites' media become placeholders and whose mentions name the person's account
    /// on this site where their email maps to one (plain text otherwise).
    pub(super) async fn rich_for(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        record: RecordId,
        work: &Work,
        v: &Value,
    ) -> Result<Value, EngineError> {
        if !rich::is_doc(v) {
            return Ok(v.clone());
        }
        let mut mentions = Mentions::new();
        for (site, id) in rich::foreign_mentions(v, &me.site) {
            let target = match self.email_of(&site, &id).await {
                Some(email) => self.account_by_email(me, ctx, &email).await?,
                None => None,
            };
            mentions.insert((site, id), target);
        }
        Ok(rich::for_site(
            v,
            &me.site,
            &self.sources(record, work)?,
            &mentions,
        ))
    }

    /// A field value about to be written on `me`'s site, through [`Engine::rich_for`], with
    /// the fingerprint the site will show it by when it is rich text (kept on the link as
    /// [`jira_sync_store::hub::Link::written`]).
    pub(super) async fn rich_write(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        record: RecordId,
        work: &Work,
        v: Value,
    ) -> Result<(Value, Option<u64>), EngineError> {
        if !rich::is_doc(&v) {
            return Ok((v, None));
        }
        let w = self.rich_for(me, ctx, record, work, &v).await?;
        let print = rich::print(&rich::tag(&w, &me.site));
        Ok((w, Some(print)))
    }

    /// The email of account `id` as `site` shows it (`getUser`), cached like people. Any
    /// failure on that site (not ready, unreachable, refused) reads as "not shown": it only
    /// turns a mention into plain text.
    async fn email_of(&self, site: &str, id: &str) -> Option<String> {
        let now = (self.now)();
        let key = (site.to_owned(), id.to_owned());
        if let Some((at, email)) = locked(&self.emails).get(&key)
            && now - *at < PEOPLE_TTL
        {
            return email.clone();
        }
        let ctx = self.site_ctx(site).ok()?;
        let email = match ctx.client.user(id).await {
            Ok(u) => u
                .and_then(|u| u.email_address)
                .filter(|e| !e.is_empty())
                .map(|e| e.to_lowercase()),
            Err(e) => {
                tracing::debug!(site = %site, error = %e, "A mentioned account could not be read; the mention is written as text.");
                return None;
            }
        };
        locked(&self.emails).insert(key, (now, email.clone()));
        email
    }

    /// The account on `me`'s site whose shown email is `email`, if exactly one (cached for
    /// [`PEOPLE_TTL`]).
    pub(super) async fn account_by_email(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        email: &str,
    ) -> Result<Option<String>, EngineError> {
        let now = (self.now)();
        let key = (me.site.clone(), email.to_owned());
        let cached = locked(&self.people)
            .get(&key)
            .filter(|(at, _)| now - *at < PEOPLE_TTL)
            .map(|(_, id)| id.clone());
        if let Some(id) = cached {
            return Ok(id);
        }
        let id = ctx.client.user_by_email(email).await?.map(|u| u.account_id);
        locked(&self.people).insert(key, (now, id.clone()));
        Ok(id)
    }
}
