//! The seccomp filter applied to the sandboxed command (spec 04 §1.6.6, §6.4), compiled
//! with `seccompiler`: `socket(AF_UNIX, …)` and the three `io_uring` syscalls fail with
//! `EPERM`; everything else is allowed; a foreign syscall ABI (32-bit compat) kills the
//! process. Effect: the agent cannot open new Unix-domain sockets (docker.sock, ssh-agent,
//! D-Bus, another turn's proxy sockets); TCP/UDP and `socketpair` are unaffected.
//! On x86_64 the x32 ABI numbers (`nr | 0x4000_0000`) are covered too.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// x32 syscalls carry this bit on x86_64.
const X32_BIT: i64 = 0x4000_0000;

/// The compiled filter for this machine's architecture, or why there is none
/// (unsupported architecture → the caller runs without it and logs a warning).
pub fn build() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let af_unix = SeccompCondition::new(
        0,
        SeccompCmpArgLen::Dword,
        SeccompCmpOp::Eq,
        libc::AF_UNIX as u64,
    )
    .map_err(|e| e.to_string())?;
    let socket_rule = SeccompRule::new(vec![af_unix]).map_err(|e| e.to_string())?;

    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    let mut block = |nr: i64, conditional: bool| {
        let r = if conditional {
            vec![socket_rule.clone()]
        } else {
            vec![]
        };
        rules.insert(nr, r.clone());
        if cfg!(target_arch = "x86_64") {
            rules.insert(nr | X32_BIT, r);
        }
    };
    block(libc::SYS_socket, true);
    block(libc::SYS_io_uring_setup, false);
    block(libc::SYS_io_uring_enter, false);
    block(libc::SYS_io_uring_register, false);

    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    BpfProgram::try_from(filter).map_err(|e| e.to_string())
}

/// Install `prog` on the calling thread (sets `no_new_privs` first). Does not allocate,
/// so it is safe in a `pre_exec` hook.
pub fn apply(prog: &BpfProgram) -> std::io::Result<()> {
    seccompiler::apply_filter(prog).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    #[test]
    fn filter_compiles_on_supported_arch() {
        match std::env::consts::ARCH {
            "x86_64" | "aarch64" | "riscv64" => {
                let prog = super::build().unwrap();
                assert!(prog.len() > 8);
            }
            _ => assert!(super::build().is_err()),
        }
    }
}
