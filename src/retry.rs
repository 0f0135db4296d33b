//! The retry table of design.md §3.4, in one place: which outcomes are retried
//! and how long to wait before the next attempt.

use crate::config::RetryPolicy;
use crate::ids;
use crate::transport::Failure;
use std::time::{Duration, SystemTime};

/// HTTP statuses worth sending again: the server is busy or a hop failed.
/// 500 and every other 4xx are final (edge-api.md §6).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 502 | 503 | 504 | 507)
}

/// Failures worth another attempt. A read timeout only when the policy allows
/// it, because the server may already have processed the request.
pub fn is_retryable_failure(failure: &Failure, policy: &RetryPolicy) -> bool {
    match failure {
        Failure::Connect(_) | Failure::ConnectTimeout | Failure::Reset(_) | Failure::Tls(_) => true,
        Failure::ReadTimeout | Failure::CutBody { .. } => policy.retry_read_timeouts,
        Failure::Certificate(_)
        | Failure::Dns(_)
        | Failure::TooLarge(_)
        | Failure::NotTls(_)
        | Failure::Other(_) => false,
    }
}

/// A duration in whole milliseconds, saturating instead of wrapping.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP-date.
/// A date in the past means no wait; anything unparsable is ignored. Any
/// size is representable (`Duration` holds `u64` seconds); callers compare it
/// with `maxDelayMs` and report it through [`millis`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Exponential backoff with jitter before retry number `retry` (1 = the first
/// retry): `baseDelay · 2^(retry-1)`, capped at `maxDelay`, then a random
/// point in its upper half so that many clients do not retry in step.
pub fn backoff(policy: &RetryPolicy, retry: u32) -> Duration {
    let base = millis(policy.base_delay);
    let exp = base.saturating_mul(1u64 << retry.saturating_sub(1).min(32));
    let capped = exp.min(millis(policy.max_delay));
    let half = capped / 2;
    let jitter = if half == 0 {
        0
    } else {
        ids::random_u64() % (half + 1)
    };
    Duration::from_millis(capped - half + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(base: u64, max: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(base),
            max_delay: Duration::from_millis(max),
            retry_read_timeouts: true,
        }
    }

    #[test]
    fn the_table_of_statuses() {
        for s in [408, 429, 502, 503, 504, 507] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 422, 500, 501] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn read_timeouts_follow_the_policy() {
        let mut p = policy(1, 1);
        assert!(is_retryable_failure(&Failure::ReadTimeout, &p));
        p.retry_read_timeouts = false;
        assert!(!is_retryable_failure(&Failure::ReadTimeout, &p));
        assert!(is_retryable_failure(&Failure::ConnectTimeout, &p));
        assert!(!is_retryable_failure(&Failure::Certificate("x".into()), &p));
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(120));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(120))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn absurd_retry_after_values_saturate() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let huge = parse_retry_after("18446744073709552", now).unwrap();
        assert_eq!(millis(huge), u64::MAX, "never wraps to a small number");
        let big = parse_retry_after(&(1u64 << 40).to_string(), now).unwrap();
        assert_eq!(millis(big), (1u64 << 40) * 1000);
        let y9999 = parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).unwrap();
        assert!(millis(y9999) > 200_000_000_000_000);
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = policy(100, 1000);
        for _ in 0..50 {
            let first = backoff(&p, 1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let third = backoff(&p, 3).as_millis();
            assert!((200..=400).contains(&third), "{third}");
            let tenth = backoff(&p, 10).as_millis();
            assert!((500..=1000).contains(&tenth), "{tenth}");
        }
        assert_eq!(backoff(&policy(0, 0), 4), Duration::ZERO);
    }
}
