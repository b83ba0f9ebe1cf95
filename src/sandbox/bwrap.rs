//! Renders a [`Policy`] into the `bwrap` argument vector (spec 04 §6.2, with the §6.6
//! hardening). Pure: every look at the filesystem goes through an injected [`FsProbe`],
//! so the exact argv is unit-tested without running anything.
//!
//! `bwrap` is exec'd directly with these arguments (no shell, no joined string). Mount
//! operations apply in argument order, so every bind that must stay visible comes
//! *after* `--ro-bind / /`. Hardening [ext]: `--cap-drop ALL` (G2: as root, `umount /home`
//! would otherwise reveal the operator's files), `--new-session` (no TIOCSTI into the
//! daemon's terminal), `--die-with-parent`, read-only binds over the agent's own
//! `spec.json`/`.mcp.json`/`system-prompt.txt` (G7), a tmpfs over the runtime root of the
//! proxy sockets so a sandbox sees only its own turn's sockets (G3).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::policy::{Network, Policy};

/// The only view of the filesystem the builder has.
pub trait FsProbe {
    /// The fully resolved path (symlinks followed), `None` when it does not exist.
    fn canonicalize(&self, p: &Path) -> Option<PathBuf>;
    /// Whether `p` is a directory (symlinks followed).
    fn is_dir(&self, p: &Path) -> bool;
}

/// The real filesystem.
pub struct RealFs;

impl FsProbe for RealFs {
    fn canonicalize(&self, p: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(p).ok()
    }
    fn is_dir(&self, p: &Path) -> bool {
        p.is_dir()
    }
}

/// Always hidden when it exists (the reference engine adds it too).
pub const SSH_CONFIG_D: &str = "/etc/ssh/ssh_config.d";

/// Everything besides the policy that shapes the sandbox of one turn.
pub struct Layout<'a> {
    pub policy: &'a Policy,
    /// Working directory inside the sandbox (a write root: the workspace or `W`).
    pub cwd: &'a Path,
    /// Parent of every turn's socket dir; hidden behind a tmpfs when it exists.
    pub runtime_root: Option<&'a Path>,
    /// This turn's socket dir, re-bound inside the hidden runtime root (restricted only).
    pub turn_dir: Option<&'a Path>,
    /// The command run inside the sandbox, program first.
    pub command: &'a [OsString],
}

/// The bwrap arguments plus what was left out and why (for a warning log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BwrapArgs {
    pub args: Vec<OsString>,
    pub skipped: Vec<String>,
}

/// Result of normalising a policy path.
enum Norm {
    /// Absolute and existing; canonical when that stays inside the original's subtree.
    Path(PathBuf),
    /// Exists, but resolves outside its own subtree (a symlink elsewhere). Carries the
    /// original text.
    Escapes(PathBuf),
    Missing,
    Relative,
}

fn normalize(p: &Path, probe: &dyn FsProbe) -> Norm {
    if !p.is_absolute() {
        return Norm::Relative;
    }
    match probe.canonicalize(p) {
        None => Norm::Missing,
        Some(c) if c.starts_with(p) => Norm::Path(c),
        Some(_) => Norm::Escapes(p.to_path_buf()),
    }
}

/// A path for reading or hiding: the normalised form, or the original text when it
/// escapes (bwrap follows it); `None` when missing or relative.
fn read_path(p: &Path, probe: &dyn FsProbe, skipped: &mut Vec<String>) -> Option<PathBuf> {
    match normalize(p, probe) {
        Norm::Path(n) | Norm::Escapes(n) => Some(n),
        Norm::Missing => None,
        Norm::Relative => {
            skipped.push(format!("{}: not an absolute path", p.display()));
            None
        }
    }
}

/// Write roots that survive the checks: absolute, existing, not under `/dev`, not a
/// symlink resolving elsewhere. Never created.
fn write_roots(policy: &Policy, probe: &dyn FsProbe, skipped: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in &policy.allow_write {
        let why = match normalize(p, probe) {
            Norm::Path(n) if n.starts_with("/dev") => "under /dev",
            Norm::Path(n) => {
                if !out.contains(&n) {
                    out.push(n);
                }
                continue;
            }
            Norm::Escapes(_) => "a symlink resolving outside itself (refused)",
            Norm::Missing => "does not exist",
            Norm::Relative => "not an absolute path",
        };
        skipped.push(format!("write root {}: {why}", p.display()));
    }
    out
}

fn push(args: &mut Vec<OsString>, items: &[&str]) {
    args.extend(items.iter().map(OsString::from));
}

