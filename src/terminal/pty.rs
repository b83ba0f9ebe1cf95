//! The viewer process in a fresh pseudo-terminal (spec 06 §2.4, §2.7): `openpty` with the
//! requested size, the child in its own session (so its process group is ours to kill and
//! the pty is its controlling terminal), `TIOCSWINSZ` for resizes, and a [`Viewer`] whose
//! drop kills the whole group and reaps the child — exactly once, whoever ends first.

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

/// A command to run as the viewer: argv as a vector, env changes applied to the daemon's.
#[derive(Debug, Clone)]
pub struct ViewerCommand {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// Variables set on top of the daemon's environment.
    pub set_env: Vec<(OsString, OsString)>,
    /// Variables removed from it.
    pub remove_env: Vec<OsString>,
}

/// A running viewer and the master side of its pty.
pub struct Viewer {
    master: File,
    child: Child,
    reaped: bool,
}

fn winsize(cols: u16, rows: u16) -> libc::winsize {
    libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Opens a pty pair of `cols` × `rows`; both ends close-on-exec (the child gets the slave
/// through its stdio only).
fn open_pty(cols: u16, rows: u16) -> io::Result<(OwnedFd, OwnedFd)> {
    let (mut master, mut slave): (RawFd, RawFd) = (-1, -1);
    let ws = winsize(cols, rows);
    // SAFETY: openpty writes two fds into our locals; name and termios may be null.
    cvt(unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            &ws,
        )
    })?;
    // SAFETY: both fds were just returned by openpty and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    for fd in [&master, &slave] {
        // SAFETY: fcntl on fds we own.
        cvt(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
    }
    Ok((master, slave))
}

impl Viewer {
    /// Spawns `cmd` on a new pty of `cols` × `rows`. The master is non-blocking.
    pub fn spawn(cmd: &ViewerCommand, cols: u16, rows: u16) -> io::Result<Viewer> {
        let (master, slave) = open_pty(cols, rows)?;
        let stdio = |fd: &OwnedFd| fd.try_clone().map(Stdio::from);
        let mut command = Command::new(&cmd.program);
        command
            .args(&cmd.args)
            .stdin(stdio(&slave)?)
            .stdout(stdio(&slave)?)
            .stderr(stdio(&slave)?);
        for k in &cmd.remove_env {
            command.env_remove(k);
        }
        for (k, v) in &cmd.set_env {
            command.env(k, v);
        }
        // SAFETY: only async-signal-safe calls between fork and exec (setsid, ioctl, prctl).
        unsafe {
            command.pre_exec(|| {
                // Own session and process group: the pty becomes the controlling terminal
                // and teardown can kill the group without touching anything else.
                cvt(libc::setsid())?;
                cvt(libc::ioctl(0, libc::TIOCSCTTY, 0))?;
                // A daemon that dies without teardown takes the viewer with it.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(slave);
        // SAFETY: fcntl on the master fd we own.
        unsafe {
            let flags = cvt(libc::fcntl(master.as_raw_fd(), libc::F_GETFL))?;
            cvt(libc::fcntl(
                master.as_raw_fd(),
                libc::F_SETFL,
                flags | libc::O_NONBLOCK,
            ))?;
        }
        Ok(Viewer {
            master: File::from(master),
            child,
            reaped: false,
        })
    }

    /// The master side: read = viewer output, write = viewer input.
    pub fn master(&mut self) -> &mut File {
        &mut self.master
    }

    pub fn master_fd(&self) -> RawFd {
        self.master.as_raw_fd()
    }

    /// The viewer's pid (= its process group id and session id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sets the pty size; the kernel sends SIGWINCH to the viewer.
    pub fn resize(&self, cols: u16, rows: u16) -> io::Result<()> {
        let ws = winsize(cols, rows);
        // SAFETY: TIOCSWINSZ reads a winsize we own from a valid pty master fd.
        cvt(unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) }).map(|_| ())
    }

    /// Whether the viewer process has exited (reaps it if so).
    pub fn exited(&mut self) -> bool {
        if self.reaped {
            return true;
        }
        if matches!(self.child.try_wait(), Ok(Some(_)) | Err(_)) {
            self.reaped = true;
        }
        self.reaped
    }
}

impl Drop for Viewer {
    /// Kills the viewer's whole process group (the tmux client detaches; the tmux session
    /// lives on) and reaps the child.
    fn drop(&mut self) {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: signals only the group this viewer leads (setsid in the child); a
        // reaped leader's group may still have members, so signal it regardless.
        unsafe {
            libc::kill(-pgid, libc::SIGHUP);
            libc::kill(-pgid, libc::SIGKILL);
        }
        if !self.reaped {
            let _ = self.child.wait();
            self.reaped = true;
        }
    }
}
