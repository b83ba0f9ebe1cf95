//! Runs one `claude` process (spec 03 §4.9, §9; 04 §6.5; 08 turn timeout): argv vector,
//! explicit environment (`env_clear`), its own process group, stdin `/dev/null`, stdout
//! parsed incrementally as it arrives, stderr drained concurrently (only the tail is
//! kept), a wall-clock limit (SIGTERM to the group, SIGKILL after the grace period), and
//! the child is always reaped. Members of the group still alive after the leader exits
//! are killed before the leader is reaped (the zombie leader keeps the group id reserved,
//! so the signal cannot hit an unrelated group). The child also gets
//! `PR_SET_PDEATHSIG=SIGKILL`, and every live group is listed in a process-wide registry so
//! the daemon can kill them all at shutdown ([`kill_all_groups`]).

use std::collections::HashSet;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, RecvTimeoutError};
use parking_lot::Mutex;

use super::events::TurnEvent;
use super::outcome::ExitInfo;
use super::stream::{StreamParser, StreamSummary};
use crate::sandbox::launch::LaunchSpec;

/// Bytes of stderr kept (the failure reason uses at most 500 chars of it).
const STDERR_TAIL: usize = 16 * 1024;
/// How long stdout may stay open after the leader exited before the group is killed.
const AFTER_EXIT_DRAIN: Duration = Duration::from_millis(500);

/// Time limits of one process.
#[derive(Debug, Clone, Copy)]
pub struct RunLimits {
    /// Wall-clock limit (`PARACHUTE_AGENT_TURN_TIMEOUT_SECS`, default 1800 s).
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL (5 s).
    pub kill_grace: Duration,
}

impl Default for RunLimits {
    fn default() -> Self {
        RunLimits {
            timeout: Duration::from_secs(1800),
            kill_grace: Duration::from_secs(5),
        }
    }
}

/// What one process run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub summary: StreamSummary,
    pub exit: ExitInfo,
    pub stderr: String,
    pub timed_out: bool,
}

static LIVE_GROUPS: Mutex<Option<HashSet<i32>>> = Mutex::new(None);

fn track(pgid: i32, live: bool) {
    let mut g = LIVE_GROUPS.lock();
    let set = g.get_or_insert_with(HashSet::new);
    if live {
        set.insert(pgid);
    } else {
        set.remove(&pgid);
    }
}

/// Number of `claude` process groups currently running (for diagnostics and tests).
pub fn live_group_count() -> usize {
    LIVE_GROUPS.lock().as_ref().map_or(0, HashSet::len)
}

/// SIGKILL every running turn's process group (daemon shutdown). Workers still reap.
pub fn kill_all_groups() {
    let groups: Vec<i32> = LIVE_GROUPS
        .lock()
        .as_ref()
        .map(|s| s.iter().copied().collect())
        .unwrap_or_default();
    for pg in groups {
        signal_group(pg, libc::SIGKILL);
    }
}

fn signal_group(pgid: i32, sig: i32) {
    if pgid > 1 {
        // SAFETY: plain syscall; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// Has the leader exited? Checked with `WNOWAIT`, so it stays a zombie (and keeps its
/// group id reserved) until [`std::process::Child::wait`] reaps it.
fn leader_exited(pid: i32) -> bool {
    // SAFETY: zeroed siginfo is a valid out-parameter for waitid.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// Wait until the leader exits or `until` passes; true if it exited.
fn wait_leader(pid: i32, until: Instant) -> bool {
    let mut nap = Duration::from_micros(200);
    loop {
        if leader_exited(pid) {
            return true;
        }
        let now = Instant::now();
        if now >= until {
            return false;
        }
        std::thread::sleep(nap.min(until - now));
        nap = (nap * 2).min(Duration::from_millis(20));
    }
}

/// Spawn `cmd` and run it to completion, streaming live events into `sink`.
/// `Err` is a spawn failure (`claude -p spawn failed: …`).
pub fn run(
    cmd: &LaunchSpec,
    limits: RunLimits,
    sink: &mut dyn FnMut(TurnEvent),
) -> Result<RunReport, String> {
    let mut command = Command::new(&cmd.program);
    command
        .args(&cmd.args)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&cmd.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| format!("claude -p spawn failed: {e}"))?;
    let pid = child.id() as i32;
    track(pid, true);
    let started = Instant::now();
    let deadline = started + limits.timeout;

    let (tx, rx) = bounded::<Vec<u8>>(64);
    let mut stdout = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    let stderr_tail = Arc::new(Mutex::new(Vec::<u8>::new()));
    let (err_done_tx, err_done_rx) = bounded::<()>(1);
    {
        let tail = stderr_tail.clone();
        let mut stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let mut t = tail.lock();
                t.extend_from_slice(&buf[..n]);
                if t.len() > 2 * STDERR_TAIL {
                    let cut = t.len() - STDERR_TAIL;
                    t.drain(..cut);
                }
            }
            let _ = err_done_tx.send(());
        });
    }

    let mut parser = StreamParser::new();
    let mut timed_out = false;
    let mut drain_until: Option<Instant> = None;
    loop {
        let limit = drain_until.unwrap_or(deadline).min(deadline);
        let tick = Instant::now() + Duration::from_millis(100);
        match rx.recv_deadline(limit.min(tick)) {
            Ok(chunk) => parser.feed(&chunk, sink),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                if now >= deadline {
                    timed_out = true;
                    break;
                }
                if drain_until.is_some_and(|d| now >= d) {
                    break; // a straggler holds stdout open after the leader exited
                }
                if drain_until.is_none() && leader_exited(pid) {
                    drain_until = Some(now + AFTER_EXIT_DRAIN);
                }
            }
        }
    }
    if !timed_out && !wait_leader(pid, deadline) {
        timed_out = true;
    }
    if timed_out {
        log::warn!(
            "claude turn (pid {pid}) exceeded {}s: terminating its process group",
            limits.timeout.as_secs()
        );
        signal_group(pid, libc::SIGTERM);
        wait_leader(pid, Instant::now() + limits.kill_grace);
    }
    // Leader has exited (or gets SIGKILL now): clean up anything left in its group, then reap.
    signal_group(pid, libc::SIGKILL);
    let status = child
        .wait()
        .map_err(|e| format!("claude -p wait failed: {e}"))?;
    track(pid, false);
    drop(rx);
    let _ = err_done_rx.recv_timeout(Duration::from_millis(200));
    let summary = parser.finish(sink);
    let stderr = String::from_utf8_lossy(&stderr_tail.lock()).into_owned();
    let exit = match (status.code(), status.signal()) {
        (Some(c), _) => ExitInfo::Code(c),
        (None, Some(s)) => ExitInfo::Signal(s),
        (None, None) => ExitInfo::Code(-1),
    };
    Ok(RunReport {
        summary,
        exit,
        stderr,
        timed_out,
    })
}
