//! Agents: the in-memory agent spec every definition becomes (spec 03 §1), and the
//! vault-native definitions (spec 03 §2, spec 02 §4): `definition` (note → spec),
//! `wants`, `vaults` (`agent-vaults.json`), the `registry` and its seams (`sink`), and in
//! `defs/` what surrounds a definition: its status stamp (`status`), authoring (`ops`),
//! def-vault admin (`admin`), boot + poll (`boot`), triggers (`triggers`) and daemon wiring
//! (`live`, `client`). The HTTP routes are `api/agent_defs.rs`.

pub mod definition;
pub mod defs;
pub mod registry;
pub mod sink;
pub mod spec;
pub mod token_life;
pub mod vaults;
pub mod wants;
