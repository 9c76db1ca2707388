//! Jira's three rate limits, and a record of how clients behaved when limited.
//!
//! - burst: a token bucket per site x endpoint x method (`jira-burst-based`);
//! - points: an hourly quota for OAuth traffic, per app across sites
//!   (`jira-quota-global-based`) or per site (`jira-quota-tenant-based`);
//! - per-issue writes: 20 per 2 s and 100 per 30 s (`jira-per-issue-on-write`).
//!
//! Every 429 sets a "not before" time for the client and the limit it hit; a request from
//! that client under that limit before then is counted as an early retry.

use std::collections::{BTreeMap, HashMap, VecDeque};

use axum::http::{HeaderMap, HeaderValue};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// Limits of one site, as the control API and seed files set them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Burst rates in requests per second (also the bucket size), by `METHOD` or by
    /// `METHOD /rest/api/3/template`; the most specific wins. Empty turns burst limits off.
    #[serde(default = "default_burst")]
    pub burst: BTreeMap<String, u32>,
    /// Enforce 20 writes per 2 s and 100 per 30 s on one issue.
    #[serde(default = "yes")]
    pub per_issue_writes: bool,
    /// Hourly points quota of OAuth traffic to this site; none by default.
    #[serde(default)]
    pub tenant_quota: Option<u64>,
    /// The tenant quota's window in seconds instead of an hour (soak tests, whose storms
    /// must pass within the test).
    #[serde(default)]
    pub quota_window_seconds: Option<u64>,
}

fn yes() -> bool {
    true
}

/// Atlassian's published defaults.
pub fn default_burst() -> BTreeMap<String, u32> {
    BTreeMap::from([
        ("GET".into(), 100),
        ("POST".into(), 100),
        ("PUT".into(), 50),
        ("DELETE".into(), 50),
        ("GET /rest/api/3/issue/{issueIdOrKey}".into(), 150),
        ("POST /rest/api/3/search/approximate-count".into(), 150),
    ])
}

impl Default for LimitsSpec {
    fn default() -> Self {
        LimitsSpec {
            burst: default_burst(),
            per_issue_writes: true,
            tenant_quota: None,
            quota_window_seconds: None,
        }
    }
}

/// Why a request was limited: the `RateLimit-Reason` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Reason {
    #[serde(rename = "jira-burst-based")]
    Burst,
    #[serde(rename = "jira-quota-global-based")]
    GlobalQuota,
    #[serde(rename = "jira-quota-tenant-based")]
    TenantQuota,
    #[serde(rename = "jira-per-issue-on-write")]
    PerIssueWrite,
}

impl Reason {
    pub fn header(self) -> &'static str {
        match self {
            Reason::Burst => "jira-burst-based",
            Reason::GlobalQuota => "jira-quota-global-based",
            Reason::TenantQuota => "jira-quota-tenant-based",
            Reason::PerIssueWrite => "jira-per-issue-on-write",
        }
    }
}

/// A refusal: which limit, how long to wait, and the limit's size for the headers.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    pub reason: Reason,
    pub retry_after_secs: i64,
    pub limit: u64,
    pub reset: DateTime<Utc>,
}

/// What a client did when limited: 429s by reason, and retries before `Retry-After`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RateLimitStats {
    pub throttled: BTreeMap<String, u64>,
    pub early_retries: u64,
    /// The first few early retries: (client, limit key, how early in milliseconds).
    pub early: Vec<(String, String, i64)>,
}

/// A points window: an hour, as Jira's, unless a test shortens it.
#[derive(Debug, Clone, Default)]
pub struct Quota {
    hour: Option<DateTime<Utc>>,
    used: u64,
    /// The window's length in seconds; `None`: an hour.
    pub window_seconds: Option<u64>,
}

impl Quota {
    fn roll(&mut self, now: DateTime<Utc>) -> DateTime<Utc> {
        let window = Duration::seconds(self.window_seconds.unwrap_or(3600).max(1) as i64);
        let hour = now.duration_trunc(window).unwrap_or(now);
        if self.hour != Some(hour) {
            self.hour = Some(hour);
            self.used = 0;
        }
        hour + window
    }

