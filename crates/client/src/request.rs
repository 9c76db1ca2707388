//! The request loop: limiter, credential, send, classify, retry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jira_sync_auth::{AuthError, Provider};
use jira_sync_ratelimit::retry::{Failure, Idempotency, Retry};
use jira_sync_ratelimit::{SiteLimiter, Throttle};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

use crate::error::ClientError;

/// Hears about every HTTP exchange: for `jira_sync_http_requests_total{site,endpoint,status}`
/// and `jira_sync_http_request_duration_seconds{site,endpoint}`. `endpoint` is the route
/// template, never a raw URL; `status` is `None` when no response came.
pub trait Observer: Send + Sync + std::fmt::Debug {
    fn request(&self, site: &str, endpoint: &str, status: Option<u16>, elapsed: Duration);
}

/// The observer that fills `jira_sync_http_requests_total` and
/// `jira_sync_http_request_duration_seconds` (status `error` when no response came).
#[derive(Debug, Clone)]
pub struct PrometheusObserver(pub jira_sync_metrics::Metrics);

impl Observer for PrometheusObserver {
    fn request(&self, site: &str, endpoint: &str, status: Option<u16>, elapsed: Duration) {
        let status = status.map_or_else(|| "error".to_owned(), |s| s.to_string());
        self.0
            .http_requests_total
            .with_label_values(&[site, endpoint, status.as_str()])
            .inc();
        self.0
            .http_request_duration_seconds
            .with_label_values(&[site, endpoint])
            .observe(elapsed.as_secs_f64());
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn request(&self, _: &str, _: &str, _: Option<u16>, _: Duration) {}
}

/// A client of one site.
#[derive(Debug, Clone)]
pub struct Client {
    pub(crate) site: String,
    /// The API base: the site URL or `{gateway}/ex/jira/{cloudId}`.
    pub(crate) base: Url,
    provider: Arc<Provider>,
    limiter: Arc<SiteLimiter>,
    http: reqwest::Client,
    observer: Arc<dyn Observer>,
    /// First retry delay: Atlassian's 2 s unless a test shortens it.
    retry_base: Duration,
}

/// One operation's request.
#[derive(Debug)]
pub(crate) struct Req<'a> {
    pub method: Method,
    /// The route template under `api`, e.g. `/issue/{issueIdOrKey}`.
    pub endpoint: &'static str,
    /// The concrete path under `api`.
    pub path: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub idempotency: Idempotency,
    /// For writes to one issue: its key or id (per-issue limits).
    pub write_to: Option<&'a str>,
    /// Non-2xx statuses whose body is the operation's answer (bulk create's 400).
    pub answers: &'static [u16],
    /// A body that is not JSON: (content type, bytes), e.g. a multipart upload.
    pub raw: Option<(String, Arc<Vec<u8>>)>,
    /// Extra headers (`X-Atlassian-Token: no-check` for uploads).
    pub headers: Vec<(&'static str, &'static str)>,
    /// Answer the URL the request ended at (after redirects) instead of the body, which is
    /// not read (a file's location, not the file).
    pub located: bool,
    /// The REST API the path is under: `/rest/api/3`, or `/rest/webhooks/1.0` (admin
    /// webhooks).
    pub api: &'static str,
}

/// Jira's platform REST API v3: where every operation but admin webhooks lives.
pub(crate) const API3: &str = "/rest/api/3";

impl<'a> Req<'a> {
    pub fn get(endpoint: &'static str, path: impl Into<String>) -> Self {
        Req {
            method: Method::GET,
            endpoint,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency: Idempotency::Safe,
            write_to: None,
            answers: &[],
            raw: None,
            headers: Vec::new(),
            located: false,
            api: API3,
        }
    }

    pub fn send(
        method: Method,
        endpoint: &'static str,
        path: impl Into<String>,
        body: Value,
    ) -> Self {
        Req {
            method,
            endpoint,
            path: path.into(),
            query: Vec::new(),
            body: Some(body),
            idempotency: Idempotency::Safe,
            write_to: None,
            answers: &[],
            raw: None,
            headers: Vec::new(),
            located: false,
            api: API3,
        }
    }
}

impl Client {
    /// A client of `site` at `base`; `http` carries the timeouts (see `jira_sync_auth::http_client`).
    pub fn new(
        site: &str,
        base: Url,
        provider: Arc<Provider>,
        limiter: Arc<SiteLimiter>,
        http: reqwest::Client,
        observer: Arc<dyn Observer>,
    ) -> Self {
        Client {
            site: site.to_owned(),
            base,
            provider,
            limiter,
            http,
            observer,
            retry_base: Duration::from_secs(2),
        }
    }

    pub fn site(&self) -> &str {
        &self.site
    }

    /// Starts retry backoff at `base` instead of 2 s (tests that meet many 5xx).
    pub fn with_retry_base(mut self, base: Duration) -> Self {
        self.retry_base = base;
        self
    }

    fn url(&self, api: &str, path: &str) -> Url {
        let mut u = self.base.clone();
        let p = format!("{}{api}{path}", u.path().trim_end_matches('/'));
        u.set_path(&p);
        u
    }

