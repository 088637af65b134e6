//! The api crate's one integration binary: tests against the real `greenroom` binary on port 0 (kill -9,
//! replicas, operations), one module per story. The process and PostgreSQL helpers live in the support
//! crate (`greenroom_tests::{process, pg}`); this binary only knows where cargo built the binary.

mod backstage_request;
mod binary;
mod crash;
mod crash_points;
mod crash_recovery;
mod operations;
mod replicas;
mod scaffolder_recovery;
mod scaffolder_url_rewrite;

/// The `greenroom` binary under test.
pub const GREENROOM: &str = env!("CARGO_BIN_EXE_greenroom");

/// [`GREENROOM`] with a clean environment (see [`greenroom_tests::process::command`]).
pub fn bin() -> std::process::Command {
    greenroom_tests::process::command(GREENROOM)
}

/// `greenroom --config CONFIG serve` on port 0, killed when dropped.
pub fn serve(config: &std::path::Path) -> greenroom_tests::process::Server {
    greenroom_tests::process::Server::start(GREENROOM, config)
}

/// [`serve`] with the variables `env` set (e.g. the machine's git configuration).
pub fn serve_with(
    config: &std::path::Path,
    env: &[(&str, &std::path::Path)],
) -> greenroom_tests::process::Server {
    greenroom_tests::process::Server::start_with(GREENROOM, config, env)
}

/// [`serve`] with the test pause points of `api::pause` enabled, their files in `pause_dir`.
pub fn serve_paused(
    config: &std::path::Path,
    pause_dir: &std::path::Path,
) -> greenroom_tests::process::Server {
    greenroom_tests::process::Server::start_with(GREENROOM, config, &[(api::pause::ENV, pause_dir)])
}
