//! The request-rate guardrail (edge-api.md §7): with `Options::rate_limit_per_sec`, Edge
//! requests beyond that many in one second get 429 with `Retry-After`. Every Edge answer
//! reports `x-rate-limit-remaining`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The documented default budgets, reported when no limit is set (guardrails page).
const DEFAULT_INTERACT_PER_SEC: u32 = 4000;
const DEFAULT_COLLECT_PER_SEC: u32 = 6000;

pub(crate) struct RateLimit {
    per_sec: Option<u32>,
    /// The start of the current one-second window and the requests counted in it.
    window: Mutex<(Instant, u32)>,
}

/// What the guardrail says about one request.
pub(crate) enum Verdict {
    /// Serve it; this many requests remain in the window.
    Allowed(u32),
    /// Refuse it; the window ends in this many whole seconds (at least 1).
    Limited(u64),
}

impl RateLimit {
    pub fn new(per_sec: Option<u32>) -> RateLimit {
        RateLimit {
            per_sec,
            window: Mutex::new((Instant::now(), 0)),
        }
    }

    /// Counts one Edge request for `path`. Without a limit nothing is counted (no lock is
    /// taken) and the documented default budget is reported.
    pub fn check(&self, path: &str) -> Verdict {
        let Some(limit) = self.per_sec else {
            let budget = if path.ends_with("/collect") {
                DEFAULT_COLLECT_PER_SEC
            } else {
                DEFAULT_INTERACT_PER_SEC
            };
            return Verdict::Allowed(budget);
        };
        let now = Instant::now();
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        if now.duration_since(window.0) >= Duration::from_secs(1) {
            *window = (now, 0);
        }
        if window.1 >= limit {
            let left = Duration::from_secs(1).saturating_sub(now.duration_since(window.0));
            return Verdict::Limited(left.as_secs_f64().ceil().max(1.0) as u64);
        }
        window.1 += 1;
        Verdict::Allowed(limit - window.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_within_a_window() {
        let r = RateLimit::new(Some(2));
        assert!(matches!(r.check("/ee/v2/interact"), Verdict::Allowed(1)));
        assert!(matches!(r.check("/ee/v2/interact"), Verdict::Allowed(0)));
        assert!(matches!(r.check("/ee/v2/interact"), Verdict::Limited(1)));
        let unlimited = RateLimit::new(None);
        assert!(matches!(
            unlimited.check("/ee/v2/collect"),
            Verdict::Allowed(6000)
        ));
    }
}