    /// Refuses when the hour's points are spent; the refusal lasts until the next hour.
    pub fn check(&mut self, now: DateTime<Utc>, quota: u64, reason: Reason) -> Result<(), Limited> {
        let reset = self.roll(now);
        if self.used >= quota {
            return Err(Limited {
                reason,
                // Rounded up: a client that waits exactly this long finds the new hour.
                retry_after_secs: ((reset - now).num_milliseconds() + 999)
                    .div_euclid(1000)
                    .max(1),
                limit: quota,
                reset,
            });
        }
        Ok(())
    }

    pub fn charge(&mut self, now: DateTime<Utc>, points: u64) {
        self.roll(now);
        self.used += points;
    }

    pub fn remaining(&self, quota: u64) -> u64 {
        quota.saturating_sub(self.used)
    }
}

/// The limit state of one site.
#[derive(Debug, Default)]
pub struct SiteLimits {
    pub spec: LimitsSpec,
    /// Bucket key -> (tokens, last refill).
    buckets: HashMap<String, (f64, DateTime<Utc>)>,
    issue_writes: HashMap<u64, VecDeque<DateTime<Utc>>>,
    pub tenant_points: Quota,
    /// (client, limit key) -> when the client may come back.
    not_before: HashMap<(String, String), DateTime<Utc>>,
    pub stats: RateLimitStats,
}

/// Per-issue write windows: (writes allowed, window).
const ISSUE_WINDOWS: [(usize, i64); 2] = [(20, 2), (100, 30)];

impl SiteLimits {
    pub fn new(spec: LimitsSpec) -> Self {
        let mut limits = SiteLimits {
            spec,
            ..Default::default()
        };
        limits.tenant_points.window_seconds = limits.spec.quota_window_seconds;
        limits
    }

    /// These limits with `old`'s promises to clients (`Retry-After`s) and statistics.
    pub fn carrying_over(mut self, old: &mut SiteLimits) -> Self {
        self.not_before = std::mem::take(&mut old.not_before);
        self.stats = std::mem::take(&mut old.stats);
        self
    }

    fn burst_rate(&self, method: &str, template: &str) -> Option<(String, u32)> {
        let specific = format!("{method} {template}");
        if let Some(r) = self.spec.burst.get(&specific) {
            return Some((specific, *r));
        }
        self.spec.burst.get(method).map(|r| (specific, *r))
    }

    /// Counts an early retry if `client` comes back under `key` before it was told to.
    pub fn note_retry(&mut self, client: &str, key: &str, now: DateTime<Utc>) {
        if let Some(nb) = self.not_before.get(&(client.to_owned(), key.to_owned()))
            && now < *nb
        {
            self.stats.early_retries += 1;
            if self.stats.early.len() < 20 {
                self.stats.early.push((
                    client.to_owned(),
                    key.to_owned(),
                    (*nb - now).num_milliseconds(),
                ));
            }
        }
    }

    /// Records a 429 sent to `client` under `key`.
    pub fn refused(&mut self, client: &str, key: &str, l: &Limited, now: DateTime<Utc>) {
        *self
            .stats
            .throttled
            .entry(l.reason.header().to_owned())
            .or_default() += 1;
        self.not_before.insert(
            (client.to_owned(), key.to_owned()),
            now + Duration::seconds(l.retry_after_secs),
        );
    }

