//! The daemon-liveness pipe: a sandboxed turn must not outlive a daemon that died without
//! running any shutdown code (SIGKILL, OOM kill, crash). bwrap's `--die-with-parent` is not
//! enough: its inner process sets `PR_SET_PDEATHSIG` a moment after it starts, and a parent
//! that dies in that window leaves the whole sandbox running (bubblewrap#633, seen here under
//! load). [ext] beyond the reference.
//!
//! At first use the daemon creates one pipe. The write end is close-on-exec and never
//! written: only the daemon holds it, so it closes exactly when the daemon process dies. The
//! read end is inherited by children (it conveys nothing but that fact), and the in-sandbox
//! helper watches it: end of file means the daemon is gone, so the helper kills the command
//! and exits, which ends the sandbox's pid namespace and everything in it. The end of file
//! is permanent, so a helper that starts after the daemon died stops at once too.

use std::os::fd::RawFd;
use std::sync::OnceLock;

/// The read end every sandboxed turn inherits (`None` if the pipe could not be made).
pub fn read_fd() -> Option<RawFd> {
    static PIPE: OnceLock<Option<RawFd>> = OnceLock::new();
    *PIPE.get_or_init(|| {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two fds into the array we own; fcntl only clears a flag on
        // the read end we just created. Both ends stay open for the life of the process.
        // Both ends are born close-on-exec, so a child forked by another thread at this
        // moment can never inherit the write end (it would keep the pipe open after the
        // daemon died); only the read end is then made inheritable.
        unsafe {
            if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
                log::warn!(
                    "sandbox: no liveness pipe ({})",
                    std::io::Error::last_os_error()
                );
                return None;
            }
            libc::fcntl(fds[0], libc::F_SETFD, 0);
        }
        Some(fds[0])
    })
}

/// Blocks until `fd` reports end of file (or an error): the daemon is gone.
pub fn wait_for_eof(fd: RawFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a buffer we own from an fd the caller passed in.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 {
            return;
        }
        if n < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_read_end_is_inherited_and_the_write_end_is_not() {
        let fd = super::read_fd().expect("pipe");
        assert_eq!(super::read_fd(), Some(fd), "one pipe per process");
        // SAFETY: F_GETFD only reads the fd's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, 0, "children inherit the read end");
    }
}
