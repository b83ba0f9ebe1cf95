//! The order of the report, and the sandbox checks: `bwrap` on `PATH` and able to build
//! the turn sandbox (one trial run), the kernel's user-namespace switches and AppArmor's
//! restriction, the installed systemd unit's restrictions, and `rg`/`socat` (not needed by
//! this build's sandbox, reported for information).

use std::path::{Path, PathBuf};

use super::{claude, files, network, Check};
use crate::config::Config;

pub fn all(config: &Config) -> Vec<Check> {
    let mut out = Vec::new();
    claude::checks(config, &mut out);
    bwrap(config, &mut out);
    kernel(&mut out);
    if let Some(c) = unit() {
        out.push(c);
    }
    helpers(config, &mut out);
    files::checks(config, &mut out);
    out.push(network::hub(config));
    network::def_vaults(config, &mut out);
    out.push(network::port(config));
    out
}

fn bwrap(config: &Config, out: &mut Vec<Check>) {
    let name = "bwrap";
    let Some(bwrap) = crate::sandbox::preflight::which_in("bwrap", config.host.path.as_deref())
    else {
        out.push(Check::fail(
            name,
            "bubblewrap is not on PATH: every programmatic turn fails (\"Sandbox dependencies not available\")",
            "apt install bubblewrap",
        ));
        return;
    };
    out.push(match crate::sandbox::preflight::trial_sandbox(&bwrap) {
        Ok(()) => Check::ok(name, format!("{} builds the turn sandbox (user, pid and net namespaces)", bwrap.display())),
        Err(e) => Check::fail(
            name,
            format!("{} cannot build the turn sandbox: {e}", bwrap.display()),
            "allow unprivileged user namespaces (see the kernel and AppArmor checks); under systemd check the unit's RestrictNamespaces/RestrictAddressFamilies",
        ),
    });
}

fn read_sysctl(path: &str) -> Option<i64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn kernel(out: &mut Vec<Check>) {
    let name = "user namespaces";
    let max = read_sysctl("/proc/sys/user/max_user_namespaces");
    let clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
    out.push(match (max, clone) {
        (Some(0), _) => Check::fail(
            name,
            "user.max_user_namespaces is 0",
            "sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)",
        ),
        (_, Some(0)) => Check::fail(
            name,
            "kernel.unprivileged_userns_clone is 0",
            "sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)",
        ),
        (None, None) => Check::skip(name, "no user-namespace sysctls readable here"),
        _ => Check::ok(
            name,
            format!(
                "allowed (max_user_namespaces {})",
                max.map_or("?".into(), |m| m.to_string())
            ),
        ),
    });
    let name = "AppArmor";
    out.push(match read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") {
        None => Check::skip(name, "no AppArmor user-namespace restriction on this kernel"),
        Some(0) => Check::ok(name, "unprivileged user namespaces are not restricted"),
        Some(_) if Path::new("/etc/apparmor.d/bwrap").is_file() => {
            Check::ok(name, "user namespaces are restricted, and /etc/apparmor.d/bwrap grants bwrap its own")
        }
        Some(_) => Check::warn(
            name,
            "kernel.apparmor_restrict_unprivileged_userns=1 and no /etc/apparmor.d/bwrap profile: bwrap may be refused",
            "add an AppArmor profile for /usr/bin/bwrap with `userns,` (Ubuntu >= 23.10), or sysctl kernel.apparmor_restrict_unprivileged_userns=0",
        ),
    });
}

/// The installed unit, if any: `/etc/systemd/system` or the user's `~/.config/systemd/user`.
fn unit_path() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("/etc/systemd/system/parachute-agent.service")];
    if let Some(home) = crate::config::env_nonempty("HOME") {
        candidates.push(Path::new(&home).join(".config/systemd/user/parachute-agent.service"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

fn unit() -> Option<Check> {
    let path = unit_path()?;
    let text = std::fs::read_to_string(&path).ok()?;
    Some(unit_check(&path, &text))
}

/// What in a unit file stops bwrap: namespaces restricted, or no `AF_NETLINK` for
/// `--unshare-net` (bwrap brings the loopback interface up over netlink).
pub fn unit_check(path: &Path, text: &str) -> Check {
    let name = "systemd unit";
    let value = |key: &str| {
        text.lines()
            .map(str::trim)
            .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .next_back()
            .map(str::trim)
    };
    let mut problems = Vec::new();
    if let Some(ns) = value("RestrictNamespaces") {
        let words: Vec<&str> = ns.split_whitespace().collect();
        let blocks = match ns {
            "yes" | "true" | "on" | "1" => true,
            "no" | "false" | "off" | "0" | "" => false,
            _ if ns.starts_with('~') => {
                ["user", "mnt", "pid", "net"].iter().any(|n| ns.contains(n))
            }
            _ => !["user", "mnt", "pid", "net"]
                .iter()
                .all(|n| words.contains(n)),
        };
        if blocks {
            problems.push(format!("RestrictNamespaces={ns} blocks the namespaces bwrap needs (remove it or allow user mnt pid net)"));
        }
    }
    if let Some(af) = value("RestrictAddressFamilies") {
        if !af.starts_with('~') && !af.contains("AF_NETLINK") {
            problems.push(format!("RestrictAddressFamilies={af} lacks AF_NETLINK, which bwrap --unshare-net needs (add AF_NETLINK)"));
        }
    }
    if value("PrivateUsers").is_some_and(|v| matches!(v, "yes" | "true" | "on" | "1")) {
        problems.push(
            "PrivateUsers=yes leaves bwrap no room for its own user namespace (remove it)".into(),
        );
    }
    if problems.is_empty() {
        Check::ok(
            name,
            format!("{}: no restriction that stops bwrap", path.display()),
        )
    } else {
        Check::fail(
            name,
            format!("{}: {}", path.display(), problems.join("; ")),
            format!("edit {} as said, then systemctl daemon-reload && systemctl restart parachute-agent", path.display()),
        )
    }
}

fn helpers(config: &Config, out: &mut Vec<Check>) {
    for tool in ["rg", "socat"] {
        let found = crate::sandbox::preflight::which_in(tool, config.host.path.as_deref());
        out.push(match found {
            Some(p) => Check::ok(tool, format!("{} (not needed by this build's sandbox)", p.display())),
            None => Check::skip(tool, "not on PATH; not needed: the in-sandbox helper and the per-turn proxies replace it"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn unit_restrictions_that_stop_bwrap() {
        let p = Path::new("/u");
        let fine = "[Service]\nNoNewPrivileges=yes\nRestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK\n";
        assert_eq!(unit_check(p, fine).status, Status::Ok);
        let c = unit_check(
            p,
            "[Service]\nRestrictNamespaces=yes\nRestrictAddressFamilies=AF_UNIX AF_INET\n",
        );
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.detail.contains("RestrictNamespaces=yes") && c.detail.contains("AF_NETLINK"),
            "{c:?}"
        );
        assert_eq!(
            unit_check(p, "RestrictNamespaces=user mnt pid net\n").status,
            Status::Ok
        );
        assert_eq!(
            unit_check(p, "RestrictNamespaces=~user\n").status,
            Status::Fail
        );
        assert_eq!(unit_check(p, "PrivateUsers=yes\n").status, Status::Fail);
    }
}
