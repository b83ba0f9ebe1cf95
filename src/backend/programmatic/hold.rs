//! [ext] Operator holds: while an operator drives an agent's conversation by hand
//! (an interactive `claude` in its tmux session), the agent's programmatic turns wait, so
//! two writers never fork one Claude session. Messages keep queueing in order and run when
//! the hold is released; nothing is dropped.

use std::collections::HashSet;

use parking_lot::{Condvar, Mutex};

/// The agents whose conversation an operator holds.
#[derive(Default)]
pub struct TurnHold {
    held: Mutex<HashSet<String>>,
    released: Condvar,
}

impl TurnHold {
    /// Holds `agent`; false if it was already held.
    pub fn hold(&self, agent: &str) -> bool {
        self.held.lock().insert(agent.to_string())
    }

    /// Releases `agent`; its waiting turn worker goes on.
    pub fn release(&self, agent: &str) {
        if self.held.lock().remove(agent) {
            self.released.notify_all();
        }
    }

    pub fn is_held(&self, agent: &str) -> bool {
        self.held.lock().contains(agent)
    }

    /// Blocks while `agent` is held. Returns true if it had to wait.
    pub fn wait_until_free(&self, agent: &str) -> bool {
        let mut held = self.held.lock();
        let mut waited = false;
        while held.contains(agent) {
            if !waited {
                log::info!("agent {agent}: an operator session holds the conversation; the next turn waits");
            }
            waited = true;
            self.released.wait(&mut held);
        }
        waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn a_held_agent_waits_until_released() {
        let hold = Arc::new(TurnHold::default());
        assert!(hold.hold("a"));
        assert!(!hold.hold("a"));
        assert!(!hold.wait_until_free("b"), "other agents never wait");
        let h = hold.clone();
        let waiter = std::thread::spawn(move || h.wait_until_free("a"));
        std::thread::sleep(Duration::from_millis(50));
        assert!(!waiter.is_finished());
        hold.release("a");
        assert!(waiter.join().unwrap());
        assert!(!hold.is_held("a"));
    }
}
