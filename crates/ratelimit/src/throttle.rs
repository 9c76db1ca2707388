//! What a 429 says: which limit, and how long to stay away.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// `RateLimit-Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `jira-quota-global-based` / `jira-quota-tenant-based` (and older `jira-quota-based`,
    /// `jira-cost-based`): the hourly points are spent; the whole site waits.
    Quota,
    /// `jira-burst-based`: one endpoint and method is too fast.
    Burst,
    /// `jira-per-issue-on-write`: too many writes to one issue.
    PerIssueWrite,
    /// No or an unknown reason: treated like a burst limit on that endpoint.
    Unknown,
}

impl Reason {
    pub fn parse(header: Option<&str>) -> Reason {
        match header.map(str::trim) {
            Some(
                "jira-quota-global-based"
                | "jira-quota-tenant-based"
                | "jira-quota-based"
                | "jira-cost-based",
            ) => Reason::Quota,
            Some("jira-burst-based") => Reason::Burst,
            Some("jira-per-issue-on-write") => Reason::PerIssueWrite,
            _ => Reason::Unknown,
        }
    }
}

/// A 429, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub reason: Reason,
    /// The wait Jira asked for: `Retry-After` (seconds), else until `X-RateLimit-Reset`.
    pub wait: Option<Duration>,
}

impl Throttle {
    /// Reads the headers of a 429 received at `now`.
    pub fn from_headers(
        reason: Option<&str>,
        retry_after: Option<&str>,
        reset: Option<&str>,
        now: DateTime<Utc>,
    ) -> Throttle {
        let retry_after = retry_after
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let until_reset = reset
            .and_then(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .ok()
                    .or_else(|| DateTime::parse_from_str(v.trim(), "%Y-%m-%dT%H:%M%#z").ok())
            })
            .and_then(|t| (t.with_timezone(&Utc) - now).to_std().ok());
        Throttle {
            reason: Reason::parse(reason),
            wait: retry_after.or(until_reset),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_reason_and_wait() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T01:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = Throttle::from_headers(Some("jira-quota-tenant-based"), Some("30"), None, now);
        assert_eq!(
            t,
            Throttle {
                reason: Reason::Quota,
                wait: Some(Duration::from_secs(30))
            }
        );
        let t = Throttle::from_headers(
            Some("jira-burst-based"),
            None,
            Some("2026-01-01T01:01:01Z"),
            now,
        );
        assert_eq!(
            t,
            Throttle {
                reason: Reason::Burst,
                wait: Some(Duration::from_secs(61))
            }
        );
        let t = Throttle::from_headers(Some("something-new"), Some("nonsense"), None, now);
        assert_eq!(
            t,
            Throttle {
                reason: Reason::Unknown,
                wait: None
            }
        );
        assert_eq!(
            Reason::parse(Some("jira-per-issue-on-write")),
            Reason::PerIssueWrite
        );
    }
}
