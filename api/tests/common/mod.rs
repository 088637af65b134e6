//! Helpers the real-binary tests share: the binary with a clean environment, and the address a started
//! server prints.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command};

/// The `greenroom` binary, without the `GREENROOM_*` variables of the environment running the tests.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_greenroom"));
    for var in [
        "GREENROOM_CONFIG",
        "GREENROOM_DATABASE_URL",
        "GREENROOM_LISTEN",
        "GREENROOM_JWT_SECRET",
        "GREENROOM_LOG_FORMAT",
        "RUST_LOG",
    ] {
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
