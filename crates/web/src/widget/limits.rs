//! Per-visitor and per-IP rate limits of the widget: fixed one-minute windows kept in memory on
//! each node (a visitor spread over several nodes by a load balancer gets each node's allowance;
//! sticky sessions or a lower limit tighten that).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Above this many tracked keys, expired windows are dropped before adding one.
const PRUNE_AT: usize = 100_000;

/// Counters of requests per key in the current minute.
#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Counts one request for `key`; `Err(seconds to wait)` when `limit` is already used up
    /// in this window (the refused request is not counted).
    pub fn check(&self, key: &str, limit: u32) -> Result<(), u64> {
        self.check_at(key, limit, Instant::now())
    }

    fn check_at(&self, key: &str, limit: u32, now: Instant) -> Result<(), u64> {
        let Ok(mut map) = self.windows.lock() else { return Ok(()) };
        if map.len() >= PRUNE_AT && !map.contains_key(key) {
            map.retain(|_, (start, _)| now.duration_since(*start) < WINDOW);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            let wait = WINDOW.saturating_sub(now.duration_since(entry.0)).as_secs().max(1);
            return Err(wait);
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_limit_per_window() {
        let rl = RateLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(rl.check_at("v1", 3, t0).is_ok());
        }
        let wait = rl.check_at("v1", 3, t0 + Duration::from_secs(10)).expect_err("fourth refused");
        assert_eq!(wait, 50);
        assert!(rl.check_at("v2", 3, t0).is_ok(), "keys are independent");
        assert!(rl.check_at("v1", 3, t0 + WINDOW).is_ok(), "a new window");
    }
}
