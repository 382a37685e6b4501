//! What the CLI tests share: running the `ceir` binary on a data directory of their own.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

/// `ceir --data DATA`, ignoring a database URL or configuration file of the environment.
pub fn ceir(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ceir"));
    c.arg("--data")
        .arg(data)
        .env_remove("CEIR_DATABASE_URL")
        .env_remove("CEIR_CONFIG");
    c
}

/// Runs `c` to its end: exit code, stdout, stderr.
pub fn run(c: &mut Command) -> (Option<i32>, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
