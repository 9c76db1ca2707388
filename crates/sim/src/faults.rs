//! Faults a site's traffic meets on the way: latency, 5xx, HTML error pages from proxies,
//! and connections closed mid-response. Decided by a seeded die, so runs repeat.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::error::JiraError;
use crate::seed::Rng;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Added latency in milliseconds: `[min, max]` (equal for a fixed delay).
    #[serde(default)]
    pub latency_ms: Option<[u64; 2]>,
    /// Share of requests (0 to 1) answered with a 5xx before they reach Jira.
    #[serde(default)]
    pub error_rate: f64,
    /// Status codes of those errors; default 500, 502, 503, 504 (503 carries Retry-After).
    #[serde(default)]
    pub error_statuses: Vec<u16>,
    /// Share of requests answered 502 with an HTML page, as a proxy does.
    #[serde(default)]
    pub html_rate: f64,
    /// Share of requests that are processed but whose connection closes mid-response.
    #[serde(default)]
    pub close_rate: f64,
    /// The next N authenticated requests after this spec is set are refused `429` with
    /// `Retry-After: throttle_retry_after` and `RateLimit-Reason: jira-burst-based`, as the
    /// rate limiter refuses them: a throttled probe, or a short storm at a known moment.
    #[serde(default)]
    pub throttle_first: u32,
    /// The `Retry-After` seconds of those answers (default 1).
    #[serde(default)]
    pub throttle_retry_after: u64,
    /// Seed of the dice.
    #[serde(default)]
    pub seed: u64,
}

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Answer this status before processing.
    Error(u16),
    /// Answer 502 with an HTML page before processing.
    Html,
    /// Process, then cut the connection halfway through the body.
    Close,
    /// Refuse with a burst 429 of this `Retry-After` (seconds) after authentication, as the
    /// rate limiter does (its promise is kept track of for early retries).
    Throttle(u64),
}

#[derive(Debug, Default)]
pub struct SiteFaults {
    pub spec: FaultSpec,
    rng: Rng,
    /// Requests answered by `throttle_first` so far.
    throttled: u32,
}

impl SiteFaults {
    pub fn new(spec: FaultSpec) -> Self {
        let rng = Rng(spec.seed ^ 0xfa17_5eed);
        SiteFaults {
            spec,
            rng,
            throttled: 0,
        }
    }

    /// Rolls the dice for one request: its added latency and its fault.
    pub fn roll(&mut self) -> (Option<Duration>, Fault) {
        let latency = self.spec.latency_ms.map(|[lo, hi]| {
            let (lo, hi) = (lo.min(hi), lo.max(hi));
            Duration::from_millis(self.rng.range(lo as usize, hi as usize) as u64)
        });
        let fault = if self.throttled < self.spec.throttle_first {
            self.throttled += 1;
            Fault::Throttle(self.spec.throttle_retry_after.max(1))
        } else if self.rng.chance(self.spec.error_rate) {
            let statuses = if self.spec.error_statuses.is_empty() {
                vec![500, 502, 503, 504]
            } else {
                self.spec.error_statuses.clone()
            };
            Fault::Error(statuses[self.rng.range(0, statuses.len() - 1)])
        } else if self.rng.chance(self.spec.html_rate) {
            Fault::Html
        } else if self.rng.chance(self.spec.close_rate) {
            Fault::Close
        } else {
            Fault::None
        };
        (latency, fault)
    }
}

/// The response of an `Error` or `Html` fault.
pub fn fault_response(fault: Fault) -> Response {
    match fault {
        Fault::Html => {
            let page = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>atlassian-proxy</center></body></html>";
            (
                StatusCode::BAD_GATEWAY,
                [(header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response()
        }
        Fault::Error(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r =
                JiraError::new(status, "Internal server error (simulated fault).").into_response();
            if code == 503 {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            r
        }
        Fault::None | Fault::Close | Fault::Throttle(_) => unreachable!("not an early answer"),
    }
}

/// The same response, but its connection breaks after half of the body.
pub async fn cut_short(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = Bytes::copy_from_slice(&bytes[..bytes.len() / 2]);
    parts.headers.remove(header::CONTENT_LENGTH);
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(half),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated fault",
        )),
    ];
    Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(chunks)))
}
