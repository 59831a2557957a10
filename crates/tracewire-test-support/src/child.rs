//! Running one test of the current test binary in a child process with its own
//! environment, for code that reads the process environment (`init_tracer`,
//! `Resource::from_env`): tests in one binary run in parallel, so none of them may
//! change the parent's environment.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Set in the child: a child test runs its body only when it is set.
pub const CHILD_MARKER: &str = "TRACEWIRE_TEST_CHILD";

/// Whether this process is a child started by [`run_test_in_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_MARKER).is_some()
}

/// What the child printed after `prefix` on each line that has it, in order (libtest
/// may print its own `test name ... ` before the first line of output).
pub fn lines_with<'a>(stdout: &'a str, prefix: &str) -> Vec<&'a str> {
    stdout
        .lines()
        .filter_map(|l| l.find(prefix).map(|i| &l[i + prefix.len()..]))
        .collect()
}

/// Runs the test `test` (its full path in the binary, e.g. `init_env::child_case`) of
/// the current test binary alone, with every `OTEL_*` variable of this process removed
/// and `vars` set; waits at most 120 s (then kills it) and returns its output.
pub fn run_test_in_child(test: &str, vars: &[(String, String)]) -> Output {
    let exe = std::env::current_exe().expect("the current test binary");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_MARKER, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start the child test");
    for _ in 0..1200 {
        if let Ok(Some(_)) = child.try_wait() {
            return child.wait_with_output().expect("child output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("child output");
    panic!(
        "child test {test} did not finish within 120 s; stdout: {} stderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
