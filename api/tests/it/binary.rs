//! The real `greenroom` binary: `schema`, `validate`, config errors, and `serve` on port 0 with the README's example.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::bin;
use greenroom_tests::process::listening;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn schema_command_prints_the_checked_in_sdl() {
    let out = bin().arg("schema").output().unwrap();
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(repo().join("schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), checked_in);
}

#[test]
fn validate_exits_zero_for_the_examples_and_one_with_precise_messages_for_invalid_files() {
    let ok = bin()
        .args([
            "validate",
            "../tests/fixtures/backstage-examples/root.yaml",
            "../examples/catalog-info.yaml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{stdout}");
    assert!(stdout.contains("85 valid entities, 0 problems"), "{stdout}");

    let bad = bin()
        .args([
            "validate",
            "../tests/fixtures/backstage-invalid/components/invalid-component.yaml",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&bad.stdout);
    assert!(
        stdout.contains(
            "invalid-component.yaml:1: Component:default/invalid component: metadata.name:"
        ),
        "{stdout}"
    );
}

#[test]
fn unknown_config_keys_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("greenroom.yaml");
    std::fs::write(&cfg, "server:\n  listen: 127.0.0.1:0\n  colour: blue\n").unwrap();
    let out = bin()
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown field `colour`"), "{stderr}");
    assert!(stderr.contains("greenroom.yaml"), "{stderr}");
}

#[test]
fn serve_on_port_zero_loads_the_example_catalog_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("e2e.db");
    let mut child = bin()
        .args([
            "--config",
            "greenroom.yaml",
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .current_dir(repo())
        .env(
            "GREENROOM_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", db.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = listening(&mut child);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let client = reqwest::Client::new();
        let started = Instant::now();
        // Wait for the condition (the demo catalog is loaded), not for a fixed time.
        loop {
            let resp: serde_json::Value = client
                .post(format!("{addr}/graphql"))
                .json(&serde_json::json!({ "query": "{ entity(ref: \"component:stream-service\") { ref owner { ref } } }" }))
                .send()
                .await?
                .json()
                .await?;
            if !resp["data"]["entity"].is_null() {
                return Ok::<_, reqwest::Error>(resp);
            }
            assert!(started.elapsed() < Duration::from_secs(30), "catalog never loaded: {resp}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // DNS rebinding: the connection goes to 127.0.0.1, but names evil.example; dev mode refuses it.
    let rebound = raw_status(&addr, "evil.example");
    let local = raw_status(&addr, "localhost");
    let _ = child.kill();
    let _ = child.wait();
    let resp = result.unwrap();
    assert_eq!(
        resp["data"]["entity"]["owner"]["ref"],
        "group:default/team-playback"
    );
    assert_eq!(
        (rebound, local),
        (403, 200),
        "Host: evil.example, then localhost"
    );
}

/// The status of `GET /healthz` sent to `addr` (`http://127.0.0.1:PORT`) with `Host: host`.
fn raw_status(addr: &str, host: &str) -> u16 {
    use std::io::{Read, Write};
    let target = addr.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(target).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    let _ = conn.read_to_string(&mut answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The README's CI flow: a CLI-issued bot token calls a mutation on the real server; after
/// `greenroom token revoke`, the same token is refused within seconds.
#[test]
fn a_cli_issued_token_works_end_to_end_until_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("auth.db").display());
    let secret = "an-end-to-end-secret-of-32-bytes-at-least";
    let cfg = dir.path().join("greenroom.yaml");
    // Registered locations may read the config file's directory (`catalog.allow.files`, relative).
    std::fs::write(
        &cfg,
        "server:\n  listen: 127.0.0.1:0\ncatalog:\n  allow:\n    files: ['.']\n",
    )
    .unwrap();
    let with_env = |c: &mut Command| {
        c.env("GREENROOM_JWT_SECRET", secret)
            .env("GREENROOM_DATABASE_URL", &db)
            .args(["--config", &cfg.display().to_string()]);
    };
    let mut issue = bin();
    with_env(&mut issue);
    let out = issue
        .args([
            "token",
            "issue",
            "--subject",
            "bot:ci",
            "--scope",
            "catalog:read catalog:write",
            "--ttl",
            "1h",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let jti = stderr
        .trim()
        .strip_prefix("jti: ")
        .expect("jti on stderr")
        .to_string();

    let mut bad = bin();
    with_env(&mut bad);
    let out = bad
        .args([
            "token",
            "issue",
            "--subject",
            "x",
            "--scope",
            "catalog:everything",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("catalog:everything"));

    let mut serve = bin();
    with_env(&mut serve);
    let mut child = serve
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let addr = listening(&mut child);
    let catalog = dir.path().join("c.yaml");
    std::fs::write(&catalog, "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: from-ci}\nspec: {type: service, lifecycle: production, owner: team-a}\n").unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let result = rt.block_on(async {
        let client = reqwest::Client::new();
        let call = |token: Option<String>| {
            let mut req = client.post(format!("{addr}/graphql")).json(&serde_json::json!({
                "query": "mutation($t: String!) { registerLocation(input: {type: \"file\", target: $t, dryRun: true}) { entities { ref } } }",
                "variables": {"t": catalog.display().to_string()}
            }));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            async move {
                let resp = req.send().await.unwrap();
                (resp.status().as_u16(), resp.json::<serde_json::Value>().await.unwrap())
            }
        };
        let anonymous = call(None).await;
        let authorized = call(Some(token.clone())).await;
        let mut revoke = bin();
        with_env(&mut revoke);
        let out = revoke.args(["token", "revoke", &jti]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // Honoured within seconds: wait for the condition.
        let started = Instant::now();
        let refused = loop {
            let r = call(Some(token.clone())).await;
            if r.0 == 401 || started.elapsed() > Duration::from_secs(10) {
                break (r, started.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        (anonymous, authorized, refused)
    });
    let _ = child.kill();
    let _ = child.wait();
    let (anonymous, authorized, (refused, took)) = result;
    assert_eq!(anonymous.0, 401, "{:?}", anonymous.1);
    assert_eq!(authorized.0, 200, "{:?}", authorized.1);
    assert_eq!(
        authorized.1["data"]["registerLocation"]["entities"][0]["ref"],
        "component:default/from-ci"
    );
    assert_eq!(refused.0, 401, "{:?}", refused.1);
    assert!(took < Duration::from_secs(5), "revocation took {took:?}");
}

#[test]
fn dev_mode_refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = bin()
        .args(["serve", "--listen", "0.0.0.0:0"])
        .current_dir(dir.path())
        .env(
            "GREENROOM_DATABASE_URL",
            format!("sqlite://{}?mode=rwc", dir.path().join("d.db").display()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("dev mode served on 0.0.0.0");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(err.contains("without authentication"), "{err}");
}
