//! Credential probes: the verdict exported as metrics and stored, the backoff of a credential
//! that does not work, and the site's client once it does.

use super::*;
use jira_sync_config::AuthMethod;

impl Daemon {
    /// Probes `site`'s credential now, exports the verdict, and makes the site ready when it
    /// works. Concurrent calls wait for one probe.
    pub async fn probe(&self, site: &str) -> Option<Verdict> {
        let rt = lock(&self.inner.sites).get(site).cloned()?;
        let _one = rt.probing.lock().await;
        let now = Utc::now();
        let verdict = probe_site(
            &rt.site,
            &rt.provider,
            &self.inner.resolver,
            &self.inner.http,
            Some(&self.inner.vault),
            now,
        )
        .await;
        let m = &self.inner.metrics;
        let name = rt.site.name.as_str();
        for s in CredentialState::ALL {
            m.credential_state
                .with_label_values(&[name, s.as_str()])
                .set(i64::from(s == verdict.state));
        }
        m.credential_up
            .with_label_values(&[name])
            .set(i64::from(verdict.usable()));
        m.credential_last_check_timestamp_seconds
            .with_label_values(&[name])
            .set(now.timestamp() as f64);
        // Series of this site under another method (a reload changed it) or an expiry no
        // longer known (a reload removed `expires_at`) would keep their alerts going.
        let method = rt.site.auth.method();
        for other in AuthMethod::ALL.into_iter().filter(|o| *o != method) {
            let labels = [name, other.as_str()];
            let _ = m.credential_expiry_declared.remove_label_values(&labels);
            let _ = m
                .credential_expiry_timestamp_seconds
                .remove_label_values(&labels);
        }
        if matches!(method, AuthMethod::ApiToken | AuthMethod::ServiceAccount) {
            m.credential_expiry_declared
                .with_label_values(&[name, method.as_str()])
                .set(i64::from(rt.site.auth.declared_expiry().is_some()));
        }
        match verdict.expires_at {
            Some(e) => m
                .credential_expiry_timestamp_seconds
                .with_label_values(&[name, method.as_str()])
                .set(e.timestamp() as f64),
            None => {
                let _ = m
                    .credential_expiry_timestamp_seconds
                    .remove_label_values(&[name, method.as_str()]);
            }
        }
        let _ = self.inner.book.set_site(
            name,
            &SiteStatus {
                state: Some(verdict.state.as_str().into()),
                expires_at: verdict.expires_at,
                checked_at: Some(now),
                message: (!verdict.message.is_empty()).then(|| verdict.message.clone()),
            },
        );
        {
            let mut h = lock(&rt.health);
            let (first, longest) = self.inner.opts.probe_backoff;
            if blocking(verdict.state) {
                h.backoff = if h.backoff.is_zero() {
                    first
                } else {
                    (h.backoff * 2).min(longest)
                };
                h.next_probe = Some(tokio::time::Instant::now() + h.backoff);
                tracing::warn!(site = name, state = %verdict.state, detail = %verdict.message, retry_in_s = h.backoff.as_secs(), "Credential does not work; this site's sync stops until it does.");
            } else {
                h.backoff = Duration::ZERO;
                h.next_probe = None;
            }
            h.verdict = Some(verdict.clone());
            h.checked = Some(now);
        }
        if verdict.usable() && lock(&rt.ctx).is_none() {
            match self.site_ctx(&rt, verdict.api_base.clone()).await {
                Ok(ctx) => {
                    *lock(&rt.ctx) = Some(ctx.clone());
                    self.generation().engine.set_site(name, Some(ctx));
                    tracing::info!(site = name, "Site ready.");
                }
                Err(e) => {
                    tracing::warn!(site = name, error = %e, "Site not ready; the next probe or tick tries again.");
                }
            }
        }
        self.forget_if_site_gone(name);
        Some(verdict)
    }

    /// Drops every series of `site` if a reload removed it meanwhile: work that was under
    /// way (a probe, a run and their requests) writes its site's series after the reload
    /// dropped them. Called once that work has written everything.
    pub(super) fn forget_if_site_gone(&self, site: &str) {
        if !lock(&self.inner.sites).contains_key(site) {
            self.inner.metrics.forget(|l| l.get("site") == Some(&site));
        }
    }

    /// The client and facts of a site whose credential works.
    pub(super) async fn site_ctx(
        &self,
        rt: &SiteRt,
        base: Option<url::Url>,
    ) -> Result<SiteCtx, String> {
        let base = match base {
            Some(b) => b,
            None => self
                .inner
                .resolver
                .api_base(&rt.site, rt.provider.form())
                .await
                .map_err(|e| e.to_string())?,
        };
        let limiter = self
            .inner
            .limiters
            .get(&rt.site.name)
            .ok_or_else(|| format!("no limiter for site {}", rt.site.name))?;
        let client = Client::new(
            &rt.site.name,
            base,
            rt.provider.clone(),
            limiter,
            self.inner.http.clone(),
            Arc::new(PrometheusObserver(self.inner.metrics.clone())),
        );
        SiteCtx::read(client).await.map_err(|e| e.to_string())
    }

    /// The site's credential allows sync traffic: probed when never probed, or when it did
    /// not work and its backoff has passed.
    pub(super) async fn credential_ok(&self, site: &str) -> Result<(), String> {
        let Some(rt) = lock(&self.inner.sites).get(site).cloned() else {
            return Err(format!("site {site} is not run here"));
        };
        let (verdict, due) = {
            let h = lock(&rt.health);
            (
                h.verdict.clone(),
                h.next_probe
                    .is_none_or(|t| tokio::time::Instant::now() >= t),
            )
        };
        let verdict = match verdict {
            Some(v) if !blocking(v.state) => return Ok(()),
            Some(v) if !due => v,
            _ => match self.probe(site).await {
                Some(v) => v,
                None => return Err(format!("site {site} is not run here")),
            },
        };
        if blocking(verdict.state) {
            Err(format!("credential {}: {}", verdict.state, verdict.message))
        } else {
            Ok(())
        }
    }

    /// The token-health job: a credential that does not work is probed on its backoff only.
    pub(super) async fn scheduled_probe(&self, site: &str) {
        let due = lock(&self.inner.sites).get(site).is_some_and(|rt| {
            lock(&rt.health)
                .next_probe
                .is_none_or(|t| tokio::time::Instant::now() >= t)
        });
        if due {
            self.probe(site).await;
        }
    }
}
