//! Rich text written on a site: other sites' media as placeholders, mentions mapped by
//! email (the pure rules are [`crate::rich`]'s; reference jira-cloud-api.md section 11.10).

use jira_sync_config::ConnectorRef;
use jira_sync_store::hub::{Link, Record, RecordId};
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
        Ok(self.sources_of(links))
    }

    /// [`Engine::sources`] of these links.
    fn sources_of(&self, links: Vec<Link>) -> Sources {
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
        out
    }

    /// A record rebuilt from its issues: each rich-text value read on one site shows the
    /// other issues' own files as placeholders; those are the files again (each issue's
    /// base holds them), and a base that shows the rebuilt value is that value, so the
    /// first cycle writes nothing where the sides agree and no site loses a file.
    pub(super) fn rebuild_rich_text(
        &self,
        record: &mut Record,
        links: &mut [Link],
        source_of: &std::collections::BTreeMap<String, String>,
    ) {
        let sources = self.sources_of(links.to_vec());
        let copies = record.media_copies();
        for (f, v) in record.fields.iter_mut() {
            let Some(from) = source_of.get(f).filter(|_| rich::is_doc(v)) else {
                continue;
            };
            for l in links.iter().filter(|l| l.site != *from) {
                if let Some(b) = l.base.get(f).filter(|b| rich::is_doc(b)) {
                    // Placeholders of that issue's own files are those files again; nothing
                    // is added (its copies of the original's files are not other files).
                    *v = rich::restore(v, from, &[b], &sources, &copies);
                }
            }
            for l in links.iter_mut() {
                if let Some(b) = l.base.get(f)
                    && rich::reads_as(b, &l.site, v, &sources, &copies)
                {
                    l.base.insert(f.clone(), v.clone());
                }
            }
        }
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
        let copies = self
            .record(work, record)?
            .map(|r| r.media_copies())
            .unwrap_or_default();
        Ok(rich::for_site_with(
            v,
            &me.site,
            &self.sources(record, work)?,
            &mentions,
            &copies,
        ))
    }

    /// `record` with each rich-text field keeping the files `link`'s issue shows of its own
    /// site (its base), whichever edit won elsewhere: a conflict lost to another site, the
    /// `hub` policy or a rebuilt store never write this site's body without its own images
    /// (Jira would delete the attachment). Kept in this run's work when that changed it.
    pub(super) fn keep_own_media(
        &self,
        me: &ConnectorRef,
        mut record: Record,
        link: &Link,
        work: &mut Work,
    ) -> Record {
        let mut changed = false;
        for (f, base) in &link.base {
            let Some(h) = record.fields.get(f) else {
                continue;
            };
            if !rich::is_doc(base) || !(rich::is_doc(h) || h.is_null()) {
                continue;
            }
            let kept = rich::keep_own(h, base, &me.site);
            if kept != *h {
                record.fields.insert(f.clone(), kept);
                record.field_times.insert(f.clone(), (self.now)());
                changed = true;
            }
        }
        if changed {
            work.records.insert(record.id, record.clone());
        }
        record
    }

    /// Takes each rich-text field `link`'s issue shows as in step when it reads as the hub's
    /// value with the files known now (a rebuilt store learns the copies only when the push
    /// reaches them): no write of a body that already shows the copies.
    pub(super) fn in_step_rich_text(
        &self,
        record: &Record,
        link: &mut Link,
        work: &Work,
    ) -> Result<(), EngineError> {
        let Some(current) = self.record(work, record.id)? else {
            return Ok(());
        };
        let copies = current.media_copies();
        if copies.is_empty() {
            return Ok(());
        }
        let differ = |(f, shown): (&String, &Value)| {
            current
                .fields
                .get(f)
                .is_some_and(|h| shown != h && rich::is_doc(h))
        };
        if !link.base.iter().any(differ) {
            return Ok(());
        }
        let sources = self.sources(record.id, work)?;
        for (f, shown) in link.base.iter_mut() {
            if let Some(h) = current.fields.get(f)
                && shown != h
                && rich::is_doc(h)
                && rich::reads_as(shown, &link.site, h, &sources, &copies)
            {
                *shown = h.clone();
            }
        }
        Ok(())
    }

    /// Whether rich text `h`, in step on `link`, would now be written differently from how
    /// jira-sync last wrote it there (a file copied since shows as its copy, a copy removed
    /// since as a placeholder again): then it is written again. Only called for connectors
    /// that copy files.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn shown_anew(
        &self,
        me: &ConnectorRef,
        ctx: &SiteCtx,
        record: &Record,
        link: &Link,
        field: &str,
        h: &Value,
        work: &Work,
    ) -> Result<bool, EngineError> {
        let Some(last) = link.written.get(field) else {
            return Ok(false);
        };
        if !rich::is_doc(h) {
            return Ok(false);
        }
        let (_, print) = self.rich_write(me, ctx, record.id, work, h.clone()).await?;
        Ok(print.is_some_and(|p| p != *last))
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
