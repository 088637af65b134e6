//! The real `greenroom` binary as a child process: a clean environment, the address `serve` prints, and
//! a running server killed (SIGKILL) when dropped. The binary's path comes from the test crate that
//! builds it (`env!("CARGO_BIN_EXE_greenroom")` in the api crate's tests).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// Variables of the environment running the tests that would change what the binary does.
const CLEARED: [&str; 7] = [
    "GREENROOM_CONFIG",
    "GREENROOM_DATABASE_URL",
    "GREENROOM_LISTEN",
    "GREENROOM_JWT_SECRET",
    "GREENROOM_LOG_FORMAT",
    "GREENROOM_TEST_PAUSE_DIR",
    "RUST_LOG",
];

/// The binary at `exe`, without the `GREENROOM_*` (and `RUST_LOG`) variables of the environment.
pub fn command(exe: &str) -> Command {
    let mut c = Command::new(exe);
    for var in CLEARED {
        c.env_remove(var);
    }
    c
}

/// The base URL a `serve` child prints first (`listening on http://ADDR`); its stdout must be piped.
pub fn listening(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout is piped"))
        .read_line(&mut line)
        .expect("the listening line");
    line.trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("expected the listening line, got {line:?}"))
        .to_string()
}

/// A running `greenroom --config CONFIG serve` (warnings only, stderr discarded); killed (SIGKILL) when
/// dropped.
pub struct Server {
    pub child: Child,
    /// `http://ADDR`.
    pub addr: String,
}

impl Server {
    /// Starts the binary at `exe` with `config` and waits for its listening line.
    pub fn start(exe: &str, config: &Path) -> Server {
        Server::start_with(exe, config, &[])
    }

    /// [`Server::start`] with the variables `env` set (e.g. `GREENROOM_TEST_PAUSE_DIR`).
    pub fn start_with(exe: &str, config: &Path, env: &[(&str, &Path)]) -> Server {
        let mut child = command(exe)
            .args(["--config", &config.display().to_string(), "serve"])
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start greenroom");
        let addr = listening(&mut child);
        Server { child, addr }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait until the process is gone. Returns the moment of the kill.
    pub fn kill9(mut self) -> Instant {
        let at = Instant::now();
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        at
    }

    /// `/readyz`: (status code, body).
    pub async fn readyz(&self) -> (u16, serde_json::Value) {
        let r = reqwest::get(format!("{}/readyz", self.addr))
            .await
            .expect("readyz");
        let code = r.status().as_u16();
        (code, r.json().await.expect("json"))
    }

    /// POSTs `query` with `variables` to `/graphql` (no token); the response body as JSON.
    pub async fn gql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/graphql", self.addr))
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql")
            .json()
            .await
            .expect("json")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