fn push_bind(args: &mut Vec<OsString>, flag: &str, src: &Path, dst: &Path) {
    args.push(flag.into());
    args.push(src.as_os_str().to_owned());
    args.push(dst.as_os_str().to_owned());
}

/// The full `bwrap` argument vector (without the program name) for one turn.
pub fn build_args(layout: &Layout<'_>, probe: &dyn FsProbe) -> BwrapArgs {
    let policy = layout.policy;
    let mut skipped = Vec::new();
    let mut args = Vec::new();
    push(
        &mut args,
        &["--new-session", "--die-with-parent", "--cap-drop", "ALL"],
    );
    if matches!(policy.network, Network::Restricted(_)) {
        push(&mut args, &["--unshare-net"]);
    }
    push(&mut args, &["--ro-bind", "/", "/"]);

    let writes = write_roots(policy, probe, &mut skipped);
    for w in &writes {
        push_bind(&mut args, "--bind", w, w);
    }
    hide_denied(&mut args, policy, &writes, probe, &mut skipped);

    for f in &policy.read_only_files {
        if let Norm::Path(n) = normalize(f, probe) {
            if writes.iter().any(|w| n.starts_with(w)) {
                push_bind(&mut args, "--ro-bind", &n, &n);
            }
        }
    }
    if let Some(root) = layout.runtime_root.filter(|r| probe.is_dir(r)) {
        args.push("--tmpfs".into());
        args.push(root.as_os_str().to_owned());
        if let Some(turn) = layout.turn_dir {
            push_bind(&mut args, "--bind", turn, turn);
        }
    }
    push(
        &mut args,
        &[
            "--dev",
            "/dev",
            "--unshare-pid",
            "--proc",
            "/proc",
            "--chdir",
        ],
    );
    args.push(layout.cwd.as_os_str().to_owned());
    args.push("--".into());
    args.extend(layout.command.iter().cloned());
    BwrapArgs { args, skipped }
}