    /// Takes a burst token for `METHOD template`; returns the bucket's (limit, remaining).
    pub fn burst(
        &mut self,
        method: &str,
        template: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(u64, u64)>, Limited> {
        let Some((key, rate)) = self.burst_rate(method, template) else {
            return Ok(None);
        };
        let rate = f64::from(rate.max(1));
        let (tokens, last) = self.buckets.entry(key).or_insert((rate, now));
        let elapsed = (now - *last).num_milliseconds().max(0) as f64 / 1000.0;
        *tokens = (*tokens + elapsed * rate).min(rate);
        *last = now;
        if *tokens < 1.0 {
            let wait = ((1.0 - *tokens) / rate).max(0.001);
            let secs = wait.ceil() as i64;
            return Err(Limited {
                reason: Reason::Burst,
                retry_after_secs: secs.max(1),
                limit: rate as u64,
                reset: now + Duration::milliseconds((wait * 1000.0) as i64),
            });
        }
        *tokens -= 1.0;
        Ok(Some((rate as u64, tokens.floor() as u64)))
    }

    /// Counts a write to issue `id` in the per-issue windows.
    pub fn issue_write(&mut self, id: u64, now: DateTime<Utc>) -> Result<(), Limited> {
        if !self.spec.per_issue_writes {
            return Ok(());
        }
        let writes = self.issue_writes.entry(id).or_default();
        let longest = Duration::seconds(ISSUE_WINDOWS.iter().map(|w| w.1).max().unwrap_or(30));
        while writes.front().is_some_and(|t| *t <= now - longest) {
            writes.pop_front();
        }
        for (allowed, secs) in ISSUE_WINDOWS {
            let window = Duration::seconds(secs);
            let inside: Vec<&DateTime<Utc>> =
                writes.iter().filter(|t| **t > now - window).collect();
            if inside.len() >= allowed {
                let frees = *inside[inside.len() - allowed] + window;
                let wait_ms = (frees - now).num_milliseconds().max(1);
                return Err(Limited {
                    reason: Reason::PerIssueWrite,
                    retry_after_secs: (wait_ms + 999) / 1000,
                    limit: allowed as u64,
                    reset: frees,
                });
            }
        }
        writes.push_back(now);
        Ok(())
    }
}

/// Jira's 429 headers.
pub fn limited_headers(l: &Limited, headers: &mut HeaderMap) {
    let set = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    set(headers, "retry-after", l.retry_after_secs.to_string());
    set(headers, "ratelimit-reason", l.reason.header().to_owned());
    set(headers, "x-ratelimit-limit", l.limit.to_string());
    set(headers, "x-ratelimit-remaining", "0".into());
    set(
        headers,
        "x-ratelimit-reset",
        l.reset.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
}

/// `X-RateLimit-Limit`/`-Remaining` on an allowed request, `NearLimit` under 20 %.
pub fn allowed_headers(limit: u64, remaining: u64, headers: &mut HeaderMap) {
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    if remaining * 5 < limit {
        headers.insert("x-ratelimit-nearlimit", HeaderValue::from_static("true"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    #[test]
    fn burst_bucket_refills_at_its_rate() {
        let mut l = SiteLimits::new(LimitsSpec {
            burst: BTreeMap::from([("GET".into(), 2)]),
            ..Default::default()
        });
        assert!(l.burst("GET", "/x", t(0)).is_ok());
        assert!(l.burst("GET", "/x", t(0)).is_ok());
        let e = l.burst("GET", "/x", t(0)).unwrap_err();
        assert_eq!((e.reason, e.retry_after_secs), (Reason::Burst, 1));
        assert!(
            l.burst("GET", "/y", t(0)).is_ok(),
            "another endpoint has its own bucket"
        );
        assert!(
            l.burst("GET", "/x", t(500)).is_ok(),
            "half a second refills one token at 2/s"
        );
        assert!(
            l.burst("POST", "/x", t(0)).unwrap().is_none(),
            "no POST rate: unlimited"
        );
    }

    #[test]
    fn per_issue_writes_allow_20_per_2s_and_100_per_30s() {
        let mut l = SiteLimits::new(LimitsSpec::default());
        for i in 0..20 {
            l.issue_write(7, t(i)).unwrap();
        }
        let e = l.issue_write(7, t(20)).unwrap_err();
        assert_eq!(e.reason, Reason::PerIssueWrite);
        assert!(
            l.issue_write(8, t(20)).is_ok(),
            "other issues are not affected"
        );
        // Spread out: 100 writes over 25 s pass the 2 s window, the 101st hits the 30 s one.
        let mut l = SiteLimits::new(LimitsSpec::default());
        for i in 0..100 {
            l.issue_write(7, t(i * 250)).unwrap();
        }
        assert!(l.issue_write(7, t(25_100)).is_err());
    }

    #[test]
    fn quota_resets_at_the_top_of_the_hour() {
        let mut q = Quota::default();
        let start = DateTime::parse_from_rfc3339("2026-11-23T10:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        q.charge(start, 10);
        let e = q.check(start, 10, Reason::TenantQuota).unwrap_err();
        assert_eq!(e.retry_after_secs, 60);
        assert!(
            q.check(start + Duration::seconds(60), 10, Reason::TenantQuota)
                .is_ok()
        );
    }
}
