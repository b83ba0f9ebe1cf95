//! One-time SSE tickets (spec 01 §4): an EventSource cannot send an `Authorization` header,
//! so the UI trades its bearer for a short-lived single-use nonce carried as `?ticket=`.
//! A ticket is 32 CSPRNG bytes in base64url (43 chars), lives 60 s (shorter with
//! `PARACHUTE_AGENT_SSE_TICKET_TTL_SECS`, spec 08) and carries a copy of the minting
//! token's scope list, never more. Consumption removes the entry *before* checking its
//! expiry, under one mutex, so two racing consumers can never both win. Every mint prunes
//! expired entries; there is no timer. The map is process-local and lost on restart.

use crate::auth::{grants, Scope};
use crate::util::{rand, time};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default and maximum ticket lifetime (spec 01 §4).
pub const MAX_TTL: Duration = Duration::from_secs(60);

struct Entry {
    scopes: Vec<String>,
    /// [ext] The bearer that minted the ticket: the stream it opens re-validates it, so a
    /// page stream ends when that token expires or is revoked. Memory only.
    token: Option<String>,
    expires: Instant,
}

/// A freshly minted ticket, as returned by `POST /api/ui/sse-ticket`.
#[derive(Debug, Clone)]
pub struct MintedTicket {
    pub ticket: String,
    /// Expiry in the wire format (`toISOString()`).
    pub expires_at: String,
}

/// Why a ticket was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketError {
    /// Missing, unknown, already used or expired → 401.
    Invalid,
    /// Valid (and now consumed) but lacking the route's scope → 403; carries the ticket's
    /// scopes for the `granted` field.
    LacksScope { granted: Vec<String> },
}

/// The process-local ticket map.
pub struct TicketStore {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl TicketStore {
    /// A store whose tickets live `ttl` (clamped to [`MAX_TTL`]).
    pub fn new(ttl: Duration) -> Self {
        TicketStore {
            ttl: ttl.min(MAX_TTL),
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Mint a ticket carrying `scopes` (the minting token's validated list).
    pub fn mint(&self, scopes: &[String]) -> MintedTicket {
        self.mint_for(scopes, None)
    }

    /// [`mint`](Self::mint), remembering the minting bearer `token`.
    pub fn mint_for(&self, scopes: &[String], token: Option<String>) -> MintedTicket {
        let ticket = rand::token(32);
        let now = Instant::now();
        let expires_at = time::iso_from_ms(time::now_ms() + self.ttl.as_millis() as u64);
        let mut entries = self.entries.lock();
        entries.retain(|_, e| e.expires > now);
        entries.insert(
            ticket.clone(),
            Entry {
                scopes: scopes.to_vec(),
                token,
                expires: now + self.ttl,
            },
        );
        MintedTicket { ticket, expires_at }
    }

    /// Consume `ticket` and return its scopes. The entry is removed whatever happens next.
    pub fn consume(&self, ticket: &str) -> Result<Vec<String>, TicketError> {
        self.consume_entry(ticket).map(|(scopes, _)| scopes)
    }

    /// Consume `ticket`: its scopes and the bearer that minted it.
    fn consume_entry(&self, ticket: &str) -> Result<(Vec<String>, Option<String>), TicketError> {
        if ticket.is_empty() {
            return Err(TicketError::Invalid);
        }
        // Removal and the expiry check happen on the removed value: whoever removes it is
        // the only one who can ever see it.
        let entry = self
            .entries
            .lock()
            .remove(ticket)
            .ok_or(TicketError::Invalid)?;
        if Instant::now() >= entry.expires {
            return Err(TicketError::Invalid);
        }
        Ok((entry.scopes, entry.token))
    }

    /// Consume `ticket` and require `scope` (dual-accept `agent:<verb>` / `channel:<verb>`,
    /// spec 01 §3.7). The ticket is consumed even when the scope is missing.
    pub fn consume_for(&self, ticket: &str, scope: Scope) -> Result<Vec<String>, TicketError> {
        self.consume_with_token(ticket, scope)
            .map(|(scopes, _)| scopes)
    }

    /// [`consume_for`](Self::consume_for), also returning the minting bearer.
    pub fn consume_with_token(
        &self,
        ticket: &str,
        scope: Scope,
    ) -> Result<(Vec<String>, Option<String>), TicketError> {
        let (scopes, token) = self.consume_entry(ticket)?;
        if grants(&scopes, scope) {
            Ok((scopes, token))
        } else {
            Err(TicketError::LacksScope { granted: scopes })
        }
    }

    /// Number of live (possibly expired, not yet pruned) entries; for tests and `/health`.
    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Barrier};

    fn scopes(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn single_use_and_shape() {
        let store = TicketStore::new(Duration::from_secs(60));
        let m = store.mint(&scopes("agent:read agent:send"));
        assert_eq!(m.ticket.len(), 43);
        assert!(time::parse_iso_ms(&m.expires_at).unwrap() > time::now_ms());
        assert_eq!(
            store.consume_for(&m.ticket, Scope::Read).unwrap(),
            scopes("agent:read agent:send")
        );
        assert_eq!(store.consume(&m.ticket), Err(TicketError::Invalid));
        assert_eq!(store.consume(""), Err(TicketError::Invalid));
        assert_eq!(store.consume("nope"), Err(TicketError::Invalid));
    }

    #[test]
    fn lacking_scope_is_403_and_still_consumed() {
        let store = TicketStore::new(Duration::from_secs(60));
        let m = store.mint(&scopes("agent:send agent:admin"));
        assert_eq!(
            store.consume_for(&m.ticket, Scope::Read),
            Err(TicketError::LacksScope {
                granted: scopes("agent:send agent:admin")
            })
        );
        assert_eq!(store.consume(&m.ticket), Err(TicketError::Invalid));
        let legacy = store.mint(&scopes("channel:read"));
        assert!(store.consume_for(&legacy.ticket, Scope::Read).is_ok());
    }

    #[test]
    fn expired_ticket_fails_and_mint_prunes() {
        let store = TicketStore::new(Duration::ZERO);
        let m = store.mint(&scopes("agent:read"));
        assert_eq!(store.consume(&m.ticket), Err(TicketError::Invalid));
        store.mint(&scopes("agent:read"));
        store.mint(&scopes("agent:read"));
        assert_eq!(store.len(), 1, "each mint prunes expired entries");
    }

    #[test]
    fn ttl_is_clamped_to_sixty_seconds() {
        assert_eq!(TicketStore::new(Duration::from_secs(600)).ttl(), MAX_TTL);
        assert_eq!(
            TicketStore::new(Duration::from_secs(5)).ttl(),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn racing_consumers_exactly_one_wins() {
        for _ in 0..20 {
            let store = Arc::new(TicketStore::new(Duration::from_secs(60)));
            let t = store.mint(&scopes("agent:read")).ticket;
            let barrier = Arc::new(Barrier::new(8));
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let (store, t, b) = (store.clone(), t.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        store.consume(&t).is_ok()
                    })
                })
                .collect();
            let wins = handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|w| *w)
                .count();
            assert_eq!(wins, 1);
        }
    }
}
