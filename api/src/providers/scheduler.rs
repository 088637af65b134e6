//! Periodic refresh: every configured source runs on its own loop (interval with jitter, a timeout,
//! exponential backoff after failures), so one failing source never delays the others.
//! A run happens only while this process holds the source's lease (see `leases`), so replicas sharing a
//! database refresh each source once per interval.

use sea_orm::DatabaseConnection;
use std::time::Duration;
use tokio::task::JoinHandle;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::leases;
use super::placeholders::PlaceholderResolver;
use super::{refresh, Origin, Registry, Scheduled};
use crate::catalog::CatalogError;

/// How often and how patiently a source is refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
}

/// Parses `500ms`, `30s`, `5m`, `1h`, `90d` (a bare number means seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration (use e.g. 500ms, 30s, 5m, 1h, 90d)"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        "d" => Duration::from_secs(n * 86_400),
        other => {
            return Err(format!(
                "'{text}': unknown unit '{other}' (use ms, s, m, h or d)"
            ))
        }
    };
    if d.is_zero() {
        return Err(format!("'{text}': a duration must be positive"));
    }
    Ok(d)
}

/// Up to 10% of `interval`, varying per source and per run, so replicas and sources do not align.
fn jitter(interval: Duration, seed: &str, run: u64) -> Duration {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes().chain(run.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let max = interval.as_millis() as u64 / 10;
    Duration::from_millis(if max == 0 { 0 } else { h % max })
}

/// Delay before the next run after `failures` consecutive failures: the interval, doubled per failure,
/// capped at ten intervals.
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.min(20);
    interval
        .saturating_mul(factor)
        .min(interval.saturating_mul(10))
}

/// The running refresh loops of one process.
pub struct Refreshers {
    pub holder: String,
    loops: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
    supervisor: JoinHandle<()>,
    /// Refreshes this process has run (all sources).
    pub runs: Arc<AtomicU64>,
}

impl Refreshers {
    /// Stops the loops and releases this process's leases.
    pub async fn stop(self, db: &DatabaseConnection) {
        self.supervisor.abort();
        if let Ok(loops) = self.loops.lock() {
            loops.values().for_each(JoinHandle::abort);
        }
        if let Err(e) = leases::release_all(db, &self.holder).await {
            tracing::warn!(error = %e, "could not release leases");
        }
    }
}

/// Starts one refresh loop per configured file location with one schedule (see [`spawn`]).
pub fn spawn_file_locations(
    db: DatabaseConnection,
    targets: Vec<String>,
    schedule: Schedule,
    holder: String,
    resolver: PlaceholderResolver,
) -> Refreshers {
    let configured = targets
        .iter()
        .map(|t| Scheduled {
            provider: Arc::new(super::file::FileProvider::new(t, resolver.clone())),
            schedule,
        })
        .collect();
    let registry = Registry {
        configured,
        resolver,
        default_schedule: Some(schedule),
    };
    spawn(db, Arc::new(registry), holder)
}

