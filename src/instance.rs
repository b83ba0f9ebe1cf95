//! The single-instance lock on the state dir ([ext]): `serve` holds an
//! exclusive `flock` on `<state>/daemon.lock` for its whole life, so a second daemon on the
//! same state dir exits at once instead of running the same agents, jobs and pollers twice.
//! The file holds the holder's pid (for the second daemon's message); the lock itself is the
//! kernel's, so it is released when the process dies however it dies (no stale lock).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Name of the lock file inside the state dir.
pub const LOCK_FILE: &str = "daemon.lock";

/// Held for the daemon's lifetime; dropping it (or exiting) releases the lock.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the exclusive lock on `state_dir`, or explains who holds it.
pub fn acquire(state_dir: &Path) -> Result<InstanceLock, String> {
    let path = state_dir.join(LOCK_FILE);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(crate::util::fsx::PRIVATE_FILE)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    // SAFETY: flock on a file descriptor we own; no memory is involved.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(format!("cannot lock {}: {err}", path.display()));
        }
        let mut text = String::new();
        let _ = file.read_to_string(&mut text);
        let holder = match text.trim().parse::<u32>() {
            Ok(pid) => format!("pid {pid}"),
            Err(_) => "a process that is still starting".to_string(),
        };
        return Err(format!(
            "another parachute-agent daemon ({holder}) already runs on state dir {} (lock {}); stop it first or use another --state-dir",
            state_dir.display(),
            path.display()
        ));
    }
    let pid = std::process::id();
    let written = file
        .set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| file.write_all(format!("{pid}\n").as_bytes()))
        .and_then(|()| file.sync_all());
    written.map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(InstanceLock { _file: file })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_holder_and_drop_releases() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire(dir.path()).unwrap();
        // flock locks belong to the open file description: a second open conflicts even
        // inside one process.
        let err = acquire(dir.path()).unwrap_err();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        drop(held);
        let again = acquire(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(text.trim(), std::process::id().to_string());
        drop(again);
    }
}
