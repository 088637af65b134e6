//! Test-only pause points, so a crash test (or `greenroom bench`) can SIGKILL the server at an exact state:
//! with `GREENROOM_TEST_PAUSE_DIR` set, a point `NAME` whose file `NAME.arm` exists in that directory writes
//! `NAME.reached` (the pid and what is pending) and then waits forever, holding whatever it holds (an open
//! write transaction). Without the variable — always, outside tests — a point costs one cached check.

use std::path::PathBuf;
use std::sync::OnceLock;

/// The variable naming the directory of the arm and marker files.
pub const ENV: &str = "GREENROOM_TEST_PAUSE_DIR";

/// Inside the write of a location's snapshot that changes entities (`catalog::ingest::Applier::finish`),
/// just before its commit: everything written, nothing committed.
pub const CATALOG_WRITE: &str = "catalog-write";
/// Inside the transaction that removes a location (`unregisterLocation`, or a failed registration's
/// undo), the location and its entities deleted, just before the commit.
pub const UNREGISTER_WRITE: &str = "unregister-write";

fn dir() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        std::env::var_os(ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    })
    .as_ref()
}

/// Pauses for good at point `name` when it is armed; `detail` says what is pending (in the marker).
pub async fn point(name: &str, detail: impl FnOnce() -> String) {
    let Some(dir) = dir() else { return };
    if !dir.join(format!("{name}.arm")).exists() {
        return;
    }
    // Written under a temporary name and renamed, so a waiting test never reads half a marker.
    let tmp = dir.join(format!("{name}.reached.tmp"));
    let text = format!("pid={} {}\n", std::process::id(), detail());
    let written = std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, dir.join(format!("{name}.reached"))));
    if let Err(e) = written {
        tracing::error!(point = name, error = %e, "pause point: the marker was not written; not pausing");
        return;
    }
    tracing::warn!(
        point = name,
        "test pause point reached; waiting to be killed"
    );
    std::future::pending::<()>().await;
}
