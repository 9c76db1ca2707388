//! The request loop against wiremock on paused tokio time: Retry-After, cooldowns by reason,
//! retries, errors, paging, broken bodies.

use std::sync::Arc;
use std::time::Duration;

use jira_sync_client::{ClientError, SearchQuery};
use jira_sync_harness::sites::*;
use jira_sync_ratelimit::Reason;
use serde_json::json;
use tokio::time::Instant;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn too_many(reason: &str, secs: u64) -> ResponseTemplate {
    ResponseTemplate::new(429)
        .insert_header("retry-after", secs.to_string())
        .insert_header("ratelimit-reason", reason)
}

fn me() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "accountId": "acc-1", "timeZone": "Europe/Berlin" }))
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_waited_exactly_for_each_reason() {
    for reason in [
        "jira-burst-based",
        "jira-quota-global-based",
        "jira-quota-tenant-based",
        "jira-per-issue-on-write",
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/myself"))
            .respond_with(too_many(reason, 7))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/rest/api/3/myself"))
            .respond_with(me())
            .mount(&server)
            .await;
        let c = client(&server.uri());
        let start = Instant::now();
        assert_eq!(c.myself().await.unwrap().account_id, "acc-1");
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(7),
            "{reason}: exactly Retry-After, never earlier"
        );
        assert_eq!(server.received_requests().await.unwrap().len(), 2);
    }
}

/// Runs `approximate_count` (whose first answer is a 429 of `reason`, 30 s) in the
/// background, waits until the 429 is in, then times `/myself` and the count.
async fn first_429_then_myself(reason: &str) -> (Duration, Duration) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .respond_with(too_many(reason, 30))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/approximate-count"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "count": 3 })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(me())
        .mount(&server)
        .await;
    let (c, limiter) = client_with(
        &server.uri(),
        basic("bot@acme.example", "FAKE-token-1"),
        limits(1000, 1000),
        http(None),
    );
    let c = Arc::new(c);
    let start = Instant::now();
    let counting = tokio::spawn({
        let c = c.clone();
        async move {
            c.approximate_count("project = SEC").await.unwrap();
            Instant::now()
        }
    });
    // No timer may be pending while the 429 is in flight (paused time would jump to it).
    while limiter.stats().rate_limited() == 0 {
        tokio::task::yield_now().await;
    }
    c.myself().await.unwrap();
    let myself_done = start.elapsed();
    let count_done = counting.await.unwrap() - start;
    (myself_done, count_done)
}