/// Starts one refresh loop per configured source, as lease holder `holder` (the first attempt is
/// immediate), and a supervisor that, every default interval, starts loops for locations registered at
/// run time and stops those of unregistered ones.
pub fn spawn(db: DatabaseConnection, registry: Arc<Registry>, holder: String) -> Refreshers {
    let runs = Arc::new(AtomicU64::new(0));
    let loops: HashMap<String, JoinHandle<()>> = registry
        .configured
        .iter()
        .map(|s| {
            let handle = spawn_loop(
                db.clone(),
                s.clone(),
                holder.clone(),
                runs.clone(),
                Origin::Config,
            );
            (s.provider.key().to_string(), handle)
        })
        .collect();
    let loops = Arc::new(Mutex::new(loops));
    let schedule = registry.default_schedule.unwrap_or(Schedule {
        interval: Duration::from_secs(60),
        timeout: Duration::from_secs(300),
    });
    let supervisor = {
        let (db, holder, runs, loops) = (db.clone(), holder.clone(), runs.clone(), loops.clone());
        let configured: HashSet<String> = registry
            .configured
            .iter()
            .map(|s| s.provider.key().to_string())
            .collect();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(schedule.interval).await;
                let registered: Vec<Scheduled> = match crate::catalog::sources::list(&db).await {
                    Ok(list) => list
                        .into_iter()
                        .filter(|s| s.origin == "registered")
                        .filter_map(|s| {
                            let provider = registry
                                .provider_for(&s.key, &s.source_type, &s.target, Origin::Registered)
                            .map_err(
                                |e| tracing::warn!(source = %s.key, error = %e, "cannot schedule"),
                            )
                            .ok()?;
                            Some(Scheduled { provider, schedule })
                        })
                        .collect(),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not list registered locations");
                        continue;
                    }
                };
                let Ok(mut loops) = loops.lock() else { return };
                let wanted: HashSet<String> = registered
                    .iter()
                    .map(|s| s.provider.key().to_string())
                    .collect();
                // A loop that ended (its source was unregistered, or it panicked) is started again if wanted.
                loops.retain(|key, handle| {
                    let keep =
                        (configured.contains(key) || wanted.contains(key)) && !handle.is_finished();
                    if !keep {
                        handle.abort();
                    }
                    keep
                });
                for s in registered {
                    loops
                        .entry(s.provider.key().to_string())
                        .or_insert_with(|| {
                            spawn_loop(
                                db.clone(),
                                s,
                                holder.clone(),
                                runs.clone(),
                                Origin::Registered,
                            )
                        });
                }
            }
        })
    };
    Refreshers {
        holder,
        loops,
        supervisor,
        runs,
    }
}

/// One source's loop: claim the lease, refresh, record the next run, sleep.
fn spawn_loop(
    db: DatabaseConnection,
    source: Scheduled,
    holder: String,
    runs: Arc<AtomicU64>,
    origin: Origin,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Scheduled { provider, schedule } = source;
        let key = provider.key().to_string();
        let lease = format!("source:{key}");
        let mut failures = 0u32;
        let mut run = 0u64;
        loop {
            run += 1;
            // Held for the whole run (up to its timeout), then set to expire one interval after it ends.
            let claimed =
                leases::try_acquire(&db, &lease, &holder, schedule.interval + schedule.timeout)
                    .await
                    .unwrap_or_else(|e| {
                        tracing::warn!(source = %key, error = %e, "lease check failed");
                        false
                    });
            if !claimed {
                tokio::time::sleep(schedule.interval + jitter(schedule.interval, &key, run)).await;
                continue;
            }
            runs.fetch_add(1, Ordering::SeqCst);
            let outcome =
                tokio::time::timeout(schedule.timeout, refresh(&db, provider.clone(), origin))
                    .await;
            match outcome {
                Ok(Ok(_)) => failures = 0,
                Ok(Err(CatalogError::NotFound(_))) if origin == Origin::Registered => return,
                Ok(Err(e)) => {
                    failures += 1;
                    tracing::error!(source = %key, error = %e, failures, "refresh failed");
                }
                Err(_) => {
                    failures += 1;
                    tracing::error!(source = %key, timeout = ?schedule.timeout, failures, "refresh timed out");
                    let msg = format!("timed out after {:?}", schedule.timeout);
                    if let Err(e) =
                        crate::catalog::sources::record_refresh(&db, &key, Some(msg)).await
                    {
                        tracing::warn!(source = %key, error = %e, "could not record the timeout");
                    }
                }
            }
            if let Err(e) = leases::try_acquire(&db, &lease, &holder, schedule.interval).await {
                tracing::warn!(source = %key, error = %e, "could not shorten the lease");
            }
            let wait = backoff(schedule.interval, failures) + jitter(schedule.interval, &key, run);
            let next = chrono::Utc::now().timestamp_millis() + wait.as_millis() as i64;
            if let Err(e) = crate::catalog::sources::set_next_refresh(&db, &key, next).await {
                tracing::warn!(source = %key, error = %e, "could not record the next refresh");
            }
            tokio::time::sleep(wait).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5 weeks").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn backoff_doubles_and_caps_and_jitter_stays_small() {
        let i = Duration::from_secs(10);
        assert_eq!(backoff(i, 0), i);
        assert_eq!(backoff(i, 1), Duration::from_secs(20));
        assert_eq!(backoff(i, 2), Duration::from_secs(40));
        assert_eq!(backoff(i, 9), Duration::from_secs(100));
        for run in 0..50 {
            assert!(jitter(i, "file:/x", run) < Duration::from_secs(1));
        }
    }
}
