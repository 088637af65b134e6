//! The real server as `greenroom bench` runs it: a child process on a generated catalog (SQLite or
//! PostgreSQL, one file location, every generated kind allowed), started fresh or on the database as it is, killed with
//! SIGKILL, and waited for until the whole catalog is queryable.

use super::database::Db;
use anyhow::Context as _;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub(super) struct Server {
    pub(super) child: Child,
    /// The GraphQL endpoint, `http://ADDR/graphql`.
    pub(super) url: String,
}

impl Server {
    /// A server on `db` emptied first, its configuration in `dir` (see [`Server::spawn`] for `pause`).
    pub(super) async fn start(
        db: &Db,
        dir: &Path,
        catalog_root: &Path,
        pause: Option<&Path>,
    ) -> anyhow::Result<Self> {
        db.reset().await?;
        Self::spawn(db, dir, catalog_root, pause).await
    }

    /// A server on the database in `dir` as it is; with `pause`, the test pause points of
    /// [`crate::pause`] are honoured, their files in that directory.
    pub(super) async fn spawn(
        db: &Db,
        dir: &Path,
        catalog_root: &Path,
        pause: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let cfg = dir.join("greenroom.yaml");
        std::fs::write(
            &cfg,
            format!(
                "server:\n  listen: 127.0.0.1:0\n  limits:\n    rateLimitPerSecond: 0\ndatabase:\n  url: {}\ncatalog:\n  rules:\n    - allow: [Component, API, Location, System, Domain, Resource, Group, User]\n  refresh:\n    interval: 1h\n  locations:\n    - type: file\n      target: {}\n",
                db.url,
                catalog_root.display()
            ),
        )?;
        let mut command = Command::new(std::env::current_exe()?);
        command
            .args(["--config", &cfg.display().to_string(), "serve"])
            .env("RUST_LOG", "warn")
            .env_remove("GREENROOM_DATABASE_URL")
            .env_remove("GREENROOM_LISTEN")
            .env_remove(crate::pause::ENV)
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(dir) = pause {
            command.env(crate::pause::ENV, dir).env("RUST_LOG", "error");
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .context("server did not start")??
                .context("server exited")?;
            if let Some(addr) = line.strip_prefix("listening on ") {
                break format!("{addr}/graphql");
            }
        };
        Ok(Self { child, url })
    }

    /// SIGKILL, and wait until the process is gone; the moment of the kill.
    pub(super) async fn kill9(mut self) -> anyhow::Result<Instant> {
        let at = Instant::now();
        self.child.kill().await?;
        Ok(at)
    }

    /// Peak resident set size (VmHWM) in MiB, from /proc.
    pub(super) fn peak_rss_mib(&self) -> Option<f64> {
        self.status_mib("VmHWM:")
    }

    /// Resident set size now (VmRSS) in MiB, from /proc.
    pub(super) fn rss_mib(&self) -> Option<f64> {
        self.status_mib("VmRSS:")
    }

    /// A size line of /proc/PID/status (`key` with its colon), in MiB.
    fn status_mib(&self, key: &str) -> Option<f64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with(key))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
}

/// The whole catalog is queryable: `/readyz` says every source was read, and the first component is
/// there (a source is applied in one transaction, so one of its entities stands for all of them;
/// `totalCount` stops counting at 10,000).
async fn loaded(client: &reqwest::Client, url: &str, n: usize) -> bool {
    let readyz = format!("{}/readyz", url.trim_end_matches("/graphql"));
    let ready = client.get(readyz).send().await;
    if !ready.is_ok_and(|r| r.status().is_success()) {
        return false;
    }
    let body = json!({ "query": "query($r: String!) { entity(ref: $r) { ref } }", "variables": { "r": first_component(n) } });
    let Ok(resp) = client.post(url).json(&body).send().await else {
        return false;
    };
    let v: serde_json::Value = resp.json().await.unwrap_or_default();
    v["data"]["entity"]["ref"].is_string()
}

/// A generated catalog, served by the real server once every entity is queryable.
pub(super) struct Loaded {
    pub(super) server: Server,
    /// The working directory (config, SQLite database) and the catalog's directory and root file in it.
    pub(super) dir: PathBuf,
    /// The server's database.
    pub(super) db: Db,
    pub(super) catalog: PathBuf,
    pub(super) root: PathBuf,
    /// Entities generated.
    pub(super) n: usize,
    /// Seconds from start to queryable.
    pub(super) ingest: f64,
}

/// Until the server at `url` has the whole generated catalog of `n` entities, at most 600 s.
pub(super) async fn wait_queryable(
    client: &reqwest::Client,
    url: &str,
    n: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    while !loaded(client, url, n).await {
        if let Some(e) = source_error(client, url).await {
            anyhow::bail!("the generated catalog of {n} entities did not load: {e}");
        }
        if started.elapsed() > Duration::from_secs(600) {
            anyhow::bail!("catalog of {n} entities not queryable after 600 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// The first error a source reported for its last read, if any (a refused or invalid entity).
async fn source_error(client: &reqwest::Client, url: &str) -> Option<String> {
    let body = serde_json::json!({ "query": "{ locations { nodes { lastError } } }" });
    let resp = client.post(url).json(&body).send().await.ok()?;
    let v: serde_json::Value = resp.json().await.ok()?;
    v["data"]["locations"]["nodes"]
        .as_array()?
        .iter()
        .find_map(|n| n["lastError"].as_str().map(str::to_string))
}

/// Ref of the first generated component (names are zero-padded to max(5, digits of N)).
pub(super) fn first_component(n: usize) -> String {
    let width = n.to_string().len().max(5);
    format!("component:default/component-{:0width$}", 1)
}

/// Name of the first generated group (same padding), the owner the filtered loads ask for.
pub(super) fn first_group(n: usize) -> String {
    let width = n.to_string().len().max(5);
    format!("team-{:0width$}", 1)
}