    /// Sends `req` and decodes the body as `T` (`()`-like callers use [`Client::execute_empty`]).
    pub(crate) async fn execute<T: DeserializeOwned>(
        &self,
        req: Req<'_>,
    ) -> Result<T, ClientError> {
        let endpoint = format!("{}{}", req.api, req.endpoint);
        let (status, bytes) = self.exchange(req).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            endpoint,
            status,
            detail: e.to_string(),
        })
    }

    /// Sends `req` and returns the status with the raw body: for operations whose refusals
    /// listed in `req.answers` are an answer too.
    pub(crate) async fn execute_raw(&self, req: Req<'_>) -> Result<(u16, Vec<u8>), ClientError> {
        self.exchange(req).await
    }

    /// Sends `req`; the body is not read as JSON.
    pub(crate) async fn execute_empty(&self, req: Req<'_>) -> Result<(), ClientError> {
        self.exchange(req).await.map(|_| ())
    }

    /// The loop: wait for the limiter, authorize, send, and retry what Atlassian's recipe
    /// retries. Returns the status and body of a 2xx.
    async fn exchange(&self, req: Req<'_>) -> Result<(u16, Vec<u8>), ClientError> {
        let endpoint = format!("{}{}", req.api, req.endpoint);
        let url = self.url(req.api, &req.path);
        let mut retry = Retry::with_initial(req.idempotency, self.retry_base);
        let mut auth = self.provider.authorization().await?;
        let mut refreshed = false;
        loop {
            let permit = self
                .limiter
                .acquire(req.method.as_str(), &endpoint, req.write_to)
                .await;
            let mut builder = self
                .http
                .request(req.method.clone(), url.clone())
                .header(reqwest::header::AUTHORIZATION, auth.header().clone());
            if !req.query.is_empty() {
                builder = builder.query(&req.query);
            }
            if let Some(b) = &req.body {
                builder = builder.json(b);
            }
            if let Some((content_type, bytes)) = &req.raw {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, content_type.as_str())
                    .body(bytes.as_ref().clone());
            }
            for (name, value) in &req.headers {
                builder = builder.header(*name, *value);
            }
            let started = Instant::now();
            let sent = builder.send().await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) => {
                    self.observer
                        .request(&self.site, &endpoint, None, started.elapsed());
                    drop(permit);
                    let detail = jira_sync_auth::without_url(&e);
                    match retry.next(Failure::Network, None) {
                        Some(d) => {
                            tracing::debug!(site = %self.site, endpoint = %endpoint, error = %detail, "Retrying after a network error.");
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return Err(ClientError::Network { endpoint, detail }),
                    }
                }
            };
            let status = resp.status();
            if req.located && status.is_success() {
                self.observer.request(
                    &self.site,
                    &endpoint,
                    Some(status.as_u16()),
                    started.elapsed(),
                );
                return Ok((status.as_u16(), resp.url().as_str().as_bytes().to_vec()));
            }
            let headers = resp.headers().clone();
            let body = resp.bytes().await;
            self.observer.request(
                &self.site,
                &endpoint,
                Some(status.as_u16()),
                started.elapsed(),
            );
            drop(permit);
            let body = match body {
                Ok(b) => b.to_vec(),
                // A 429 says all it has to say in its status and headers: a body that breaks
                // off changes nothing about when to come back.
                Err(_) if status == StatusCode::TOO_MANY_REQUESTS => Vec::new(),
                Err(e) => {
                    // The connection broke mid-body: for a write, the change may have landed.
                    let detail = format!(
                        "the response broke off: {}",
                        jira_sync_auth::without_url(&e)
                    );
                    match retry.next(Failure::Network, None) {
                        Some(d) => {
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => return Err(ClientError::Network { endpoint, detail }),
                    }
                }
            };
            if status.is_success() || req.answers.contains(&status.as_u16()) {
                return Ok((status.as_u16(), body));
            }
            let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
            match status {
                StatusCode::UNAUTHORIZED => {
                    let scope = String::from_utf8_lossy(&body).contains("scope does not match");
                    if !refreshed && !scope {
                        refreshed = true;
                        match self.provider.after_unauthorized(&auth).await {
                            Ok(fresh) => {
                                auth = fresh;
                                continue;
                            }
                            Err(AuthError::Refused) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    return Err(ClientError::Unauthorized { endpoint, scope });
                }
                StatusCode::TOO_MANY_REQUESTS => {
                    let t = Throttle::from_headers(
                        header("ratelimit-reason"),
                        header("retry-after"),
                        header("x-ratelimit-reset"),
                        chrono::Utc::now(),
                    );
                    self.limiter
                        .throttled(&t, req.method.as_str(), &endpoint, req.write_to);
                    // The limiter now holds this request (and its kind) back for the wait;
                    // the retry budget decides whether to try again at all.
                    if retry.next(Failure::Status(429), t.wait).is_none() {
                        return Err(ClientError::RateLimited {
                            endpoint,
                            reason: t.reason,
                        });
                    }
                    continue;
                }
                s if s.is_server_error() => {
                    let retry_after = header("retry-after")
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    match retry.next(Failure::Status(s.as_u16()), retry_after) {
                        Some(d) => {
                            tokio::time::sleep(d).await;
                            continue;
                        }
                        None => {
                            return Err(ClientError::Server {
                                endpoint,
                                status: s.as_u16(),
                            });
                        }
                    }
                }
                StatusCode::FORBIDDEN if header("x-authentication-denied-reason").is_some() => {
                    return Err(ClientError::AuthenticationDenied {
                        endpoint,
                        reason: jira_sync_auth::denied_reason(
                            header("x-authentication-denied-reason").unwrap_or_default(),
                        ),
                    });
                }
                s => {
                    let (messages, errors) = crate::decode::jira_messages(&body);
                    return Err(match s {
                        StatusCode::FORBIDDEN => ClientError::Forbidden { endpoint, messages },
                        StatusCode::NOT_FOUND => ClientError::NotFound { endpoint, messages },
                        _ => ClientError::Invalid {
                            endpoint,
                            status: s.as_u16(),
                            messages,
                            errors,
                        },
                    });
                }
            }
        }
    }
}
