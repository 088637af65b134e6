//! DORA metrics over a window of deployments:
//! - deployment frequency: successful deployments per day;
//! - lead time for changes: `finishedAt - commitTime` of successful deployments (median, p90);
//! - change failure rate: failed or rolled-back deployments / finished deployments (cancelled ones excluded);
//! - time to restore: from a failure (or rollback) to the next success of the same entity and environment
//!   (median).

use super::service::Deployment;
use super::Status;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dora {
    pub window_days: f64,
    pub deployments: usize,
    pub successful: usize,
    pub failed: usize,
    pub deployments_per_day: f64,
    pub lead_time_median_seconds: Option<f64>,
    pub lead_time_p90_seconds: Option<f64>,
    pub change_failure_rate: Option<f64>,
    pub time_to_restore_median_seconds: Option<f64>,
}

/// Nearest-rank percentile (`p` in 0..=100) of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Computes the metrics of `rows` (any order), all recorded within a window of `window_days`.
pub fn compute(rows: &[Deployment], window_days: f64) -> Dora {
    let status = |d: &Deployment| Status::parse(&d.status).unwrap_or(Status::Pending);
    let mut rows: Vec<&Deployment> = rows.iter().collect();
    rows.sort_by_key(|d| (d.finished_at.unwrap_or(d.created_at), d.id));
    let successful: Vec<&&Deployment> = rows
        .iter()
        .filter(|d| status(d) == Status::Succeeded)
        .collect();
    let failed = rows
        .iter()
        .filter(|d| matches!(status(d), Status::Failed | Status::RolledBack))
        .count();
    let mut lead: Vec<f64> = successful
        .iter()
        .filter_map(|d| Some((d.finished_at? - d.commit_time?) as f64 / 1000.0))
        .filter(|s| *s >= 0.0)
        .collect();
    lead.sort_by(f64::total_cmp);
    let finished = successful.len() + failed;
    let mut restore = Vec::new();
    for (i, d) in rows.iter().enumerate() {
        if !matches!(status(d), Status::Failed | Status::RolledBack) {
            continue;
        }
        let Some(failed_at) = d.finished_at else {
            continue;
        };
        let next = rows[i + 1..].iter().find(|n| {
            n.entity_ref == d.entity_ref
                && n.environment == d.environment
                && status(n) == Status::Succeeded
        });
        if let Some(ok_at) = next.and_then(|n| n.finished_at) {
            restore.push((ok_at - failed_at) as f64 / 1000.0);
        }
    }
    restore.sort_by(f64::total_cmp);
    Dora {
        window_days,
        deployments: rows.len(),
        successful: successful.len(),
        failed,
        deployments_per_day: if window_days > 0.0 {
            successful.len() as f64 / window_days
        } else {
            0.0
        },
        lead_time_median_seconds: median(&lead),
        lead_time_p90_seconds: percentile(&lead, 90.0),
        change_failure_rate: (finished > 0).then(|| failed as f64 / finished as f64),
        time_to_restore_median_seconds: median(&restore),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: i64, status: &str, commit: Option<i64>, finished: i64) -> Deployment {
        Deployment {
            id,
            entity_ref: "component:default/a".into(),
            environment: "production".into(),
            version: format!("1.{id}"),
            status: status.into(),
            commit_sha: None,
            commit_time: commit,
            url: None,
            description: None,
            idempotency_key: None,
            recorded_by: "bot:ci".into(),
            started_at: None,
            finished_at: Some(finished),
            created_at: finished,
            updated_at: finished,
        }
    }

    #[test]
    fn hand_computed() {
        const H: i64 = 3_600_000;
        // Lead times 1h, 3h, 2h; a failure at 10h restored by the success at 12h (2h); one cancel.
        let rows = vec![
            d(1, "SUCCEEDED", Some(0), H),
            d(2, "SUCCEEDED", Some(2 * H), 5 * H),
            d(3, "FAILED", Some(9 * H), 10 * H),
            d(4, "CANCELLED", None, 11 * H),
            d(5, "SUCCEEDED", Some(10 * H), 12 * H),
        ];
        let m = compute(&rows, 2.0);
        assert_eq!((m.deployments, m.successful, m.failed), (5, 3, 1));
        assert_eq!(m.deployments_per_day, 1.5);
        assert_eq!(m.lead_time_median_seconds, Some(7200.0));
        assert_eq!(m.lead_time_p90_seconds, Some(10800.0));
        assert_eq!(m.change_failure_rate, Some(0.25));
        assert_eq!(m.time_to_restore_median_seconds, Some(7200.0));
        assert_eq!(compute(&[], 30.0).change_failure_rate, None);
    }
}