/// Tmpfs over each denied dir (shallow first), then the write roots and read-allowed
/// paths inside it bound again; a denied file is covered by `/dev/null`.
fn hide_denied(
    args: &mut Vec<OsString>,
    policy: &Policy,
    writes: &[PathBuf],
    probe: &dyn FsProbe,
    skipped: &mut Vec<String>,
) {
    let mut denies: Vec<PathBuf> = Vec::new();
    let ssh = PathBuf::from(SSH_CONFIG_D);
    for d in policy.deny_read.iter().chain(std::iter::once(&ssh)) {
        if let Some(n) = read_path(d, probe, skipped) {
            if !denies.contains(&n) {
                denies.push(n);
            }
        }
    }
    denies.sort_by_key(|d| d.components().count());
    let reads: Vec<PathBuf> = policy
        .allow_read
        .iter()
        .filter_map(|a| read_path(a, probe, skipped))
        .collect();

    for d in &denies {
        if !probe.is_dir(d) {
            if !reads.contains(d) {
                push_bind(args, "--ro-bind", Path::new("/dev/null"), d);
            }
            continue;
        }
        args.push("--tmpfs".into());
        args.push(d.as_os_str().to_owned());
        let rebound: Vec<&PathBuf> = writes.iter().filter(|w| w.starts_with(d)).collect();
        for w in &rebound {
            push_bind(args, "--bind", w, w);
        }
        let mut bound: Vec<&PathBuf> = Vec::new();
        for a in reads.iter().filter(|a| a.starts_with(d)) {
            if rebound.iter().any(|w| a.starts_with(w)) || bound.contains(&a) {
                continue;
            }
            bound.push(a);
            push_bind(args, "--ro-bind", a, a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::hosts::Allowlist;
    use std::collections::{HashMap, HashSet};

    /// An in-memory filesystem: existing paths, which are dirs, and symlink targets.
    #[derive(Default)]
    struct FakeFs {
        dirs: HashSet<PathBuf>,
        files: HashSet<PathBuf>,
        links: HashMap<PathBuf, PathBuf>,
    }

    impl FakeFs {
        fn dir(mut self, p: &str) -> Self {
            self.dirs.insert(p.into());
            self
        }
        fn file(mut self, p: &str) -> Self {
            self.files.insert(p.into());
            self
        }
        fn link(mut self, p: &str, target: &str) -> Self {
            self.links.insert(p.into(), target.into());
            self
        }
    }

    impl FsProbe for FakeFs {
        fn canonicalize(&self, p: &Path) -> Option<PathBuf> {
            // Resolve the longest symlinked prefix, then check existence.
            let mut resolved = p.to_path_buf();
            for anc in p.ancestors() {
                if let Some(t) = self.links.get(anc) {
                    resolved = t.join(p.strip_prefix(anc).unwrap());
                    break;
                }
            }
            let r = resolved.components().collect::<PathBuf>();
            (self.dirs.contains(&r) || self.files.contains(&r)).then_some(r)
        }
        fn is_dir(&self, p: &Path) -> bool {
            self.canonicalize(p).is_some_and(|c| self.dirs.contains(&c))
        }
    }

    const W: &str = "/home/op/.parachute/agent/sessions/eng";

    fn policy(network: Network) -> Policy {
        Policy {
            deny_read: vec!["/home".into()],
            allow_read: [
                W,
                "/home/op/.local/bin/claude",
                "/home/op/.local/share/claude/versions/2.1.179",
                "/home/op/.local/share/claude/versions",
                "/home/op/.local/share/claude",
                "/srv/repo",
                "/home/op/refs",
            ]
            .map(PathBuf::from)
            .to_vec(),
            allow_write: [W, "/srv/repo"].map(PathBuf::from).to_vec(),
            read_only_files: ["spec.json", ".mcp.json", "system-prompt.txt"]
                .map(|f| Path::new(W).join(f))
                .to_vec(),
            network,
        }
    }

    fn worked_example_fs() -> FakeFs {
        FakeFs::default()
            .dir("/home")
            .dir(W)
            .dir("/srv/repo")
            .dir("/home/op/refs")
            .dir("/home/op/.local/share/claude")
            .dir("/home/op/.local/share/claude/versions")
            .dir("/home/op/.local/share/claude/versions/2.1.179")
            .link(
                "/home/op/.local/bin/claude",
                "/home/op/.local/share/claude/versions/2.1.179",
            )
            .dir("/etc/ssh/ssh_config.d")
            .file(&format!("{W}/spec.json"))
            .file(&format!("{W}/.mcp.json"))
            .dir("/tmp/parachute-agent-1000")
    }

    fn words(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn worked_example_of_spec_6_2() {
        let p = policy(Network::Restricted(Allowlist::default()));
        let turn = "/tmp/parachute-agent-1000/0123456789abcdef";
        let command: Vec<OsString> = [
            "/usr/local/bin/parachute-agent",
            "sandbox-helper",
            "--",
            "claude",
            "-p",
            "hi there",
        ]
        .map(OsString::from)
        .to_vec();
        let layout = Layout {
            policy: &p,
            cwd: Path::new("/srv/repo"),
            runtime_root: Some(Path::new("/tmp/parachute-agent-1000")),
            turn_dir: Some(Path::new(turn)),
            command: &command,
        };
        let out = build_args(&layout, &worked_example_fs());
        let expected = format!(
            "--new-session --die-with-parent --cap-drop ALL --unshare-net \
             --ro-bind / / --bind {W} {W} --bind /srv/repo /srv/repo \
             --tmpfs /home --bind {W} {W} \
             --ro-bind /home/op/.local/bin/claude /home/op/.local/bin/claude \
             --ro-bind /home/op/.local/share/claude/versions/2.1.179 /home/op/.local/share/claude/versions/2.1.179 \
             --ro-bind /home/op/.local/share/claude/versions /home/op/.local/share/claude/versions \
             --ro-bind /home/op/.local/share/claude /home/op/.local/share/claude \
             --ro-bind /home/op/refs /home/op/refs \
             --tmpfs /etc/ssh/ssh_config.d \
             --ro-bind {W}/spec.json {W}/spec.json --ro-bind {W}/.mcp.json {W}/.mcp.json \
             --tmpfs /tmp/parachute-agent-1000 --bind {turn} {turn} \
             --dev /dev --unshare-pid --proc /proc --chdir /srv/repo \
             -- /usr/local/bin/parachute-agent sandbox-helper -- claude -p"
        );
        assert_eq!(words(&out.args), format!("{expected} hi there"));
        // The message stays one argument (no shell joining).
        assert_eq!(out.args.last().unwrap(), "hi there");
        assert!(out.skipped.is_empty(), "{:?}", out.skipped);
    }

    #[test]
    fn open_network_has_no_unshare_net_and_no_turn_dir() {
        let p = policy(Network::Open);
        let cmd = [OsString::from("true")];
        let layout = Layout {
            policy: &p,
            cwd: Path::new(W),
            runtime_root: Some(Path::new("/tmp/parachute-agent-1000")),
            turn_dir: None,
            command: &cmd,
        };
        let s = words(&build_args(&layout, &worked_example_fs()).args);
        assert!(!s.contains("--unshare-net"));
        assert!(s.contains("--tmpfs /tmp/parachute-agent-1000 --dev /dev"));
        assert!(s.starts_with("--new-session --die-with-parent --cap-drop ALL --ro-bind / /"));
    }

    #[test]
    fn symlinked_write_root_refused_missing_paths_skipped() {
        let mut p = policy(Network::Open);
        p.allow_write = [W, "/srv/evil", "/srv/gone", "relative/x", "/dev/shm"]
            .map(PathBuf::from)
            .to_vec();
        p.allow_read.push("/home/op/missing".into());
        let fs = worked_example_fs()
            .link("/srv/evil", "/etc")
            .dir("/etc")
            .dir("/dev/shm");
        let cmd = [OsString::from("true")];
        let layout = Layout {
            policy: &p,
            cwd: Path::new(W),
            runtime_root: None,
            turn_dir: None,
            command: &cmd,
        };
        let out = build_args(&layout, &fs);
        let s = words(&out.args);
        assert!(!s.contains("/srv/evil") && !s.contains("/etc --"), "{s}");
        assert!(!s.contains("/srv/gone") && !s.contains("relative") && !s.contains("/dev/shm"));
        assert!(!s.contains("/home/op/missing"));
        assert_eq!(out.skipped.len(), 4, "{:?}", out.skipped);
        assert!(out.skipped[0].contains("/srv/evil") && out.skipped[0].contains("refused"));
    }

    #[test]
    fn deny_order_nested_rebinds_and_files() {
        let mut p = policy(Network::Open);
        p.deny_read = ["/root/deep/er", "/root", "/home", "/etc/secret.conf"]
            .map(PathBuf::from)
            .to_vec();
        p.allow_write = [W, "/root/ws"].map(PathBuf::from).to_vec();
        p.allow_read = [W, "/root/ws/sub", "/root/deep/er/x", "/home/op/refs"]
            .map(PathBuf::from)
            .to_vec();
        let fs = worked_example_fs()
            .dir("/root")
            .dir("/root/ws")
            .dir("/root/ws/sub")
            .dir("/root/deep/er")
            .dir("/root/deep/er/x")
            .file("/etc/secret.conf");
        let cmd = [OsString::from("true")];
        let layout = Layout {
            policy: &p,
            cwd: Path::new(W),
            runtime_root: None,
            turn_dir: None,
            command: &cmd,
        };
        let s = words(&build_args(&layout, &fs).args);
        let want = format!(
            "--ro-bind / / --bind {W} {W} --bind /root/ws /root/ws \
             --tmpfs /root --bind /root/ws /root/ws --ro-bind /root/deep/er/x /root/deep/er/x \
             --tmpfs /home --bind {W} {W} --ro-bind /home/op/refs /home/op/refs \
             --ro-bind /dev/null /etc/secret.conf \
             --tmpfs /root/deep/er --ro-bind /root/deep/er/x /root/deep/er/x \
             --tmpfs /etc/ssh/ssh_config.d"
        );
        assert!(s.contains(&want), "{s}");
        // A read path inside a re-bound write root is not bound again read-only.
        assert!(!s.contains("--ro-bind /root/ws/sub"));
    }

    #[test]
    fn protected_files_only_inside_accepted_write_roots() {
        let mut p = policy(Network::Open);
        p.allow_write = vec!["/srv/repo".into()]; // W not writable here
        let cmd = [OsString::from("true")];
        let layout = Layout {
            policy: &p,
            cwd: Path::new("/srv/repo"),
            runtime_root: None,
            turn_dir: None,
            command: &cmd,
        };
        let s = words(&build_args(&layout, &worked_example_fs()).args);
        assert!(!s.contains("spec.json"), "{s}");
    }

    #[test]
    fn read_allowed_denied_file_is_not_covered() {
        let mut p = policy(Network::Open);
        p.deny_read = vec!["/etc/secret.conf".into()];
        p.allow_read = vec!["/etc/secret.conf".into()];
        let fs = worked_example_fs().file("/etc/secret.conf");
        let cmd = [OsString::from("true")];
        let layout = Layout {
            policy: &p,
            cwd: Path::new(W),
            runtime_root: None,
            turn_dir: None,
            command: &cmd,
        };
        let s = words(&build_args(&layout, &fs).args);
        assert!(!s.contains("/dev/null"), "{s}");
    }
}
