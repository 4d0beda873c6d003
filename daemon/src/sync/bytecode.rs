//! `--compile-bytecode`: the environment's python compiles what is
//! installed, using every core. Failures are reported, not fatal (pip does
//! the same).

use super::environment::Environment;
use crate::progress::{NoticeLevel, Phase, Reporter};

pub async fn compile(environment: &Environment, reporter: &dyn Reporter) {
    reporter.progress(Phase::Compile, "bytecode", 0, 0);
    let output = tokio::process::Command::new(&environment.python)
        .args(["-I", "-m", "compileall", "-q", "-j", "0"])
        .arg(&environment.site_packages)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match output {
        Ok(output) if output.status.success() => {}
        Ok(output) => reporter.notice(
            NoticeLevel::Warning,
            &format!(
                "compiling bytecode failed for some files: {}",
                String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or("")
            ),
        ),
        Err(error) => reporter.notice(
            NoticeLevel::Warning,
            &format!("cannot run {}: {error}", environment.python.display()),
        ),
    }
}
