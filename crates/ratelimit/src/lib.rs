//! Per-site request limits: a governor rate limiter from `[limits]`, a concurrency cap, and
//! cooldowns learned from Jira's 429s (a quota pauses the whole site, a burst limit one
//! endpoint and method, a per-issue limit the writes to one issue), plus Atlassian's retry
//! recipe in [`retry`].
//!
//! Waiting goes through `tokio::time`, so tests run on paused time.

mod limiter; // SiteLimiter and Limiters: acquire, cooldowns, reconfiguration.
pub mod retry; // Atlassian's retry recipe, behind the `backoff` crate.
mod throttle; // Reading a 429: reason, Retry-After, X-RateLimit-Reset.

pub use limiter::{Limiters, Permit, SiteLimiter, Stats};
pub use throttle::{Reason, Throttle};