/// That a burst 429 slows only its endpoint is tested exactly in jira-sync-ratelimit, without
/// sockets: here, paused time would jump to the waiting request's timer while `/myself` is in
/// flight, so the two cannot be told apart by time.
#[tokio::test(start_paused = true)]
async fn a_quota_429_pauses_the_whole_site() {
    let (myself, count) = first_429_then_myself("jira-quota-global-based").await;
    assert_eq!(
        myself,
        Duration::from_secs(30),
        "another endpoint waited for the quota too"
    );
    assert_eq!(count, Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(me())
        .mount(&server)
        .await;
    let start = Instant::now();
    client(&server.uri()).myself().await.unwrap();
    let took = start.elapsed().as_secs_f64();
    // 2 s then 4 s, each x0.7-1.3.
    assert!((4.2..=7.8).contains(&took), "{took}");
}

#[tokio::test(start_paused = true)]
async fn server_errors_give_up_after_four_retries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(502).set_body_string("<html><body>Bad Gateway</body></html>"),
        )
        .mount(&server)
        .await;
    let e = client(&server.uri()).myself().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Server { status: 502, .. }),
        "{e:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_not_retried_and_carry_jiras_messages() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "errorMessages": ["Bad edit."], "errors": { "summary": "You must specify a summary of the issue." } })))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .edit("SEC-1", json!({ "fields": { "summary": "" } }))
        .await
        .unwrap_err();
    match &e {
        ClientError::Invalid {
            status: 400,
            messages,
            errors,
            endpoint,
        } => {
            assert_eq!(messages, &["Bad edit."]);
            assert_eq!(
                errors,
                &[(
                    "summary".to_owned(),
                    "You must specify a summary of the issue.".to_owned()
                )]
            );
            assert_eq!(
                endpoint, "/rest/api/3/issue/{issueIdOrKey}",
                "the template, not the URL"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("You must specify a summary"));
    let server = MockServer::start().await;
    Mock::given(method("GET")).and(path("/rest/api/3/issue/SEC-404")).respond_with(ResponseTemplate::new(404).set_body_json(json!({ "errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {} }))).mount(&server).await;
    assert!(matches!(
        client(&server.uri()).get_issue("SEC-404", &[], &[]).await,
        Err(ClientError::NotFound { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn creates_are_never_retried_blindly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .create(json!({ "fields": {} }))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ClientError::Server { status: 503, .. }),
        "{e:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_basic_credential_refused_is_unauthorized_after_one_try() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Client must be authenticated to access this resource."),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server.uri()).myself().await.unwrap_err();
    assert!(
        matches!(e, ClientError::Unauthorized { scope: false, .. }),
        "{e:?}"
    );
    assert!(!format!("{e} {e:?}").contains("FAKE-token-1"));
}

/// Issue 17: a `403` that carries `X-Authentication-Denied-Reason` (Jira's CAPTCHA lock after
/// failed logins) is a credential failure, not a refused write: one try, `is_credential`, the
/// reason code and what to do in the message, and neither the login URL nor the token.
#[tokio::test(start_paused = true)]
async fn an_authentication_denial_is_a_credential_failure_after_one_try() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header(
                    "x-authentication-denied-reason",
                    "CAPTCHA_CHALLENGE; login-url=https://acme.atlassian.net/login.jsp",
                )
                .set_body_string("<html>CAPTCHA required</html>"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .edit("SEC-1", json!({ "fields": { "summary": "x" } }))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::AuthenticationDenied { reason, .. } if reason == "CAPTCHA_CHALLENGE"),
        "{e:?}"
    );
    assert!(e.is_credential());
    let text = format!("{e} {e:?}");
    assert!(text.contains("sign in once in a browser"), "{text}");
    assert!(
        !text.contains("login.jsp") && !text.contains("FAKE-token-1"),
        "{text}"
    );

    // A 403 without the header is the account's permission, as before.
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({ "errorMessages": ["You do not have permission to edit issues in this project."], "errors": {} }),
        ))
        .mount(&server)
        .await;
    let e = client(&server.uri())
        .edit("SEC-1", json!({ "fields": { "summary": "x" } }))
        .await
        .unwrap_err();
    assert!(matches!(e, ClientError::Forbidden { .. }), "{e:?}");
    assert!(!e.is_credential());
}

#[tokio::test(start_paused = true)]
async fn pages_follow_the_token_until_it_is_absent_or_is_last() {
    for last_has_token in [false, true] {
        let server = MockServer::start().await;
        for (i, token) in [None, Some("t1"), Some("t2")].iter().enumerate() {
            let mut body = json!({ "issues": [{ "id": format!("{i}") }], "isLast": i == 2 });
            if i < 2 {
                body["nextPageToken"] = json!(format!("t{}", i + 1));
            } else if last_has_token {
                body["nextPageToken"] = json!("t3");
            }
            let m = Mock::given(method("GET")).and(path("/rest/api/3/search/jql"));
            let m = match token {
                None => m.and(query_param_is_missing("nextPageToken")),
                Some(t) => m.and(query_param("nextPageToken", *t)),
            };
            m.respond_with(ResponseTemplate::new(200).set_body_json(body))
                .expect(1)
                .mount(&server)
                .await;
        }
        let c = client(&server.uri());
        let mut pages = c
            .search(SearchQuery {
                jql: "project = SEC".into(),
                fields: vec!["summary".into()],
                page_size: 1,
                ..Default::default()
            })
            .unwrap();
        let mut ids = Vec::new();
        while let Some(p) = pages.next().await.unwrap() {
            ids.extend(
                p.issues
                    .iter()
                    .map(|i| i["id"].as_str().unwrap().to_owned()),
            );
        }
        assert_eq!(
            ids,
            ["0", "1", "2"],
            "last page carries a token: {last_has_token}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn long_jql_goes_by_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "issues": [], "isLast": true })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let keys: Vec<String> = (1..400).map(|i| format!("SEC-{i}")).collect();
    let mut pages = c
        .search(SearchQuery {
            jql: format!("key in ({})", keys.join(",")),
            page_size: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(pages.next().await.unwrap().is_some());
    assert!(pages.next().await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn html_and_truncated_bodies_are_decode_errors_not_panics() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>proxy</html>", "text/html"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/field"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(r#"[{"id":"summary","na"#, "application/json"),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri());
    assert!(matches!(
        c.myself().await,
        Err(ClientError::Decode { status: 200, .. })
    ));
    assert!(matches!(c.fields().await, Err(ClientError::Decode { .. })));
}

#[tokio::test(start_paused = true)]
async fn rate_limited_after_the_retries_says_why() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(too_many("jira-burst-based", 1))
        .mount(&server)
        .await;
    let (c, limiter) = client_with(
        &server.uri(),
        basic("bot@acme.example", "FAKE-token-1"),
        limits(1000, 1000),
        http(None),
    );
    let e = c.myself().await.unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::RateLimited {
                reason: Reason::Burst,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(limiter.stats().rate_limited(), 5);
}

/// Real time: a request slower than the client's timeout fails as a network error.
#[tokio::test]
async fn requests_time_out() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(ResponseTemplate::new(201).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let (c, _) = client_with(
        &server.uri(),
        basic("bot@acme.example", "FAKE-token-1"),
        limits(1000, 1000),
        http(Some(Duration::from_millis(200))),
    );
    let started = std::time::Instant::now();
    let e = c.create(json!({ "fields": {} })).await.unwrap_err();
    assert!(matches!(e, ClientError::Network { .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up at the timeout, not after the response"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_and_429s_are_counted_by_route_template() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(too_many("jira-burst-based", 2))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "id": "10000", "key": "SEC-1", "fields": {} })),
        )
        .mount(&server)
        .await;
    let metrics = jira_sync_metrics::Metrics::new();
    let http = http(None);
    let s = site(&server.uri(), basic("bot@acme.example", "FAKE-token-1"));
    let provider = Arc::new(jira_sync_auth::Provider::new(
        &s,
        &url::Url::parse(&server.uri()).unwrap(),
        http.clone(),
        None,
    ));
    let limiter = Arc::new(
        jira_sync_ratelimit::SiteLimiter::new("acme", limits(1000, 1000))
            .with_metrics(metrics.clone()),
    );
    let c = jira_sync_client::Client::new(
        "acme",
        url::Url::parse(&server.uri()).unwrap(),
        provider,
        limiter,
        http,
        Arc::new(jira_sync_client::PrometheusObserver(metrics.clone())),
    );
    c.get_issue("SEC-1", &[], &[]).await.unwrap();
    let text = metrics.encode();
    assert!(text.contains(r#"jira_sync_http_requests_total{endpoint="/rest/api/3/issue/{issueIdOrKey}",site="acme",status="429"} 1"#), "{text}");
    assert!(text.contains(r#"jira_sync_http_requests_total{endpoint="/rest/api/3/issue/{issueIdOrKey}",site="acme",status="200"} 1"#), "{text}");
    assert!(!text.contains("SEC-1"), "never a raw URL");
    assert!(
        text.contains(r#"jira_sync_rate_limited_total{site="acme"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"jira_sync_rate_limit_wait_seconds_total{site="acme"} 2"#),
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_bulk_create_whose_every_element_fails_reports_each() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/bulk"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({ "issues": [], "errors": [
            { "status": 400, "elementErrors": { "errorMessages": [], "errors": { "summary": "You must specify a summary of the issue." } }, "failedElementNumber": 0 },
            { "status": 400, "elementErrors": { "errorMessages": ["Bad issue type."], "errors": {} }, "failedElementNumber": 1 },
        ] })))
        .expect(1)
        .mount(&server)
        .await;
    let out = client(&server.uri())
        .bulk_create(&[json!({ "fields": {} }), json!({ "fields": {} })])
        .await
        .unwrap();
    assert!(out.created.is_empty());
    assert_eq!(out.failed.len(), 2);
    assert_eq!(
        out.failed[0].errors,
        [(
            "summary".to_owned(),
            "You must specify a summary of the issue.".to_owned()
        )]
    );
    assert_eq!(
        (out.failed[1].index, out.failed[1].messages.clone()),
        (1, vec!["Bad issue type.".to_owned()])
    );
}

/// A server that answers 429 with `Retry-After: 3` and then breaks the connection mid-body,
/// then answers 200: a raw socket, since wiremock always sends whole bodies.
#[tokio::test(start_paused = true)]
async fn a_429_whose_body_breaks_off_still_waits_retry_after() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut arrivals = Vec::new();
        for i in 0..2 {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await.unwrap();
            arrivals.push(Instant::now());
            if i == 0 {
                let head = "HTTP/1.1 429 Too Many Requests\r\nretry-after: 3\r\nratelimit-reason: jira-burst-based\r\ncontent-length: 100\r\n\r\n{\"errorMe";
                sock.write_all(head.as_bytes()).await.unwrap();
                drop(sock);
            } else {
                let body = r#"{"accountId":"acc-1"}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                sock.write_all(resp.as_bytes()).await.unwrap();
            }
        }
        arrivals
    });
    let c = client(&format!("http://{addr}"));
    assert_eq!(c.myself().await.unwrap().account_id, "acc-1");
    let arrivals = server.await.unwrap();
    assert_eq!(
        arrivals[1] - arrivals[0],
        Duration::from_secs(3),
        "waited the full Retry-After"
    );
}

#[tokio::test]
async fn a_user_is_found_only_by_an_exact_shown_email_of_one_active_account() {
    let server = MockServer::start().await;
    let user = |id: &str, email: Option<&str>, active: bool| {
        let mut u = json!({ "accountId": id, "displayName": "Cara", "active": active });
        if let Some(e) = email {
            u["emailAddress"] = json!(e);
        }
        u
    };
    // Jira's search matches prefixes and names, lists deactivated accounts and hides emails.
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "cara@shared.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            user("decoy", Some("cara@shared.example.org"), true),
            user("gone", Some("cara@shared.example"), false),
            user("hidden", None, true),
            user("cara", Some("Cara@Shared.Example"), true),
        ])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/user/search"))
        .and(query_param("query", "twin@shared.example"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            user("twin-1", Some("twin@shared.example"), true),
            user("twin-2", Some("twin@shared.example"), true),
        ])))
        .mount(&server)
        .await;
    let c = client(&server.uri());
    let found = c.user_by_email("cara@shared.example").await.unwrap();
    assert_eq!(found.map(|u| u.account_id).as_deref(), Some("cara"));
    // Two accounts show the same email: neither is taken.
    assert_eq!(c.user_by_email("twin@shared.example").await.unwrap(), None);
}
