//! Deployments, live and summarised: the `deploymentEvents` subscription and DORA metrics.

use async_graphql::{Context, InputObject, SimpleObject};
use futures_util::{Stream, StreamExt};

use super::deployments::Deployment;
use super::errors::{ApiError, GqlResultExt};
use super::guard::{require, READ};
use crate::deployments::dora;
use crate::deployments::service::{self, Filter};

type Res<T> = async_graphql::Result<T>;

/// Which events a subscriber wants.
#[derive(InputObject, Default)]
pub struct DeploymentEventFilter {
    /// Only events of this entity ref (kind defaults to component, namespace to `default`).
    pub entity_ref: Option<String>,
    /// Only events in this environment, exact match.
    pub environment: Option<String>,
}

#[derive(Default)]
pub struct DeploymentSubscription;

/// Live deployment events.
#[async_graphql::Subscription]
impl DeploymentSubscription {
    /// Each new deployment and status change on this server (needs `catalog:read`).
    async fn deployment_events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only events matching every given field; default: all.")] filter: Option<
            DeploymentEventFilter,
        >,
    ) -> async_graphql::Result<impl Stream<Item = Deployment>> {
        require(ctx, READ)?;
        let f = filter.unwrap_or_default();
        let entity = match f.entity_ref {
            Some(r) => Some(
                crate::catalog::refs::EntityRef::parse(&r, Some("component"), "default")
                    .map(|x| x.to_string())
                    .map_err(|e| ApiError::BadUserInput(format!("invalid ref '{r}': {e}")))
                    .gql()?,
            ),
            None => None,
        };
        let environment = f.environment;
        let rx = super::context::events(ctx)?.subscribe();
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            loop {
                match rx.recv().await {
                    Ok(ev) => return Some((ev, rx)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        Ok(stream
            .filter(move |ev| {
                let keep = entity.as_ref().is_none_or(|r| *r == ev.entity_ref)
                    && environment.as_ref().is_none_or(|e| *e == ev.environment);
                std::future::ready(keep)
            })
            .map(|ev| Deployment(ev.as_ref().clone())))
    }
}

/// DORA metrics of a set of deployments (see README for the definitions).
#[derive(SimpleObject)]
pub struct DoraMetrics {
    /// Length of the window, in days.
    pub window_days: f64,
    /// Deployments recorded in the window, whatever their status.
    pub deployments: i32,
    /// Deployments in the window that succeeded.
    pub successful: i32,
    /// Deployments in the window that failed or were rolled back.
    pub failed: i32,
    /// Successful deployments per day.
    pub deployment_frequency_per_day: f64,
    /// `finishedAt - commitTime` of successful deployments, in seconds.
    pub lead_time_median_seconds: Option<f64>,
    /// 90th percentile (nearest rank) of `finishedAt - commitTime` of successful deployments, in seconds.
    pub lead_time_p90_seconds: Option<f64>,
    /// Failed or rolled back / finished (cancelled excluded).
    pub change_failure_rate: Option<f64>,
    /// From a failure to the next success of the same entity and environment, in seconds.
    pub time_to_restore_median_seconds: Option<f64>,
}

/// Parses a window such as `30d`, `12h` or `90m`.
fn window(text: &str) -> Res<std::time::Duration> {
    let d = crate::duration::parse(text)
        .map_err(|_| {
            ApiError::BadUserInput(format!("window '{text}' is not a duration (30d, 12h)"))
        })
        .gql()?;
    if d.is_zero() || d > std::time::Duration::from_secs(366 * 86_400) {
        return Err(ApiError::BadUserInput(
            "window must be from 1s to 366d".into(),
        ))
        .gql();
    }
    Ok(d)
}

/// `doraMetrics(window, environment)` of an entity, a system or a group.
pub async fn dora_of(
    ctx: &Context<'_>,
    mut filter: Filter,
    window_text: &str,
    environment: Option<String>,
) -> Res<DoraMetrics> {
    let w = window(window_text)?;
    filter.environment = environment;
    filter.since = Some(chrono::Utc::now().timestamp_millis() - w.as_millis() as i64);
    let db = super::context::database(ctx)?;
    let rows = service::list(db, &filter, 100_000).await.gql()?;
    let m = dora::compute(&rows, w.as_secs_f64() / 86_400.0);
    Ok(DoraMetrics {
        window_days: m.window_days,
        deployments: m.deployments as i32,
        successful: m.successful as i32,
        failed: m.failed as i32,
        deployment_frequency_per_day: m.deployments_per_day,
        lead_time_median_seconds: m.lead_time_median_seconds,
        lead_time_p90_seconds: m.lead_time_p90_seconds,
        change_failure_rate: m.change_failure_rate,
        time_to_restore_median_seconds: m.time_to_restore_median_seconds,
    })
}
