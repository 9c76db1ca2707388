//! Cloud IDs: fetched once and cached; a configured one is verified.

use std::num::{NonZeroU32, NonZeroUsize};

use jira_sync_auth::http_client;
use jira_sync_config::{ApiToken, Auth, Limits, Secret, Site};
use jira_sync_resolver::{ResolveError, Resolver};
use jira_sync_store::Store;
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn site(url: &str, cloud_id: Option<&str>) -> Site {
    Site {
        name: "acme".into(),
        file: "acme.toml".into(),
        url: Url::parse(url).unwrap(),
        cloud_id: cloud_id.map(str::to_owned),
        auth: Auth::ApiToken(ApiToken {
            email: "a@b.example".into(),
            token: Secret::new("FAKE"),
            expires_at: None,
        }),
        limits: Limits {
            requests_per_second: NonZeroU32::MIN,
            burst: NonZeroU32::MIN,
            max_concurrency: NonZeroUsize::MIN,
        },
        connectors: vec![],
        webhooks: false,
        webhook_secret: None,
    }
}

#[tokio::test]
async fn cloud_id_comes_from_tenant_info_once_then_from_the_cache() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "cloudId": "cloud-1" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let r = Resolver::new(
        http_client(),
        Url::parse("https://api.example.invalid").unwrap(),
        Some(store.cache().unwrap()),
    );
    let s = site(&server.uri(), None);
    assert_eq!(r.cloud_id(&s).await.unwrap(), "cloud-1");
    assert_eq!(
        r.cloud_id(&s).await.unwrap(),
        "cloud-1",
        "cached: tenant_info asked once"
    );
    assert_eq!(
        r.gateway_base("cloud-1").as_str(),
        "https://api.example.invalid/ex/jira/cloud-1"
    );
}

#[tokio::test]
async fn a_configured_cloud_id_that_differs_names_both() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/_edge/tenant_info"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "cloudId": "cloud-real" })),
        )
        .mount(&server)
        .await;
    let r = Resolver::new(
        http_client(),
        Url::parse("https://api.example.invalid").unwrap(),
        None,
    );
    let e = r
        .cloud_id(&site(&server.uri(), Some("cloud-typo")))
        .await
        .unwrap_err();
    assert!(matches!(e, ResolveError::CloudIdMismatch { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("cloud-typo") && msg.contains("cloud-real"),
        "{msg}"
    );
    assert_eq!(
        r.cloud_id(&site(&server.uri(), Some("cloud-real")))
            .await
            .unwrap(),
        "cloud-real"
    );

    let dead = site("http://127.0.0.1:9", None);
    let e = r.cloud_id(&dead).await.unwrap_err().to_string();
    assert!(e.contains("tenant_info cannot be read"), "{e}");
}
