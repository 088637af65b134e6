//! The recovery figure of `greenroom bench`: a server on a fresh database is killed with SIGKILL inside its
//! first load's write transaction (at the test pause point [`crate::pause::CATALOG_WRITE`]: the whole
//! catalog read and written, nothing committed — the costliest moment to die), and a server restarted on
//! that database with the default lease ttl is timed from the kill until every entity is queryable.

use super::server::{wait_queryable, Loaded, Server};
use std::time::{Duration, Instant};

/// The recovery target beyond the read time: a dead holder's lease lapses within 30 s.
const TARGET: f64 = 30.0;

/// One catalog's figures, in seconds.
pub struct Recovery {
    /// From the first start to the kill (the first load, read and written up to its commit).
    to_kill: f64,
    /// From the kill until the restarted server answers with every entity.
    recovery: f64,
    /// 30 s plus the read time (this catalog's start → queryable).
    target: f64,
}

/// Kills `loaded`'s server, then measures a kill inside a first load of the same catalog.
pub async fn measure(client: &reqwest::Client, loaded: Loaded) -> anyhow::Result<Recovery> {
    let Loaded {
        server,
        dir,
        db,
        root,
        n,
        ingest,
        ..
    } = loaded;
    server.kill9().await?;
    let pause = dir.join("pause");
    let _ = std::fs::remove_dir_all(&pause);
    std::fs::create_dir_all(&pause)?;
    let point = crate::pause::CATALOG_WRITE;
    std::fs::write(pause.join(format!("{point}.arm")), "")?;
    let marker = pause.join(format!("{point}.reached"));
    let started = Instant::now();
    let first = Server::start(&db, &dir, &root, Some(&pause)).await?;
    while !marker.exists() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the first load did not reach its commit within 600 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let to_kill = started.elapsed().as_secs_f64();
    let killed = first.kill9().await?;
    let second = Server::spawn(&db, &dir, &root, None).await?;
    wait_queryable(client, &second.url, n).await?;
    let recovery = killed.elapsed().as_secs_f64();
    drop(second);
    db.remove().await?;
    Ok(Recovery {
        to_kill,
        recovery,
        target: TARGET + ingest,
    })
}

/// Prints the recovery table.
pub fn print(rows: &[(usize, Recovery)]) {
    println!("| N entities | first load until SIGKILL inside its write (s) | kill → restarted server has every entity queryable (s) | target: 30 s + read time (s) |");
    println!("|---:|---:|---:|---:|");
    for (n, r) in rows {
        let verdict = if r.recovery <= r.target {
            ""
        } else {
            " (missed)"
        };
        println!(
            "| {n} | {:.2} | {:.2}{verdict} | {:.2} |",
            r.to_kill, r.recovery, r.target
        );
    }
    println!("(recovery: the dead server's lease lapses within catalog.refresh.leaseTtl, 15 s by default, then the restarted server reads everything again)");
}
