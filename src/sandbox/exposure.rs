//! The protected-path rule of the mount policy ([ext]; spec 04 §1.9 G1,
//! G7, G9): no mount, `workspace` or added dir of an agent may expose the daemon's own
//! secrets — read-only or read-write, with or without step-up. Denying those dirs in the
//! sandbox view is not enough on its own: a declared bind re-exposes whatever it names.
//!
//! A path is refused when, after canonicalisation (symlinks, `..`, `.`, trailing slashes):
//! - it is the state dir or `$PARACHUTE_HOME`, lies inside one of them, or contains one
//!   (a parent: `/`, `/var/lib`, `~/.parachute`) — except inside the agent's own private
//!   dir `W`, which the sandbox binds read-write anyway;
//! - it is the daemon user's home or a parent of it (`/`, `/home`, `/home/op`); dirs
//!   *inside* the home (`~/code/repo`) stay allowed unless the first rule refuses them.
//!
//! Checked where a spec enters (`POST /api/agents` before the step-up gate, every
//! definition and boot re-registration through `ProgrammaticService::setup`) and again by
//! the launcher right before each turn, so a symlink swapped in later is caught too.

use std::path::{Component, Path, PathBuf};

use crate::agents::spec::AgentSpec;

/// The rule's name, as quoted in every refusal.
pub const RULE: &str = "protected-path rule: no mount, workspace or add_dirs entry may be, \
contain or lie inside the daemon's state dir or $PARACHUTE_HOME, or be or contain the daemon \
user's home";

/// The dirs one daemon protects from its agents' binds.
#[derive(Debug, Clone, Default)]
pub struct ProtectedPaths {
    /// Secret roots: nothing inside them, nothing containing them (state dir,
    /// `$PARACHUTE_HOME`), with a label for messages.
    secret: Vec<(PathBuf, &'static str)>,
    /// The daemon user's home: not it, not a parent of it.
    home: Option<PathBuf>,
}

impl ProtectedPaths {
    pub fn new(state_dir: &Path, parachute_home: Option<&Path>, home: Option<&Path>) -> Self {
        let mut secret = vec![(state_dir.to_path_buf(), "the daemon's state dir")];
        if let Some(p) = parachute_home {
            secret.push((p.to_path_buf(), "$PARACHUTE_HOME"));
        }
        ProtectedPaths {
            secret,
            home: home.map(Path::to_path_buf),
        }
    }

    /// The same rule over the launcher's view: every secret dir of the sandbox settings
    /// (state dir, `$PARACHUTE_HOME`) and the daemon's home.
    pub fn for_host(host: &super::policy::HostEnv) -> Self {
        ProtectedPaths {
            secret: host
                .secret_dirs
                .iter()
                .map(|d| (d.clone(), "a daemon secret dir"))
                .collect(),
            home: host.daemon_home.clone(),
        }
    }

    /// Every host path `spec` would bind, checked against the rule; `private_dir` is the
    /// agent's own `W`. The error names the field (`workspace`, `mounts[i].hostPath`),
    /// the path, what it exposes and the rule.
    pub fn check(&self, spec: &AgentSpec, private_dir: &Path) -> Result<(), String> {
        let mut fields: Vec<(String, &str)> = Vec::new();
        if let Some(ws) = spec.workspace.as_deref().map(str::trim) {
            if !ws.is_empty() {
                fields.push(("workspace".into(), ws));
            }
        }
        for (i, m) in spec.mounts.as_deref().unwrap_or(&[]).iter().enumerate() {
            fields.push((format!("mounts[{i}].hostPath"), m.host_path.as_str()));
        }
        let own = forms(private_dir);
        for (field, path) in fields {
            if let Some(what) = self.exposes(Path::new(path), &own) {
                return Err(format!("{field} \"{path}\" would expose {what} ({RULE})"));
            }
        }
        Ok(())
    }

    /// What `candidate` would expose, if anything.
    fn exposes(&self, candidate: &Path, own: &[PathBuf]) -> Option<String> {
        let cands = forms(candidate);
        // Judged on the real paths: a symlink inside `W` pointing out of it is not "own".
        let inside_own = last(&cands).starts_with(last(own));
        for (dir, label) in &self.secret {
            for p in forms(dir) {
                for c in &cands {
                    if p.starts_with(c) {
                        return Some(format!("{label} {} (it contains it)", dir.display()));
                    }
                    if c.starts_with(&p) && !inside_own {
                        return Some(format!("{label} {} (it lies inside it)", dir.display()));
                    }
                }
            }
        }
        let home = self.home.as_deref()?;
        for h in forms(home) {
            if cands.iter().any(|c| h.starts_with(c)) {
                return Some(format!(
                    "the daemon user's home {} (it is or contains it)",
                    home.display()
                ));
            }
        }
        None
    }
}

/// The lexical form and the resolved form of `p` (both compared: a protected dir that is a
/// symlink must be caught under either name).
fn forms(p: &Path) -> Vec<PathBuf> {
    let lexical = normalize(p);
    let resolved = resolve(&lexical);
    if resolved == lexical {
        vec![lexical]
    } else {
        vec![lexical, resolved]
    }
}

/// The resolved form (the last of [`forms`]).
fn last(forms: &[PathBuf]) -> &Path {
    forms.last().map(PathBuf::as_path).unwrap_or(Path::new("/"))
}

/// Lexical normalisation: absolute, `.` dropped, `..` pops (never above `/`), trailing
/// slashes gone (components do that). A relative path is taken from `/`.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The real path, component by component: symlinks are followed (dangling ones too: a
/// link whose target does not exist yet still points where a later file would appear),
/// `..` pops the real parent, missing components are appended as they are.
pub fn resolve(p: &Path) -> PathBuf {
    resolve_depth(p, 0)
}

/// Symlink hops allowed (the kernel's own limit is 40).
const MAX_HOPS: usize = 40;

fn resolve_depth(p: &Path, hops: usize) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => {
                let next = out.join(n);
                let is_link =
                    std::fs::symlink_metadata(&next).is_ok_and(|m| m.file_type().is_symlink());
                match std::fs::read_link(&next).ok().filter(|_| is_link) {
                    Some(target) if hops < MAX_HOPS => {
                        out = resolve_depth(&out.join(target), hops + 1);
                    }
                    _ => out = next,
                }
            }
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::spec::{Mount, MountMode};

