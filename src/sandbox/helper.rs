//! The in-sandbox helper (spec 04 §6.3, §6.4): the hidden `sandbox-helper` subcommand of
//! our own binary, run by bwrap as the sandbox's command. It
//! 1. makes itself non-dumpable (the agent, same uid, cannot ptrace it);
//! 2. for restricted turns, listens on `127.0.0.1:3128` (HTTP proxy) and
//!    `127.0.0.1:1080` (SOCKS5) inside the turn's empty network namespace and forwards
//!    each TCP connection to the turn's Unix sockets (replaces the reference's socat);
//! 3. spawns the real command under the seccomp filter of [`super::seccomp`] (installed
//!    in the child only, so the forwarders keep working) with `PDEATHSIG` = SIGKILL, and
//!    exits with its status;
//! 4. with `--alive-fd <n>`, watches the daemon-liveness pipe ([`super::liveness`]): when
//!    the daemon is gone it kills the command and exits, ending the sandbox.
//!
//! Usage: `sandbox-helper [--http <sock>] [--socks <sock>] [--seccomp] [--unset-pwd]
//! [--alive-fd <n>] -- <program> [args…]`.
//! Exit status: the command's, or 128+signal; 125 for a usage error, 126/127 when the
//! command cannot be started.

use std::ffi::OsString;
use std::io;
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::Command;
use std::thread;

/// The name of the hidden subcommand.
pub const SUBCOMMAND: &str = "sandbox-helper";
/// In-sandbox port of the HTTP proxy forwarder.
pub const HTTP_PORT: u16 = 3128;
/// In-sandbox port of the SOCKS5 forwarder.
pub const SOCKS_PORT: u16 = 1080;

const EXIT_USAGE: i32 = 125;

#[derive(Debug, Default, PartialEq)]
struct Args {
    http: Option<PathBuf>,
    socks: Option<PathBuf>,
    seccomp: bool,
    /// Remove the `PWD` bwrap sets for `--chdir`, so the command sees exactly the
    /// environment the engine composed.
    unset_pwd: bool,
    /// The read end of the daemon-liveness pipe.
    alive_fd: Option<i32>,
    command: Vec<OsString>,
}

fn parse(args: Vec<OsString>) -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut out = Args::default();
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("http") => out.http = Some(p.value().map_err(|e| e.to_string())?.into()),
            Long("socks") => out.socks = Some(p.value().map_err(|e| e.to_string())?.into()),
            Long("seccomp") => out.seccomp = true,
            Long("unset-pwd") => out.unset_pwd = true,
            Long("alive-fd") => {
                let v = p.value().map_err(|e| e.to_string())?;
                let fd = v
                    .to_string_lossy()
                    .parse()
                    .map_err(|_| "--alive-fd takes a number".to_string())?;
                out.alive_fd = Some(fd);
            }
            Value(v) => {
                out.command.push(v);
                out.command.extend(p.raw_args().map_err(|e| e.to_string())?);
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    if out.command.is_empty() {
        return Err("no command given".into());
    }
    Ok(out)
}

