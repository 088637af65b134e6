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
use super::{refresh_fenced, Origin, Registry, Scheduled};
use crate::catalog::CatalogError;

/// How often and how patiently a source is refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub interval: Duration,
    pub timeout: Duration,
}

/// How long a lease outlives its holder's last heartbeat when `catalog.refresh.leaseTtl` is not set: a
/// killed process's sources are taken over (by a restart or another replica) within this time.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);

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
            rules: crate::catalog::rules::SourceRules::allow_all(),
        })
        .collect();
    let registry = Registry {
        configured,
        resolver,
        default_schedule: Some(schedule),
        lease_ttl: None,
        rules: Default::default(),
    };
    spawn(db, Arc::new(registry), holder)
}

/// Starts one refresh loop per configured source, as lease holder `holder` (the first attempt is
/// immediate), and a supervisor that, every default interval, starts loops for locations registered at
/// run time and stops those of unregistered ones.
pub fn spawn(db: DatabaseConnection, registry: Arc<Registry>, holder: String) -> Refreshers {
    let runs = Arc::new(AtomicU64::new(0));
    let ttl = registry.lease_ttl.unwrap_or(DEFAULT_LEASE_TTL);
    let loops: HashMap<String, JoinHandle<()>> = registry
        .configured
        .iter()
        .map(|s| {
            let handle = spawn_loop(
                db.clone(),
                s.clone(),
                Lessee {
                    holder: holder.clone(),
                    ttl,
                },
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
    let configured: HashSet<String> = registry
        .configured
        .iter()
        .map(|s| s.provider.key().to_string())
        .collect();
    let supervisor = tokio::spawn(
        Supervisor {
            db,
            registry,
            holder: holder.clone(),
            ttl,
            runs: runs.clone(),
            loops: loops.clone(),
            schedule,
            configured,
        }
        .run(),
    );
    Refreshers {
        holder,
        loops,
        supervisor,
        runs,
    }
}

/// Starts and stops the loops of locations registered at run time.
struct Supervisor {
    db: DatabaseConnection,
    registry: Arc<Registry>,
    holder: String,
    ttl: Duration,
    runs: Arc<AtomicU64>,
    loops: Arc<Mutex<HashMap<String, JoinHandle<()>>>>,
    /// The schedule of registered locations (the supervisor's own interval too).
    schedule: Schedule,
    /// The keys of the configured sources, whose loops always stay.
    configured: HashSet<String>,
}

impl Supervisor {
    /// Every default interval: lists the registered locations and reconciles the loops with them.
    async fn run(self) {
        loop {
            tokio::time::sleep(self.schedule.interval).await;
            let Some(registered) = self.registered().await else {
                continue;
            };
            if !self.reconcile(registered) {
                return;
            }
        }
    }

    /// The registered locations with their providers (one that cannot be built is logged and left out);
    /// `None` when they cannot be listed.
    async fn registered(&self) -> Option<Vec<Scheduled>> {
        match crate::catalog::sources::list(&self.db).await {
            Ok(list) => Some(
                list.into_iter()
                    .filter(|s| s.origin == "registered")
                    .filter_map(|s| {
                        let provider = self
                            .registry
                            .provider_for(&s.key, &s.source_type, &s.target, Origin::Registered)
                            .map_err(
                                |e| tracing::warn!(source = %s.key, error = %e, "cannot schedule"),
                            )
                            .ok()?;
                        Some(Scheduled {
                            provider,
                            schedule: self.schedule,
                            rules: self.registry.rules.for_source(&[]),
                        })
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(error = %e, "could not list registered locations");
                None
            }
        }
    }

    /// Stops the loops of sources no longer wanted and starts those of registered ones that have none;
    /// false when the loop table is poisoned (the supervisor then stops).
    fn reconcile(&self, registered: Vec<Scheduled>) -> bool {
        let Ok(mut loops) = self.loops.lock() else {
            return false;
        };
        let wanted: HashSet<String> = registered
            .iter()
            .map(|s| s.provider.key().to_string())
            .collect();
        // A loop that ended (its source was unregistered, or it panicked) is started again if wanted.
        loops.retain(|key, handle| {
            let keep =
                (self.configured.contains(key) || wanted.contains(key)) && !handle.is_finished();
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
                        self.db.clone(),
                        s,
                        Lessee {
                            holder: self.holder.clone(),
                            ttl: self.ttl,
                        },
                        self.runs.clone(),
                        Origin::Registered,
                    )
                });
        }
        true
    }
}

/// Who claims a loop's leases, and for how long past the last heartbeat.
struct Lessee {
    holder: String,
    ttl: Duration,
}

/// How a leased run ended.
enum RunEnd {
    Done(Result<super::RefreshOutcome, CatalogError>),
    TimedOut,
    /// Another process took the lease over: the run was stopped and wrote nothing.
    Lost,
}

/// One source's loop: claim the lease, refresh while renewing it, hold it through the pause, sleep. A
/// loop that finds the lease held waits until it expires (a killed holder's lease lapses within `ttl`).
fn spawn_loop(
    db: DatabaseConnection,
    source: Scheduled,
    lessee: Lessee,
    runs: Arc<AtomicU64>,
    origin: Origin,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Scheduled {
            provider,
            schedule,
            rules,
        } = source;
        let key = provider.key().to_string();
        let fence = leases::Fence {
            name: format!("source:{key}"),
            holder: lessee.holder,
            ttl: lessee.ttl,
        };
        let mut failures = 0u32;
        let mut run = 0u64;
        loop {
            run += 1;
            let claimed = leases::try_acquire(&db, &fence.name, &fence.holder, fence.ttl)
                .await
                .unwrap_or_else(|e| {
                    tracing::warn!(source = %key, error = %e, "lease check failed");
                    false
                });
            if !claimed {
                let pause = until_expiry(&db, &fence.name, schedule.interval).await;
                tokio::time::sleep(pause + jitter(fence.ttl / 10, &key, run)).await;
                continue;
            }
            runs.fetch_add(1, Ordering::SeqCst);
            let attempt = leased_run(
                &db,
                provider.clone(),
                origin,
                &rules,
                &fence,
                schedule.timeout,
            );
            match attempt.await {
                RunEnd::Done(Ok(_)) => failures = 0,
                RunEnd::Done(Err(CatalogError::NotFound(_))) if origin == Origin::Registered => {
                    return
                }
                RunEnd::Done(Err(CatalogError::LeaseLost(_))) | RunEnd::Lost => {
                    tracing::warn!(source = %key, "lease lost to another process; run stopped");
                    continue;
                }
                RunEnd::Done(Err(e)) => {
                    failures += 1;
                    tracing::error!(source = %key, error = %e, failures, "refresh failed");
                }
                RunEnd::TimedOut => {
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
            let wait = backoff(schedule.interval, failures) + jitter(schedule.interval, &key, run);
            // Held through the pause (so other replicas skip this interval) plus one ttl of grace.
            match leases::renew(&db, &fence.name, &fence.holder, wait + fence.ttl).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(source = %key, "lease taken over after the run"),
                Err(e) => tracing::warn!(source = %key, error = %e, "could not extend the lease"),
            }
            let next = chrono::Utc::now().timestamp_millis() + wait.as_millis() as i64;
            if let Err(e) = crate::catalog::sources::set_next_refresh(&db, &key, next).await {
                tracing::warn!(source = %key, error = %e, "could not record the next refresh");
            }
            tokio::time::sleep(wait).await;
        }
    })
}

/// How long until the lease `name` expires (at most `cap`; zero when it already has).
async fn until_expiry(db: &DatabaseConnection, name: &str, cap: Duration) -> Duration {
    match leases::expires_at(db, name).await {
        Ok(Some(at)) => {
            let left = at - chrono::Utc::now().timestamp_millis();
            Duration::from_millis(left.max(0) as u64).min(cap)
        }
        Ok(None) => Duration::ZERO,
        Err(e) => {
            tracing::warn!(lease = name, error = %e, "could not read the lease");
            cap
        }
    }
}

/// Runs one refresh under `fence`, renewing the lease every third of its ttl from a separate task (so a
/// renewal waiting on SQLite's write lock never stalls the run). The run stops as soon as a renewal finds
/// the lease taken over; its commit is fenced too, so a run that lost its lease writes nothing.
async fn leased_run(
    db: &DatabaseConnection,
    provider: Arc<dyn super::Provider>,
    origin: Origin,
    rules: &crate::catalog::rules::SourceRules,
    fence: &leases::Fence,
    timeout: Duration,
) -> RunEnd {
    let (lost_tx, mut lost) = tokio::sync::watch::channel(false);
    let heartbeat = {
        let (db, fence) = (db.clone(), fence.clone());
        AbortOnDrop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(fence.ttl / 3).await;
                match leases::renew(&db, &fence.name, &fence.holder, fence.ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        let _ = lost_tx.send(true);
                        return;
                    }
                    Err(e) => tracing::warn!(lease = %fence.name, error = %e, "heartbeat failed"),
                }
            }
        }))
    };
    let work = tokio::time::timeout(
        timeout,
        refresh_fenced(db, provider, origin, rules, Some(fence)),
    );
    let end = tokio::select! {
        r = work => match r {
            Ok(r) => RunEnd::Done(r),
            Err(_) => RunEnd::TimedOut,
        },
        _ = lost.wait_for(|l| *l) => RunEnd::Lost,
    };
    drop(heartbeat);
    end
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