    struct Fixture {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        rules: ProtectedPaths,
        w: PathBuf,
    }

    fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let home = root.join("home/op");
        let ph = home.join(".parachute");
        let state = root.join("var/lib/pa");
        let w = state.join("sessions/eng");
        for d in [&home.join("code"), &ph, &w] {
            std::fs::create_dir_all(d).unwrap();
        }
        Fixture {
            rules: ProtectedPaths::new(&state, Some(&ph), Some(&home)),
            _tmp: tmp,
            root,
            w,
        }
    }

    fn spec(workspace: Option<&Path>, mounts: &[(&Path, MountMode)]) -> AgentSpec {
        let mut s: AgentSpec =
            serde_json::from_value(serde_json::json!({"name": "eng", "channels": ["eng"]}))
                .unwrap();
        s.workspace = workspace.map(|p| p.display().to_string());
        s.mounts = Some(
            mounts
                .iter()
                .map(|(p, mode)| Mount {
                    host_path: p.display().to_string(),
                    mount_path: None,
                    mode: *mode,
                    shared: None,
                })
                .collect(),
        );
        s
    }

    fn refused(f: &Fixture, p: &Path) -> Option<String> {
        let ro = f
            .rules
            .check(&spec(None, &[(p, MountMode::Ro)]), &f.w)
            .err();
        let ws = f.rules.check(&spec(Some(p), &[]), &f.w).err();
        assert_eq!(
            ro.is_some(),
            ws.is_some(),
            "{p:?}: mount and workspace agree"
        );
        ro
    }

    #[test]
    fn secrets_their_parents_and_insides_are_refused() {
        let f = fixture();
        let r = &f.root;
        for bad in [
            r.join("var/lib/pa"),
            r.join("var/lib/pa/"),
            r.join("var/lib"),
            r.join("var/lib/pa/sessions"),
            r.join("var/lib/pa/sessions/other"),
            r.join("var/lib/pa/credentials.json"),
            r.join("var/lib/pa/sessions/eng/../other"),
            r.join("home/op/.parachute"),
            r.join("home/op/.parachute/operator.token"),
            r.join("home/op"),
            r.join("home"),
            r.join("home/op/code/../.."),
            PathBuf::from("/"),
        ] {
            let e = refused(&f, &bad).unwrap_or_else(|| panic!("{bad:?} must be refused"));
            assert!(e.contains("protected-path rule"), "{e}");
        }
        let e = refused(&f, &r.join("var/lib/pa")).unwrap();
        assert!(
            e.starts_with("mounts[0].hostPath") && e.contains("state dir"),
            "{e}"
        );
    }

    #[test]
    fn own_private_dir_home_subdirs_and_elsewhere_are_allowed() {
        let f = fixture();
        let r = &f.root;
        for ok in [
            f.w.clone(),
            f.w.join("ws"),
            r.join("home/op/code"),
            r.join("home/op/code/"),
            r.join("srv/repo"),
            r.join("var/lib/other"),
        ] {
            assert_eq!(refused(&f, &ok), None, "{ok:?} must be allowed");
        }
    }

    #[test]
    fn symlinks_are_resolved_both_ways() {
        let f = fixture();
        let r = &f.root;
        let to_state = r.join("innocent");
        std::os::unix::fs::symlink(r.join("var/lib/pa"), &to_state).unwrap();
        assert!(refused(&f, &to_state).is_some());
        assert!(refused(&f, &to_state.join("sessions/../step-up.json")).is_some());
        let to_parent = r.join("up");
        std::os::unix::fs::symlink(r.join("var"), &to_parent).unwrap();
        assert!(refused(&f, &to_parent).is_some());
        // A protected dir that is itself a symlink is caught under its real name too.
        let real = r.join("data/state");
        std::fs::create_dir_all(&real).unwrap();
        let linked = r.join("opt/pa");
        std::fs::create_dir_all(r.join("opt")).unwrap();
        std::os::unix::fs::symlink(&real, &linked).unwrap();
        // A symlink inside the agent's own W (which it can write) pointing out of it.
        let escape = f.w.join("escape");
        std::os::unix::fs::symlink(r.join("var/lib/pa/credentials.json"), &escape).unwrap();
        assert!(refused(&f, &escape).is_some());
        let rules = ProtectedPaths::new(&linked, None, None);
        let s = spec(None, &[(&real.join("x"), MountMode::Rw)]);
        assert!(rules.check(&s, &linked.join("sessions/eng")).is_err());
        let s = spec(None, &[(&r.join("opt"), MountMode::Ro)]);
        assert!(rules.check(&s, &linked.join("sessions/eng")).is_err());
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/./b/../c/")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../..")), PathBuf::from("/"));
    }
}
