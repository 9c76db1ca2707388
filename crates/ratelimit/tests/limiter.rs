//! The limiter on paused tokio time: rate, concurrency, and each kind of 429 cooldown.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use jira_sync_config::Limits;
use jira_sync_ratelimit::{Reason, SiteLimiter, Throttle};
use tokio::time::Instant;

fn limits(rps: u32, burst: u32, concurrency: usize) -> Limits {
    Limits {
        requests_per_second: NonZeroU32::new(rps).unwrap(),
        burst: NonZeroU32::new(burst).unwrap(),
        max_concurrency: NonZeroUsize::new(concurrency).unwrap(),
    }
}

fn throttle(reason: Reason, secs: u64) -> Throttle {
    Throttle {
        reason,
        wait: Some(Duration::from_secs(secs)),
    }
}

const ISSUE: &str = "/rest/api/3/issue/{issueIdOrKey}";
const SEARCH: &str = "/rest/api/3/search/jql";

#[tokio::test(start_paused = true)]
async fn the_rate_allows_the_burst_then_the_steady_rate() {
    let l = SiteLimiter::new("acme", limits(10, 20, 100));
    let start = Instant::now();
    for _ in 0..20 {
        l.acquire("GET", ISSUE, None).await;
    }
    assert!(
        start.elapsed() < Duration::from_millis(1),
        "the burst goes at once"
    );
    for _ in 0..10 {
        l.acquire("GET", ISSUE, None).await;
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(990) && took <= Duration::from_millis(1010),
        "10 more at 10/s: {took:?}"
    );
    assert!(l.stats().waited_seconds() > 0.9);
}

#[tokio::test(start_paused = true)]
async fn no_more_than_max_concurrency_requests_are_in_flight() {
    let l = Arc::new(SiteLimiter::new("acme", limits(1000, 1000, 2)));
    let a = l.acquire("GET", ISSUE, None).await;
    let _b = l.acquire("GET", ISSUE, None).await;
    let waiter = tokio::spawn({
        let l = l.clone();
        async move {
            l.acquire("GET", ISSUE, None).await;
            Instant::now()
        }
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!waiter.is_finished(), "a third request waits for a slot");
    let released = Instant::now();
    drop(a);
    assert_eq!(waiter.await.unwrap(), released);
}

#[tokio::test(start_paused = true)]
async fn a_quota_429_pauses_every_request_of_the_site_for_retry_after() {
    let l = SiteLimiter::new("acme", limits(100, 100, 10));
    l.throttled(&throttle(Reason::Quota, 30), "POST", SEARCH, None);
    let start = Instant::now();
    l.acquire("GET", ISSUE, None).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(30),
        "another endpoint waits too, exactly Retry-After"
    );
    assert_eq!(l.stats().rate_limited(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_burst_429_slows_that_endpoint_and_method_only() {
    let l = SiteLimiter::new("acme", limits(100, 100, 10));
    l.throttled(&throttle(Reason::Burst, 3), "POST", SEARCH, None);
    let start = Instant::now();
    l.acquire("GET", ISSUE, None).await;
    l.acquire("GET", SEARCH, None).await;
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "other endpoints and methods go on"
    );
    l.acquire("POST", SEARCH, None).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_per_issue_429_delays_writes_to_that_issue_only() {
    let l = SiteLimiter::new("acme", limits(100, 100, 10));
    l.throttled(
        &throttle(Reason::PerIssueWrite, 2),
        "PUT",
        ISSUE,
        Some("SEC-1"),
    );
    let start = Instant::now();
    l.acquire("PUT", ISSUE, Some("SEC-2")).await;
    l.acquire("GET", ISSUE, None).await;
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "other issues and reads go on"
    );
    l.acquire(
        "POST",
        "/rest/api/3/issue/{issueIdOrKey}/comment",
        Some("SEC-1"),
    )
    .await;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "any write to SEC-1 waits"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_that_arrives_while_requests_wait_holds_them_too() {
    let l = Arc::new(SiteLimiter::new("acme", limits(1, 1, 10)));
    l.acquire("GET", ISSUE, None).await;
    // The next token is a second away; meanwhile a quota 429 arrives.
    let waiter = tokio::spawn({
        let l = l.clone();
        async move {
            l.acquire("GET", ISSUE, None).await;
            Instant::now()
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let at = Instant::now();
    l.throttled(&throttle(Reason::Quota, 10), "GET", SEARCH, None);
    assert!(waiter.await.unwrap() >= at + Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn reconfiguring_rebuilds_changed_sites_and_keeps_their_cooldowns() {
    let dir = tempfile_dir();
    let cfg = |burst: u32| {
        std::fs::write(
            dir.join("sites.d/acme.toml"),
            format!("url = \"https://acme.atlassian.net\"\n[auth]\nmethod = \"api_token\"\nemail = \"a@b.example\"\ntoken = {{ env = \"T\" }}\n[limits]\nburst = {burst}\n"),
        )
        .unwrap();
        let env = std::collections::BTreeMap::from([
            ("T".to_owned(), "FAKE".to_owned()),
            ("STATE_DIRECTORY".to_owned(), "/tmp".to_owned()),
        ]);
        jira_sync_config::Loader::with_env(env).load(&dir).unwrap()
    };
    let limiters = jira_sync_ratelimit::Limiters::new(&cfg(20), None);
    let first = limiters.get("acme").unwrap();
    first.throttled(&throttle(Reason::Quota, 60), "GET", ISSUE, None);
    limiters.reconfigure(&cfg(20));
    assert!(
        Arc::ptr_eq(&first, &limiters.get("acme").unwrap()),
        "unchanged limits: same limiter"
    );
    limiters.reconfigure(&cfg(5));
    let second = limiters.get("acme").unwrap();
    assert!(!Arc::ptr_eq(&first, &second), "new limits: a new limiter");
    assert_eq!(second.stats().rate_limited(), 1, "counters carry over");
    let start = Instant::now();
    second.acquire("GET", ISSUE, None).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(60),
        "and so does the cooldown"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "jira-sync-ratelimit-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(dir.join("sites.d")).unwrap();
    std::fs::write(dir.join("jira-sync.toml"), "").unwrap();
    dir
}
