//! Closed-loop HTTP load driver: N connections POSTing one GraphQL body for a fixed time, reporting req/s and latency percentiles.
//!
//! Each connection is a tokio task holding one keep-alive TCP connection, speaking just enough
//! HTTP/1.1 (a pre-built request, a `Content-Length` response) to stay out of the server's way on
//! a 2-core machine; it sends the next request as soon as the previous response has been read. Requests started during a short warm-up are not
//! counted. A response counts as an error when the status is not 200, the body is not a JSON
//! object, or it carries a non-empty GraphQL `errors` array; transport failures are errors too.

use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests started during this initial period are sent but not counted.
const WARMUP: Duration = Duration::from_millis(200);
/// Per-request timeout: a stalled server cannot hold the run much past its deadline.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After a transport error (e.g. connection refused) wait this long, so a dead server does not
/// turn every task into a busy loop.
const ERROR_BACKOFF: Duration = Duration::from_millis(1);
const MAX_CONNECTIONS: usize = 1024;
const MAX_DURATION: Duration = Duration::from_secs(3600);
/// Latency samples kept over all connections (4 bytes each); a task stops once it has its share.
const MAX_SAMPLES: usize = 50_000_000;
const ERRORS_KEY: &[u8] = b"\"errors\"";

/// Result of one run. `requests` counts every request started after the warm-up (errors
/// included); `seconds` runs from the end of the warm-up until the last in-flight request
/// finished; `rps = requests / seconds`. Percentiles are nearest-rank over all counted
/// requests (0 when there were none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadReport {
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

/// Runs `connections` closed-loop workers POSTing `body` as JSON to `url` for `duration`
/// (after a 200 ms warm-up).
///
/// # Errors
/// Invalid arguments (`connections` outside 1..=1024, zero or over-an-hour `duration`, a URL
/// that is not http(s)), a client that cannot be built, or a panicked worker. Failed requests
/// are counted in [`LoadReport::errors`], not returned as errors.
pub async fn run(
    url: &str,
    body: Value,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    run_with_headers(url, body, &[], connections, duration).await
}

