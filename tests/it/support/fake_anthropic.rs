//! Drives `tests/fakes/anthropic` (the fake Anthropic Messages API) from a test: starts it
//! on a free loopback port with a script, rewrites the script between turns, and reads
//! back every request it recorded. Stopped (killed and reaped) on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct FakeAnthropic {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl FakeAnthropic {
    /// Starts the fake with `script` (see the fake's docstring for the step shapes).
    pub fn start(script: &Value) -> FakeAnthropic {
        let dir = tempfile::tempdir().unwrap();
        let script_path = dir.path().join("script.json");
        std::fs::write(&script_path, script.to_string()).unwrap();
        let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/anthropic");
        let mut child = Command::new(exe)
            .args(["--port", "0", "--script"])
            .arg(&script_path)
            .arg("--record")
            .arg(dir.path().join("requests.jsonl"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tests/fakes/anthropic");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("fake anthropic did not start: {line:?}"));
        FakeAnthropic { port, child, dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replaces the script; its `main` steps start again from the first.
    pub fn set_script(&self, script: &Value) {
        let tmp = self.dir.path().join("script.json.tmp");
        std::fs::write(&tmp, script.to_string()).unwrap();
        std::fs::rename(tmp, self.script_path()).unwrap();
    }

    fn script_path(&self) -> PathBuf {
        self.dir.path().join("script.json")
    }

    /// Every request recorded so far, oldest first.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The requests of the agent's conversation (`role: main`), oldest first.
    pub fn main_requests(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|r| r["role"] == "main")
            .collect()
    }

    /// Waits until at least `n` main-conversation requests arrived.
    pub fn wait_main(&self, n: usize, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        loop {
            let v = self.main_requests();
            if v.len() >= n || Instant::now() > deadline {
                return v;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
