//! The abstract sandbox policy of one agent (spec 04 §1.1–§1.5): what a turn may read,
//! write and reach. Pure: agent spec + private dir `W` + the daemon-side facts fixed at boot
//! ([`HostEnv`]) → [`Policy`], plus the reference's engine-config JSON view for assertions.
//!
//! Deviations from the reference, all [ext] and deliberate (spec 04 §1.9):
//! - G1: the daemon user's `$HOME` is denied in `workspace` mode when it is not under
//!   `/home` (root deployments: `/root`).
//! - The daemon's secret dirs (its state dir and `$PARACHUTE_HOME`: credentials, other
//!   agents' `.mcp.json`, `operator.token`) are denied in **both** modes; `W` and the other
//!   roots are re-bound inside them. `full` widens reads to the operator's files, never to
//!   the daemon's own secrets.
//! - G7: `W/spec.json`, `W/.mcp.json`, `W/system-prompt.txt` are listed as read-only files
//!   so an agent cannot widen its own sandbox.
//! - G4/G5: host rules carry ports (see [`super::hosts`]).
//! - `allowRead` is the same in both modes (it only matters under a denied dir).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::hosts::{Allowlist, HostRule, Origin};
use crate::agents::spec::{AgentSpec, FilesystemMode, MountMode, NetworkMode};

/// Facts about the daemon fixed at boot, shared by every turn.
#[derive(Debug, Clone, Default)]
pub struct HostEnv {
    /// Runtime read binds `R` (spec 04 §1.2): the `claude` binary and its install dirs,
    /// plus the daemon's own executable (it runs the in-sandbox helper).
    pub runtime_read: Vec<PathBuf>,
    /// The daemon user's home (`$HOME`), denied in `workspace` mode when outside `/home`.
    pub daemon_home: Option<PathBuf>,
    /// Dirs that hold the daemon's secrets (state dir, `$PARACHUTE_HOME`): denied always.
    pub secret_dirs: Vec<PathBuf>,
    /// Hub origin (e.g. `https://hub.example.com`), base entry of restricted allowlists.
    pub hub_origin: Option<String>,
    /// Vault URL (e.g. `http://127.0.0.1:1940`), base entry of restricted allowlists.
    pub vault_url: Option<String>,
}

/// Egress scope of a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// Host network, no proxy.
    Open,
    /// Own network namespace; only the per-turn proxies, filtering by this allowlist.
    Restricted(Allowlist),
}

/// The policy of one turn, before it is rendered into bwrap arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Dirs hidden behind an empty tmpfs (files: `/dev/null`).
    pub deny_read: Vec<PathBuf>,
    /// Paths re-allowed (read-only) inside a denied dir.
    pub allow_read: Vec<PathBuf>,
    /// The only writable roots: `W`, the workspace, rw mounts.
    pub allow_write: Vec<PathBuf>,
    /// Files inside a write root that stay read-only (the agent's own config).
    pub read_only_files: Vec<PathBuf>,
    pub network: Network,
}

/// Files of `W` the agent must not be able to modify (G7).
pub const PROTECTED_FILES: [&str; 3] = ["spec.json", ".mcp.json", "system-prompt.txt"];

/// The Anthropic entries that start every restricted allowlist.
const ANTHROPIC_BASE: [&str; 2] = ["api.anthropic.com", "*.anthropic.com"];

fn push_unique(list: &mut Vec<PathBuf>, p: PathBuf) {
    if !p.as_os_str().is_empty() && !list.contains(&p) {
        list.push(p);
    }
}