/// [`run`] with extra request headers (e.g. `Cache-Control: no-cache`).
pub async fn run_with_headers(
    url: &str,
    body: Value,
    headers: &[(&str, &str)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    let payload = serde_json::to_vec(&body).context("serializing the GraphQL request body")?;
    run_request("POST", url, Some(payload), headers, connections, duration).await
}

/// Closed-loop `GET url` (the REST API) with extra headers; a response counts as an error as for
/// [`run`] (not 200, or not a JSON object).
pub async fn run_get(
    url: &str,
    headers: &[(&str, &str)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    run_request("GET", url, None, headers, connections, duration).await
}

async fn run_request(
    method: &str,
    url: &str,
    payload: Option<Vec<u8>>,
    headers: &[(&str, &str)],
    connections: usize,
    duration: Duration,
) -> anyhow::Result<LoadReport> {
    ensure!(
        (1..=MAX_CONNECTIONS).contains(&connections),
        "connections must be in 1..={MAX_CONNECTIONS}, got {connections}"
    );
    ensure!(
        !duration.is_zero() && duration <= MAX_DURATION,
        "duration must be positive and at most {MAX_DURATION:?}, got {duration:?}"
    );
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("load-test URL must be http://HOST:PORT/PATH, got {url:?}"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    ensure!(!host.is_empty(), "load-test URL has no host: {url:?}");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let length = payload
        .as_ref()
        .map(|p| {
            format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                p.len()
            )
        })
        .unwrap_or_default();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n{extra}{length}\r\n"
    )
    .into_bytes();
    request.extend_from_slice(payload.as_deref().unwrap_or_default());
    let request: std::sync::Arc<[u8]> = request.into();

    let measure_from = Instant::now() + WARMUP;
    let deadline = measure_from + duration;
    let sample_cap = MAX_SAMPLES / connections;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..connections {
        let worker = Worker {
            addr: host.to_string(),
            request: request.clone(),
            conn: None,
            buf: Vec::with_capacity(64 * 1024),
        };
        tasks.spawn(worker.run(measure_from, deadline, sample_cap));
    }

    let mut latencies_us: Vec<u32> = Vec::new();
    let mut errors = 0u64;
    while let Some(joined) = tasks.join_next().await {
        let stats = joined.context("load worker panicked")?;
        errors += stats.errors;
        latencies_us.extend_from_slice(&stats.latencies_us);
    }
    let seconds = measure_from.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let requests = latencies_us.len() as u64;
    let rps = if seconds > 0.0 {
        requests as f64 / seconds
    } else {
        0.0
    };
    Ok(LoadReport {
        requests,
        errors,
        seconds,
        rps,
        p50_ms: percentile_ms(&latencies_us, 0.50),
        p99_ms: percentile_ms(&latencies_us, 0.99),
    })
}

/// Nearest-rank percentile of sorted microsecond samples, in milliseconds.
fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = (p * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    f64::from(sorted_us[index]) / 1000.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// The server answered, but not with a successful GraphQL response.
    BadResponse,
    /// No complete response (connect/IO error or timeout).
    Transport,
}

#[derive(Debug, Default)]
struct WorkerStats {
    latencies_us: Vec<u32>,
    errors: u64,
}

struct Worker {
    addr: String,
    request: std::sync::Arc<[u8]>,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Worker {
    async fn run(
        mut self,
        measure_from: Instant,
        deadline: Instant,
        sample_cap: usize,
    ) -> WorkerStats {
        let mut stats = WorkerStats::default();
        while stats.latencies_us.len() < sample_cap {
            let started = Instant::now();
            // A worker whose requests all ended outside the window (a loaded machine) sends one more, so
            // every worker reports at least one measured request.
            if started >= deadline && !stats.latencies_us.is_empty() {
                break;
            }
            let outcome = self.send_one().await;
            if started >= measure_from {
                let micros = u32::try_from(started.elapsed().as_micros()).unwrap_or(u32::MAX);
                stats.latencies_us.push(micros);
                if outcome != Outcome::Ok {
                    stats.errors += 1;
                }
            }
            if outcome == Outcome::Transport {
                tokio::time::sleep(ERROR_BACKOFF).await;
            }
        }
        stats
    }

    async fn send_one(&mut self) -> Outcome {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange()).await {
            Ok(Ok((200, ok))) if ok => Outcome::Ok,
            Ok(Ok(_)) => Outcome::BadResponse,
            Ok(Err(_)) | Err(_) => {
                self.conn = None; // reconnect on the next request
                Outcome::Transport
            }
        }
    }

    /// Sends the request and reads one response: (status, body is a GraphQL success).
    async fn exchange(&mut self) -> std::io::Result<(u16, bool)> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr).await?;
            stream.set_nodelay(true)?;
            self.conn = Some(stream);
        }
        let conn = self.conn.as_mut().ok_or_else(|| bad("no connection"))?;
        conn.write_all(&self.request).await?;
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status"))?;
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| bad("response without Content-Length"))?;
        while self.buf.len() < head_end + len {
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(bad("connection closed"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok((status, graphql_ok(&self.buf[head_end..head_end + len])))
    }
}

/// True if `body` looks like a JSON object without a non-empty top-level `errors` array.
/// Cheap path: only bodies that contain `"errors"` at all are parsed.
fn graphql_ok(body: &[u8]) -> bool {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return false;
    };
    if *first != b'{' {
        return false;
    }
    if !body.windows(ERRORS_KEY.len()).any(|w| w == ERRORS_KEY) {
        return true;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) => value
            .get("errors")
            .and_then(Value::as_array)
            .is_none_or(|errors| errors.is_empty()),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn percentiles_use_nearest_rank() {
        let samples: Vec<u32> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&samples, 0.50), 50.0);
        assert_eq!(percentile_ms(&samples, 0.99), 99.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }

    #[test]
    fn graphql_errors_are_detected() {
        assert!(graphql_ok(br#"{"data":{"entities":[]}}"#));
        assert!(graphql_ok(
            br#" {"data":{"x":"has \"errors\" inside"},"errors":[]}"#
        ));
        assert!(!graphql_ok(
            br#"{"data":null,"errors":[{"message":"boom"}]}"#
        ));
        assert!(!graphql_ok(b"<html>oops</html>"));
        assert!(!graphql_ok(b""));
        assert!(!graphql_ok(br#"{"errors":[{"#));
    }

    /// Minimal HTTP/1.1 keep-alive server answering every POST with `reply`; also returns a
    /// counter of accepted TCP connections.
    async fn serve(reply: &'static str) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // Complete request = headers + Content-Length bytes of body.
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                            let len: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .map_or(0, |v| v.trim().parse().unwrap());
                            if buf.len() < end + 4 + len {
                                break;
                            }
                            buf.drain(..end + 4 + len);
                            let resp = format!(
                                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                                reply.len()
                            );
                            if sock.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn drives_load_and_counts_errors() {
        let body = serde_json::json!({ "query": "{ ping }" });
        let (ok, accepted) = serve(r#"{"data":{"ping":"pong"}}"#).await;
        let url = format!("http://{ok}/graphql");
        let report = run(&url, body.clone(), 4, Duration::from_millis(300))
            .await
            .unwrap();
        assert!(report.requests > 0, "{report:?}");
        // One keep-alive connection per worker, reused for every request.
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(report.errors, 0, "{report:?}");
        assert!(report.seconds >= 0.3 && report.rps > 0.0, "{report:?}");
        assert!(report.p50_ms <= report.p99_ms, "{report:?}");
        eprintln!("{report:?}");

        let (bad, _) = serve(r#"{"data":null,"errors":[{"message":"nope"}]}"#).await;
        let url = format!("http://{bad}/graphql");
        let report = run(&url, body.clone(), 2, Duration::from_millis(200))
            .await
            .unwrap();
        assert!(
            report.requests > 0 && report.errors == report.requests,
            "{report:?}"
        );

        assert!(run(&url, body, 0, Duration::from_secs(1)).await.is_err());
    }
}