/// Runs the helper with the arguments after the subcommand name; returns the exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("parachute-agent {SUBCOMMAND}: {e}");
            return EXIT_USAGE;
        }
    };
    // SAFETY: prctl(PR_SET_DUMPABLE, 0) only changes this process's dumpable flag.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    for (sock, port) in [(&args.http, HTTP_PORT), (&args.socks, SOCKS_PORT)] {
        if let Some(sock) = sock {
            if let Err(e) = forward(port, sock.clone()) {
                eprintln!("parachute-agent {SUBCOMMAND}: cannot listen on 127.0.0.1:{port}: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let filter = if args.seccomp {
        match super::seccomp::build() {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!(
                    "parachute-agent {SUBCOMMAND}: seccomp unavailable, running without it: {e}"
                );
                None
            }
        }
    } else {
        None
    };
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]);
    if args.unset_pwd {
        cmd.env_remove("PWD");
    }
    // SAFETY: the hook only calls prctl and seccomp on a program built before the fork
    // (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            match &filter {
                Some(f) => super::seccomp::apply(f),
                None => Ok(()),
            }
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return start_failure(&args.command[0], &e),
    };
    if let Some(fd) = args.alive_fd {
        let pid = child.id() as libc::pid_t;
        let watcher = thread::Builder::new()
            .name("sandbox-alive".into())
            .spawn(move || {
                super::liveness::wait_for_eof(fd);
                // SAFETY: kill and _exit take plain values; the daemon is gone, so the command
                // and this helper end here (the sandbox's pid namespace goes with them).
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::_exit(137);
                }
            });
        if let Err(e) = watcher {
            eprintln!("parachute-agent {SUBCOMMAND}: cannot watch the daemon: {e}");
        }
    }
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => return start_failure(&args.command[0], &e),
    };
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn start_failure(program: &OsString, e: &io::Error) -> i32 {
    eprintln!("{}: {e}", program.to_string_lossy());
    if e.kind() == io::ErrorKind::NotFound {
        127
    } else {
        126
    }
}

/// Listen on loopback `port` (IPv4, and IPv6 when available) and forward every
/// connection to the Unix socket `sock`.
fn forward(port: u16, sock: PathBuf) -> io::Result<()> {
    let v4 = TcpListener::bind(("127.0.0.1", port))?;
    let listeners = [Some(v4), TcpListener::bind(("::1", port)).ok()];
    for l in listeners.into_iter().flatten() {
        let sock = sock.clone();
        thread::Builder::new()
            .name("sandbox-forward".into())
            .spawn(move || {
                for tcp in l.incoming().flatten() {
                    let sock = sock.clone();
                    let _ = thread::Builder::new()
                        .name("sandbox-forward-conn".into())
                        .spawn(move || {
                            if let Ok(unix) = UnixStream::connect(&sock) {
                                pipe(tcp, unix);
                            }
                        });
                }
            })?;
    }
    Ok(())
}

/// Copy both directions between a TCP client and the Unix proxy socket.
fn pipe(tcp: TcpStream, unix: UnixStream) {
    let (Ok(mut tcp_r), Ok(mut unix_w)) = (tcp.try_clone(), unix.try_clone()) else {
        return;
    };
    let up = thread::spawn(move || {
        let _ = io::copy(&mut tcp_r, &mut unix_w);
        let _ = unix_w.shutdown(Shutdown::Write);
    });
    let (mut unix_r, mut tcp_w) = (unix, tcp);
    let _ = io::copy(&mut unix_r, &mut tcp_w);
    let _ = tcp_w.shutdown(Shutdown::Write);
    let _ = up.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_flags_then_command_verbatim() {
        let a = parse(os(&[
            "--http",
            "/r/h.sock",
            "--socks",
            "/r/s.sock",
            "--seccomp",
            "--unset-pwd",
            "--",
            "claude",
            "-p",
            "--not-ours",
        ]))
        .unwrap();
        assert_eq!(a.http, Some(PathBuf::from("/r/h.sock")));
        assert_eq!(a.socks, Some(PathBuf::from("/r/s.sock")));
        assert!(a.seccomp && a.unset_pwd);
        assert_eq!(a.command, os(&["claude", "-p", "--not-ours"]));
        let b = parse(os(&["--seccomp", "sh", "-c", "echo --x"])).unwrap();
        assert_eq!(b.command, os(&["sh", "-c", "echo --x"]));
        assert!(parse(os(&["--seccomp"])).is_err());
        assert!(parse(os(&["--bogus", "--", "x"])).is_err());
    }

    #[test]
    fn runs_command_and_reports_status() {
        assert_eq!(run(os(&["--", "sh", "-c", "exit 3"])), 3);
        assert_eq!(run(os(&["--", "/nonexistent/prog"])), 127);
        assert_eq!(run(os(&[])), EXIT_USAGE);
    }
}