/// `spec.workspace` when it is a non-blank string.
fn workspace(spec: &AgentSpec) -> Option<PathBuf> {
    spec.workspace
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// Builds the policy of an agent whose private dir is `private_dir`.
pub fn policy_for(spec: &AgentSpec, private_dir: &Path, host: &HostEnv) -> Policy {
    let ws = workspace(spec);
    let mounts = spec.mounts.as_deref().unwrap_or(&[]);

    let mut allow_write = Vec::new();
    push_unique(&mut allow_write, private_dir.to_path_buf());
    if let Some(s) = &ws {
        push_unique(&mut allow_write, s.clone());
    }
    for m in mounts.iter().filter(|m| m.mode == MountMode::Rw) {
        push_unique(&mut allow_write, PathBuf::from(&m.host_path));
    }

    let mut allow_read = Vec::new();
    push_unique(&mut allow_read, private_dir.to_path_buf());
    for r in &host.runtime_read {
        push_unique(&mut allow_read, r.clone());
    }
    if let Some(s) = &ws {
        push_unique(&mut allow_read, s.clone());
    }
    for m in mounts {
        push_unique(&mut allow_read, PathBuf::from(&m.host_path));
    }

    Policy {
        deny_read: deny_read(spec.filesystem(), host),
        allow_read,
        allow_write,
        read_only_files: PROTECTED_FILES
            .iter()
            .map(|f| private_dir.join(f))
            .collect(),
        network: match spec.network() {
            NetworkMode::Open => Network::Open,
            NetworkMode::Restricted => Network::Restricted(allowlist(spec, host)),
        },
    }
}

/// `/home` (+ the daemon's home, G1) in `workspace` mode, then the secret dirs; entries
/// nested inside an earlier one, `/` and relative paths are dropped.
fn deny_read(mode: FilesystemMode, host: &HostEnv) -> Vec<PathBuf> {
    let mut candidates = Vec::new();
    if mode == FilesystemMode::Workspace {
        candidates.push(PathBuf::from("/home"));
        candidates.extend(host.daemon_home.clone());
    }
    candidates.extend(host.secret_dirs.iter().cloned());
    let mut out: Vec<PathBuf> = Vec::new();
    for c in candidates {
        if !c.is_absolute() || c == Path::new("/") {
            continue;
        }
        if out.iter().any(|d| c.starts_with(d)) {
            continue;
        }
        out.retain(|d| !d.starts_with(&c));
        out.push(c);
    }
    out
}

/// Base (Anthropic, hub, vault) first, then the spec's `egress` entries in order.
pub fn allowlist(spec: &AgentSpec, host: &HostEnv) -> Allowlist {
    let mut list = Allowlist::default();
    for h in ANTHROPIC_BASE {
        list.rules.extend(HostRule::new(h, Some(443)));
    }
    for origin in [&host.hub_origin, &host.vault_url].into_iter().flatten() {
        if let Some(o) = Origin::parse(origin) {
            if let Some(rule) = HostRule::new(&o.host, o.effective_port()) {
                list.push(rule);
            }
        }
    }
    for entry in spec.egress.as_deref().unwrap_or(&[]) {
        if let Some(o) = Origin::parse(entry) {
            if let Some(rule) = HostRule::new(&o.host, o.port) {
                list.push(rule);
            }
        }
    }
    list
}

impl Policy {
    /// The reference's engine-config object (spec 04 §1.5), plus `allowedHosts` with
    /// ports ([ext]) for restricted turns.
    pub fn engine_json(&self) -> Value {
        let paths = |v: &[PathBuf]| -> Vec<String> {
            v.iter().map(|p| p.to_string_lossy().into_owned()).collect()
        };
        let network = match &self.network {
            Network::Open => json!({ "deniedDomains": [] }),
            Network::Restricted(list) => {
                let mut domains: Vec<String> = Vec::new();
                for r in &list.rules {
                    let h = r.host_text();
                    if !domains.contains(&h) {
                        domains.push(h);
                    }
                }
                let hosts: Vec<String> = list.rules.iter().map(|r| r.to_string()).collect();
                json!({ "allowedDomains": domains, "allowedHosts": hosts, "deniedDomains": [] })
            }
        };
        json!({
            "network": network,
            "filesystem": {
                "denyRead": paths(&self.deny_read),
                "allowRead": paths(&self.allow_read),
                "allowWrite": paths(&self.allow_write),
                "denyWrite": paths(&self.read_only_files),
            },
            "allowPty": true,
        })
    }

    pub fn is_restricted(&self) -> bool {
        matches!(self.network, Network::Restricted(_))
    }
}

/// Why creating this agent over HTTP needs a step-up token, if it does (spec 04 §4.4 +
/// [ext] G9): `filesystem: full`, or a workspace or read-write mount outside the
/// sessions dir (more dangerous than broad reads).
pub fn step_up_reason(spec: &AgentSpec, sessions_dir: &Path) -> Option<&'static str> {
    if spec.filesystem() == FilesystemMode::Full {
        return Some("filesystem: full");
    }
    let outside = |p: &str| !lexically_inside(Path::new(p), sessions_dir);
    if workspace(spec).is_some_and(|w| outside(&w.to_string_lossy())) {
        return Some("workspace outside the sessions dir");
    }
    let mounts = spec.mounts.as_deref().unwrap_or(&[]);
    if mounts
        .iter()
        .any(|m| m.mode == MountMode::Rw && outside(&m.host_path))
    {
        return Some("read-write mount outside the sessions dir");
    }
    None
}

