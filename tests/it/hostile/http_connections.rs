//! A connection flood beyond the open-file limit (EMFILE) must not
//! kill the accept loop, and beyond the connection cap the answer is a fast 503.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::http_common::{assert_serving, daemon_with, read_until_close, status_of, survives};

/// Sets the daemon's open-file limit (soft and hard) from outside, like `prlimit`.
fn set_nofile(pid: u32, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: a valid pid, resource and pointer to a sized rlimit; no old value wanted.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn emfile_does_not_kill_the_accept_loop() {
    let mut d = daemon_with(&[]);
    let pid = d.child.as_ref().unwrap().id();
    set_nofile(pid, 128);
    survives(&d, || {
        // Far more connections than descriptors: accept fails with EMFILE meanwhile.
        let addr = ([127, 0, 0, 1], d.port).into();
        let flood: Vec<TcpStream> = (0..200)
            .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(1)).ok())
            .collect();
        // Wait until the daemon's descriptors are used up and accept has failed with
        // EMFILE (logged as "accept failed" now, "Error accepting new client" upstream).
        let fds = || std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        let failed = || {
            let log = d.log();
            log.contains("accept failed") || log.contains("Error accepting new client")
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !failed() {
            assert!(Instant::now() < deadline, "no EMFILE: {} fds open", fds());
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(flood);
    });
    assert!(d.child.as_mut().unwrap().try_wait().unwrap().is_none());
    assert!(d.log().contains("accept failed"), "{}", d.log());
    assert!(
        d.log().matches("logged once per burst").count() <= 5,
        "logged once per burst:\n{}",
        d.log()
    );
}

#[test]
fn beyond_the_connection_cap_a_fast_503() {
    let d = daemon_with(&[("PARACHUTE_AGENT_MAX_CONNECTIONS", "20")]);
    survives(&d, || {
        let held: Vec<TcpStream> = (0..20)
            .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
            .collect();
        // The accept thread counts them as it accepts; wait until it has.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
            let t = Instant::now();
            let (r, closed) = read_until_close(&mut s, Duration::from_secs(5));
            if status_of(&r) == 503 {
                assert!(closed, "{r}");
                assert!(r.contains("too many connections"), "{r}");
                assert!(t.elapsed() < Duration::from_secs(2));
                break;
            }
            assert!(Instant::now() < deadline, "no 503: {r}");
        }
        drop(held);
    });
    // Below the cap again, nothing is refused.
    assert_serving(&d);
}

/// The soft open-file limit of process `pid` (from `/proc/<pid>/limits`).
fn soft_nofile(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[test]
fn soft_open_file_limit_is_raised_to_the_hard_limit_at_boot() {
    use std::os::unix::process::CommandExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(crate::support::daemon::BIN);
    cmd.args(["serve", "--port", &crate::support::free_port().to_string()])
        .arg("--state-dir")
        .arg(tmp.path().join("state"))
        .env_clear()
        .env("HOME", tmp.path())
        .env("PARACHUTE_HOME", tmp.path().join(".parachute"))
        .env("PARACHUTE_HUB_ORIGIN", "http://127.0.0.1:9")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 256,
                rlim_max: 8192,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = None;
    while Instant::now() < deadline {
        seen = soft_nofile(child.id());
        if seen == Some(8192) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(seen, Some(8192), "soft limit not raised to the hard limit");
}
