//! SIGHUP ([ext] over spec 01 §6.7): `.env`, `channels.json` and `agent-vaults.json` are
//! read again and applied to the running daemon without dropping work — queued and running
//! turns go on, nothing journaled is lost, the listener never closes.
//!
//! - `.env`: the knobs of [`config::RELOADABLE`] take effect (the journal's attempt and
//!   age limits for messages replayed or found from now on, the stop grace, and the
//!   Telegram knobs, which restart the telegram channels). Every other knob is read at boot
//!   only; a reload that finds one changed logs its name ("restart to apply").
//! - `channels.json` (`channels::file`): new entries start, changed ones replace their
//!   live channel (an agent on it stays registered and keeps its queue), removed ones stop
//!   and close their `/events` streams; the programmatic agent of a removed channel is
//!   unregistered as at a boot without it, its queued messages staying journaled for its
//!   return. Persisted agents (`spec.json`) whose wake channel just came up register.
//! - `agent-vaults.json` (`agents::defs::admin::reload_vaults`): vaults added, changed or
//!   removed in the file are bound, rebound or unbound.
//!
//! Reloads are serialised; each is logged step by step, and systemd hears `RELOADING=1`
//! then `READY=1` (`Type=notify`, `ExecReload=/bin/kill -HUP $MAINPID`).

use std::collections::HashSet;

use parking_lot::Mutex;

use crate::channels::factory::TransportDeps;
use crate::config::{self, RELOADABLE};
use crate::lifecycle::notify::Notifier;
use crate::state::AppState;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs one reload; `notifier` hears `RELOADING=1` and `READY=1`.
pub fn reload(state: &AppState, notifier: &Notifier) {
    let _one = ONE_AT_A_TIME.lock();
    notifier.reloading();
    log::info!("SIGHUP: reloading .env, channels.json and agent-vaults.json");
    let fresh = reload_env(state);
    reload_channels(state, &fresh);
    reload_def_vaults(state);
    log::info!("reload done");
    notifier.ready(&crate::supervision::status_line(state));
}

/// `.env` again; applies the reloadable knobs. Returns the config as `.env` now says.
fn reload_env(state: &AppState) -> config::Config {
    let changed = config::reload_dotenv(&state.config.state_dir);
    let mut fresh = state.config.clone();
    fresh.reload_subsystems();
    let k = &fresh.durability;
    let durable = &state.programmatic.registry.ctx().durable;
    if durable.limits() != (k.max_attempts, k.max_age) {
        log::info!(
            "reload: journal limits now {} attempt(s), {} s",
            k.max_attempts,
            k.max_age.as_secs()
        );
    }
    durable.set_limits(k.max_attempts, k.max_age);
    state.lifecycle.set_stop_grace(k.stop_grace);
    let boot_only: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|n| !RELOADABLE.contains(n))
        .collect();
    if !changed.is_empty() {
        log::info!("reload: .env changed {}", changed.join(", "));
    }
    if !boot_only.is_empty() {
        log::warn!(
            "reload: {} changed in .env but only take(s) effect at boot; restart to apply",
            boot_only.join(", ")
        );
    }
    fresh
}

fn reload_channels(state: &AppState, fresh: &config::Config) {
    let deps = TransportDeps::from_config(fresh);
    let applied = match state.channel_file.reload(&state.channels, Some(deps)) {
        Ok(a) => a,
        Err(e) => {
            log::error!("reload: {e}; channels unchanged");
            return;
        }
    };
    for name in &applied.removed {
        state.events.close_channel(name, None);
        if let Some(agent) = state.programmatic.registry.suspend_channel(name) {
            log::info!(
                "reload: agent {agent} unregistered with its channel {name}; its queued messages stay journaled"
            );
        }
    }
    for f in &applied.failed {
        log::error!("reload: channel {f}; left as it was");
    }
    let added: HashSet<&str> = applied.added.iter().map(String::as_str).collect();
    let agents = state.programmatic.register_persisted_on(&added);
    log::info!(
        "reload: channels added [{}], replaced [{}], removed [{}]; {agents} agent(s) registered",
        applied.added.join(", "),
        applied.replaced.join(", "),
        applied.removed.join(", ")
    );
}

fn reload_def_vaults(state: &AppState) {
    match crate::agents::defs::admin::reload_vaults(&state.def_vaults) {
        Ok(None) => log::info!("reload: no agent-vaults.json; def-vaults unchanged"),
        Ok(Some(a)) => log::info!(
            "reload: def-vaults added [{}], changed [{}], removed [{}]",
            a.added.join(", "),
            a.changed.join(", "),
            a.removed.join(", ")
        ),
        Err(e) => log::error!("reload: agent-vaults.json: {e}; def-vaults unchanged"),
    }
}