/// `p` is `dir` or below it, with `..` components refused (never "inside").
fn lexically_inside(p: &Path, dir: &Path) -> bool {
    use std::path::Component;
    p.is_absolute()
        && !p.components().any(|c| matches!(c, Component::ParentDir))
        && p.starts_with(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::spec::Mount;

    const W: &str = "/home/op/.parachute/agent/sessions/eng";

    fn spec(json: Value) -> AgentSpec {
        let mut base = json!({"name": "eng", "channels": ["eng"]});
        base.as_object_mut()
            .unwrap()
            .extend(json.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn host() -> HostEnv {
        HostEnv {
            runtime_read: vec![PathBuf::from("/home/op/.local/bin/claude")],
            daemon_home: Some(PathBuf::from("/home/op")),
            secret_dirs: vec![],
            hub_origin: Some("https://hub.example.com".into()),
            vault_url: Some("http://127.0.0.1:1940".into()),
        }
    }

    fn strs(v: &Value) -> Vec<String> {
        serde_json::from_value(v.clone()).unwrap()
    }

    #[test]
    fn default_spec_scoped_reads_open_network() {
        let p = policy_for(&spec(json!({})), Path::new(W), &host());
        let j = p.engine_json();
        assert_eq!(strs(&j["filesystem"]["denyRead"]), ["/home"]);
        assert_eq!(
            strs(&j["filesystem"]["allowRead"]),
            [W, "/home/op/.local/bin/claude"]
        );
        assert_eq!(strs(&j["filesystem"]["allowWrite"]), [W]);
        assert_eq!(j["network"], json!({"deniedDomains": []}));
        assert!(j["network"].get("allowedDomains").is_none());
        assert_eq!(j["allowPty"], true);
        assert_eq!(
            p.read_only_files,
            PROTECTED_FILES
                .iter()
                .map(|f| Path::new(W).join(f))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn full_never_widens_writes_and_drops_home_deny() {
        let s = spec(json!({"filesystem": "full", "workspace": "/proj",
            "mounts": [{"hostPath": "/srv/ro", "mode": "ro"}, {"hostPath": "/srv/rw", "mode": "rw"}]}));
        let p = policy_for(&s, Path::new(W), &host());
        assert!(p.deny_read.is_empty());
        assert_eq!(
            p.allow_write,
            [W, "/proj", "/srv/rw"].map(PathBuf::from).to_vec()
        );
    }

    #[test]
    fn mounts_and_workspace_deduplicated_blank_workspace_ignored() {
        let s = spec(json!({"workspace": "/proj", "mounts": [
            {"hostPath": W, "mode": "rw"}, {"hostPath": "/proj", "mode": "ro"},
            {"hostPath": "/home/op/refs", "mountPath": "/elsewhere", "mode": "ro", "shared": "team"}]}));
        let p = policy_for(&s, Path::new(W), &host());
        assert_eq!(p.allow_write, [W, "/proj"].map(PathBuf::from).to_vec());
        assert_eq!(
            p.allow_read,
            [W, "/home/op/.local/bin/claude", "/proj", "/home/op/refs"]
                .map(PathBuf::from)
                .to_vec()
        );
        assert_eq!(p.deny_read, [PathBuf::from("/home")]);
        let blank = policy_for(&spec(json!({"workspace": "  "})), Path::new(W), &host());
        assert_eq!(blank.allow_write, [PathBuf::from(W)]);
    }

    #[test]
    fn root_home_and_secret_dirs_denied_nested_dropped() {
        let mut h = host();
        h.daemon_home = Some(PathBuf::from("/root"));
        h.secret_dirs = vec![
            PathBuf::from("/root/.parachute/agent"),
            PathBuf::from("/var/lib/pa"),
        ];
        let p = policy_for(&spec(json!({})), Path::new("/var/lib/pa/sessions/eng"), &h);
        assert_eq!(
            p.deny_read,
            ["/home", "/root", "/var/lib/pa"]
                .map(PathBuf::from)
                .to_vec()
        );
        let full = policy_for(
            &spec(json!({"filesystem": "full"})),
            Path::new("/x/sessions/eng"),
            &h,
        );
        assert_eq!(
            full.deny_read,
            ["/root/.parachute/agent", "/var/lib/pa"]
                .map(PathBuf::from)
                .to_vec()
        );
        h.daemon_home = Some(PathBuf::from("/"));
        h.secret_dirs = vec![PathBuf::from("relative/dir")];
        let p = policy_for(&spec(json!({})), Path::new(W), &h);
        assert_eq!(p.deny_read, [PathBuf::from("/home")]);
    }

    #[test]
    fn restricted_allowlist_base_first_then_egress() {
        let s = spec(json!({"network": "restricted", "egress": [
            "https://registry.npmjs.org", "api.anthropic.com.evil.example.com", "", "  ",
            "127.0.0.1:1939", "registry.npmjs.org", "api.anthropic.com:443"]}));
        let p = policy_for(&s, Path::new(W), &host());
        let j = p.engine_json();
        assert_eq!(
            strs(&j["network"]["allowedDomains"]),
            [
                "api.anthropic.com",
                "*.anthropic.com",
                "hub.example.com",
                "127.0.0.1",
                "registry.npmjs.org",
                "api.anthropic.com.evil.example.com"
            ]
        );
        assert_eq!(
            strs(&j["network"]["allowedHosts"]),
            [
                "api.anthropic.com:443",
                "*.anthropic.com:443",
                "hub.example.com:443",
                "127.0.0.1:1940",
                "registry.npmjs.org",
                "api.anthropic.com.evil.example.com",
                "127.0.0.1:1939"
            ]
        );
        let Network::Restricted(list) = &p.network else {
            panic!("restricted expected")
        };
        assert!(list.allows("127.0.0.1", 1940).is_some());
        assert!(list.allows("127.0.0.1", 1941).is_none());
        assert!(list.allows("registry.npmjs.org", 443).is_some());
    }

    #[test]
    fn egress_ignored_when_open_and_same_hub_vault_collapse() {
        let s = spec(json!({"egress": ["example.com"]}));
        assert_eq!(policy_for(&s, Path::new(W), &host()).network, Network::Open);
        let mut h = host();
        h.hub_origin = Some("http://127.0.0.1:1940/".into());
        let r = policy_for(&spec(json!({"network": "restricted"})), Path::new(W), &h);
        let Network::Restricted(list) = r.network else {
            panic!()
        };
        assert_eq!(list.rules.len(), 3);
    }

    #[test]
    fn step_up_for_full_and_paths_outside_sessions() {
        let sessions = Path::new("/st/sessions");
        assert_eq!(step_up_reason(&spec(json!({})), sessions), None);
        assert!(step_up_reason(&spec(json!({"filesystem": "full"})), sessions).is_some());
        assert!(step_up_reason(&spec(json!({"workspace": "/home/op"})), sessions).is_some());
        assert_eq!(
            step_up_reason(&spec(json!({"workspace": "/st/sessions/eng/ws"})), sessions),
            None
        );
        assert!(step_up_reason(
            &spec(json!({"workspace": "/st/sessions/../../etc"})),
            sessions
        )
        .is_some());
        let mut s = spec(json!({}));
        s.mounts = Some(vec![Mount {
            host_path: "/srv".into(),
            mount_path: None,
            mode: MountMode::Ro,
            shared: None,
        }]);
        assert_eq!(step_up_reason(&s, sessions), None);
        s.mounts.as_mut().unwrap()[0].mode = MountMode::Rw;
        assert!(step_up_reason(&s, sessions).is_some());
    }
}
