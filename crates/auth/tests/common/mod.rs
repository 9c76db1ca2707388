//! Sites of each auth method, and a vault in a temporary directory.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroUsize};

use jira_sync_config::{ApiToken, Auth, ClientCredentials, Limits, OAuth2, Secret, Site};
use url::Url;

pub const EMAIL: &str = "bot@acme.example";
pub const TOKEN: &str = "FAKE-api-token-7f3a";
pub const CLIENT_ID: &str = "app-1";
pub const CLIENT_SECRET: &str = "FAKE-client-secret-91c2";

pub fn site(url: &str, auth: Auth) -> Site {
    Site {
        name: "acme".into(),
        file: "acme.toml".into(),
        url: Url::parse(url).unwrap(),
        cloud_id: None,
        auth,
        limits: Limits {
            requests_per_second: NonZeroU32::new(10).unwrap(),
            burst: NonZeroU32::new(20).unwrap(),
            max_concurrency: NonZeroUsize::new(4).unwrap(),
        },
        connectors: Vec::new(),
    }
}

pub fn api_token(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Auth {
    Auth::ApiToken(ApiToken {
        email: EMAIL.into(),
        token: Secret::new(TOKEN),
        expires_at,
    })
}

pub fn service_account(expires_at: Option<chrono::DateTime<chrono::Utc>>) -> Auth {
    Auth::ServiceAccount(ApiToken {
        email: EMAIL.into(),
        token: Secret::new(TOKEN),
        expires_at,
    })
}

pub fn oauth2() -> Auth {
    Auth::OAuth2(OAuth2 {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
        initial_refresh_token: None,
    })
}

pub fn client_credentials() -> Auth {
    Auth::ClientCredentials(ClientCredentials {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(CLIENT_SECRET),
    })
}

pub fn no_fields() -> BTreeMap<String, String> {
    BTreeMap::new()
}
