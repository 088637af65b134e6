//! The real `greenroom` binary: `schema`, `validate`, config errors, and `serve` on port 0 with the README's example.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    c.env_remove("GREENROOM_CONFIG")
        .env_remove("GREENROOM_DATABASE_URL")
        .env_remove("GREENROOM_LISTEN");
    c
}

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
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();

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
    let _ = child.kill();
    let _ = child.wait();
    let resp = result.unwrap();
    assert_eq!(
        resp["data"]["entity"]["owner"]["ref"],
        "group:default/team-playback"
    );
}
