//! Rate limits: a token bucket per key (`rate` requests per second, up to `burst` at once), kept in memory
//! per replica. Keys name a token's subject, or a client address for callers without a valid token (see
//! `http::auth`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Most subjects tracked; past it, full buckets are forgotten.
const MAX_SUBJECTS: usize = 100_000;

impl RateLimiter {
    /// `rate` 0 disables limiting.
    pub fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `subject`; `Err(wait)` when the bucket is empty.
    pub fn check(&self, subject: &str) -> Result<(), Duration> {
        self.take(subject, 1)
    }

    /// `Err(wait)` when `key`'s bucket is empty now; takes nothing (a check before work that is charged
    /// only if it fails, such as verifying a token).
    pub fn peek(&self, key: &str) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let Some((tokens, at)) = buckets.get(key) else {
            return Ok(());
        };
        let tokens = (tokens + at.elapsed().as_secs_f64() * self.rate).min(self.burst);
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - tokens) / self.rate))
        }
    }

    /// Takes `n` tokens (a batch of `n` operations) for `subject`, or none.
    pub fn take(&self, subject: &str, n: usize) -> Result<(), Duration> {
        let n = n.max(1) as f64;
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if buckets.len() >= MAX_SUBJECTS && !buckets.contains_key(subject) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets
            .entry(subject.to_string())
            .or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= n {
            *tokens -= n;
            Ok(())
        } else {
            // A batch larger than the burst can never pass: ask for the wait of a full bucket.
            let missing = n.min(self.burst) - *tokens;
            Err(Duration::from_secs_f64(missing.max(0.0) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_with_a_wait() {
        let l = RateLimiter::new(1.0, 3.0);
        for _ in 0..3 {
            assert!(l.check("bot:ci").is_ok());
        }
        let wait = l.check("bot:ci").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(l.check("user:other").is_ok(), "buckets are per subject");
        assert!(l.peek("bot:ci").is_err() && l.peek("bot:new").is_ok());
        assert!(l.peek("bot:new").is_ok(), "peeking takes nothing");
        assert!(RateLimiter::new(0.0, 1.0).check("x").is_ok());
    }
}
