//! The shipped systemd unit broke every sandboxed turn — `RestrictAddressFamilies=`
//! lacked `AF_NETLINK` (bwrap's `--unshare-net` brings loopback up over netlink) and
//! `ProtectKernelTunables=yes` (like `ProtectKernelLogs=yes`) over-mounts parts of `/proc`,
//! so the kernel refuses bwrap's fresh `--proc` mount inside its user namespace — and the
//! preflight blamed user namespaces/AppArmor. Both restrictions are emulated here with a
//! stand-in `bwrap` first on the daemon's `PATH`: one runs the real bwrap under a seccomp
//! filter refusing `AF_NETLINK`, the other under a read-only `/proc/sys` bind in a private
//! mount namespace (its mounts become locked for bwrap's user namespace, as under systemd).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::state_common::assert_health_fast;
use crate::support::daemon::{Daemon, DaemonBuilder};

const NETLINK_WRAPPER: &str = r#"#!/usr/bin/env python3
# RestrictAddressFamilies= without AF_NETLINK: socket(AF_NETLINK, ...) fails with EAFNOSUPPORT.
import ctypes, os, platform, struct, sys
arch, nr = {"x86_64": (0xC000003E, 41), "aarch64": (0xC00000B7, 198)}[platform.machine()]
def stmt(code, k, jt=0, jf=0): return struct.pack("HBBI", code, jt, jf, k)
LD, JEQ, RET = 0x20, 0x15, 0x06
prog = b"".join([stmt(LD, 4), stmt(JEQ, arch, 0, 5), stmt(LD, 0), stmt(JEQ, nr, 0, 3),
                 stmt(LD, 16), stmt(JEQ, 16, 0, 1), stmt(RET, 0x00050000 | 97), stmt(RET, 0x7FFF0000)])
buf = ctypes.create_string_buffer(prog)
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fp = Fprog(len(prog) // 8, ctypes.addressof(buf))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0                      # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(fp), 0, 0) == 0       # PR_SET_SECCOMP, FILTER
os.execv("REAL_BWRAP", ["bwrap"] + sys.argv[1:])
"#;

const PROC_WRAPPER: &str = r#"#!/bin/sh
# ProtectKernelTunables=yes: /proc/sys read-only in the service's mount namespace.
exec unshare --user --map-root-user --mount --propagation private sh -c \
  'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys &&
   exec unshare --user --map-root-user REAL_BWRAP "$@"' sh "$@"
"#;

/// The real bwrap, or `None` (skip; a failure under `PARACHUTE_TEST_REQUIRE_ALL=1`).
fn real_bwrap(also: &[&str]) -> Option<PathBuf> {
    let found =
        parachute_agent::sandbox::preflight::which_in("bwrap", std::env::var_os("PATH").as_deref());
    let tools_ok = also.iter().all(|t| {
        parachute_agent::sandbox::preflight::which_in(t, std::env::var_os("PATH").as_deref())
            .is_some()
    });
    if found.is_some() && tools_ok && crate::support::daemon::bwrap_usable() {
        return found;
    }
    assert!(
        std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
        "bwrap and {also:?} are required here (PARACHUTE_TEST_REQUIRE_ALL=1)"
    );
    eprintln!("skipping: bwrap or {also:?} not usable here");
    None
}

/// A daemon whose `PATH` starts with a dir holding `wrapper` as `bwrap`.
fn daemon_with_bwrap(wrapper: &str, real: &Path) -> (tempfile::TempDir, Daemon) {
    let dir = tempfile::tempdir().unwrap();
    let bwrap = dir.path().join("bwrap");
    std::fs::write(
        &bwrap,
        wrapper.replace("REAL_BWRAP", &real.display().to_string()),
    )
    .unwrap();
    std::fs::set_permissions(&bwrap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        crate::programmatic::api::fakes_path()
    );
    let d = DaemonBuilder::new()
        .env("PATH", &path)
        .env("PARACHUTE_AGENT_TEST_UNSANDBOXED", "0")
        .start();
    (dir, d)
}

/// The preflight's first problem, once it ran.
fn problem(d: &Daemon) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let h: Value = d.get("/health", None).json();
        if let Some(p) = h["dependencies"]["problems"][0].as_str() {
            return p.to_string();
        }
        assert!(Instant::now() < deadline, "no preflight problem: {h}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn preflight_names_restrict_address_families_when_netlink_is_blocked() {
    let Some(real) = real_bwrap(&["python3"]) else {
        return;
    };
    let (_dir, d) = daemon_with_bwrap(NETLINK_WRAPPER, &real);
    let p = problem(&d);
    assert!(p.contains("NETLINK"), "bwrap's own words are kept: {p}");
    assert!(
        p.contains("RestrictAddressFamilies=") && p.contains("AF_NETLINK"),
        "names the directive: {p}"
    );
    assert!(
        !p.contains("AppArmor"),
        "not blamed on user namespaces: {p}"
    );
    assert_health_fast(&d);
}

#[test]
fn preflight_names_protect_kernel_tunables_when_proc_mount_is_denied() {
    let Some(real) = real_bwrap(&["unshare"]) else {
        return;
    };
    let (_dir, d) = daemon_with_bwrap(PROC_WRAPPER, &real);
    let p = problem(&d);
    assert!(p.contains("mount proc"), "bwrap's own words are kept: {p}");
    assert!(
        p.contains("ProtectKernelTunables="),
        "names the directive: {p}"
    );
    assert!(
        !p.contains("AppArmor"),
        "not blamed on user namespaces: {p}"
    );
    assert_health_fast(&d);
}

/// The shipped unit: the directives that broke turns are gone or fixed.
#[test]
fn shipped_unit_allows_netlink_and_proc_and_sets_nofile() {
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/parachute-agent.service"),
    )
    .unwrap();
    let directive = |key: &str| -> Option<String> {
        unit.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
    };
    let families = directive("RestrictAddressFamilies").expect("RestrictAddressFamilies");
    assert!(
        families.split_whitespace().any(|f| f == "AF_NETLINK"),
        "{families}"
    );
    assert_eq!(directive("ProtectKernelTunables"), None);
    assert_eq!(directive("ProtectKernelLogs"), None);
    let nofile: u64 = directive("LimitNOFILE")
        .expect("LimitNOFILE")
        .parse()
        .unwrap();
    assert!(nofile >= 65536);
}
