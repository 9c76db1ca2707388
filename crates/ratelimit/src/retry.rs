//! Atlassian's retry recipe: never earlier than `Retry-After`; otherwise exponential from 2 s
//! to 30 s with x0.7-1.3 jitter; at most 4 retries. Network errors, 429 and 5xx are retried,
//! other 4xx are not; creates are never retried blindly.
//!
//! The `backoff` crate (unmaintained, RUSTSEC-2025-0012) is used only here, as a delay
//! generator, so it can be swapped for `backon` without touching callers.

use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;

/// Retries after the first attempt.
pub const MAX_RETRIES: u32 = 4;
const INITIAL: Duration = Duration::from_secs(2);
const MAX_INTERVAL: Duration = Duration::from_secs(30);
/// Delays are multiplied by a factor in [1 - JITTER, 1 + JITTER].
const JITTER: f64 = 0.3;

/// How a request may be repeated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, edits, transitions to a target status, property writes: the same request twice
    /// has the effect of once.
    Safe,
    /// Creates: a repeat could duplicate the issue. The engine's pending-create path finds
    /// out whether the first one landed; the client never retries it.
    Create,
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No response: connection refused or reset, timeout.
    Network,
    /// An HTTP status.
    Status(u16),
}

impl Failure {
    pub fn retryable(self) -> bool {
        match self {
            Failure::Network => true,
            Failure::Status(s) => s == 429 || (500..=599).contains(&s),
        }
    }
}

/// The retry state of one request.
#[derive(Debug)]
pub struct Retry {
    backoff: ExponentialBackoff,
    retries: u32,
    idempotency: Idempotency,
}

impl Retry {
    pub fn new(idempotency: Idempotency) -> Self {
        Self::with_initial(idempotency, INITIAL)
    }

    /// The same recipe from another first delay (tests; Atlassian recommends about 2 s).
    pub fn with_initial(idempotency: Idempotency, initial: Duration) -> Self {
        let backoff = ExponentialBackoff {
            current_interval: initial,
            initial_interval: initial,
            randomization_factor: JITTER,
            multiplier: 2.0,
            max_interval: MAX_INTERVAL.max(initial),
            max_elapsed_time: None,
            ..ExponentialBackoff::default()
        };
        Retry {
            backoff,
            retries: 0,
            idempotency,
        }
    }

    /// How long to wait before retrying after `failure`, or `None` to give up. `retry_after`
    /// (from the response) is a floor: the delay is never shorter.
    pub fn next(&mut self, failure: Failure, retry_after: Option<Duration>) -> Option<Duration> {
        if self.idempotency == Idempotency::Create
            || !failure.retryable()
            || self.retries >= MAX_RETRIES
        {
            return None;
        }
        self.retries += 1;
        let backoff = self.backoff.next_backoff().unwrap_or(MAX_INTERVAL);
        Some(retry_after.map_or(backoff, |r| {
            r.max(if failure == Failure::Status(429) {
                r
            } else {
                backoff
            })
        }))
    }

    /// Retries so far.
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_2s_to_30s_with_jitter_and_stop_after_4() {
        for _ in 0..200 {
            let mut r = Retry::new(Idempotency::Safe);
            let mut base = 2.0;
            for _ in 0..MAX_RETRIES {
                let d = r.next(Failure::Status(503), None).unwrap().as_secs_f64();
                assert!(
                    d >= base * 0.7 - 1e-9 && d <= (base * 1.3f64).min(30.0 * 1.3) + 1e-9,
                    "{d} for base {base}"
                );
                base = (base * 2.0f64).min(30.0);
            }
            assert_eq!(
                r.next(Failure::Status(503), None),
                None,
                "at most 4 retries"
            );
        }
    }

    #[test]
    fn retry_after_is_the_wait_for_a_429_and_a_floor_otherwise() {
        let mut r = Retry::new(Idempotency::Safe);
        assert_eq!(
            r.next(Failure::Status(429), Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
        let mut r = Retry::new(Idempotency::Safe);
        assert!(
            r.next(Failure::Status(503), Some(Duration::from_secs(60)))
                .unwrap()
                >= Duration::from_secs(60)
        );
        let mut r = Retry::new(Idempotency::Safe);
        assert!(
            r.next(Failure::Status(503), Some(Duration::from_millis(1)))
                .unwrap()
                >= Duration::from_millis(1400),
            "backoff when it is longer"
        );
    }

    #[test]
    fn what_is_not_retried() {
        for s in [400, 401, 403, 404, 409, 422] {
            assert_eq!(
                Retry::new(Idempotency::Safe).next(Failure::Status(s), None),
                None,
                "{s}"
            );
        }
        assert!(
            Retry::new(Idempotency::Safe)
                .next(Failure::Network, None)
                .is_some()
        );
        assert_eq!(
            Retry::new(Idempotency::Create).next(Failure::Network, None),
            None,
            "creates are never retried blindly"
        );
        assert_eq!(
            Retry::new(Idempotency::Create).next(Failure::Status(503), None),
            None
        );
    }
}
