//! `cargo xtask bench`: builds `crmd` and the load driver (`crm-bench`) in
//! release and runs the driver, which seeds fresh databases, starts the
//! server and prints throughput, latency, the direct-SQL ceiling and the
//! server's peak memory. Extra arguments go to the driver
//! (`cargo xtask bench --backend sqlite --seconds 5`).

use crate::step::{self, Result};

/// Builds in release and runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    step::run(
        "cargo build --release -p crm-server -p crm-bench",
        step::cargo().args([
            "build",
            "--release",
            "--locked",
            "-p",
            "crm-server",
            "-p",
            "crm-bench",
        ]),
    )?;
    let release = step::workspace_root().join("target/release");
    let crmd = release.join("crmd");
    let mut driver = std::process::Command::new(release.join("crm-bench"));
    driver.arg("--crmd").arg(&crmd).args(args);
    step::run("crm-bench", &mut driver)
}
