//! Agents: the in-memory agent spec every definition becomes (spec 03 §1), and the
//! vault-native definitions (spec 03 §2, spec 02 §4): `definition` (note → spec),
//! `wants`, `def_status`, `vaults` (`agent-vaults.json`), the `registry` and its seams
//! (`sink`), authoring (`def_ops`), admin (`def_admin`), boot + poll (`def_boot`),
//! triggers (`def_triggers`), HTTP (`def_routes`) and daemon wiring (`def_live`,
//! `def_client`).

pub mod def_admin;
pub mod def_boot;
pub mod def_client;
pub mod def_live;
pub mod def_ops;
pub mod def_status;
pub mod def_triggers;
pub mod definition;
pub mod registry;
pub mod sink;
pub mod spec;
pub mod token_life;
pub mod vaults;
pub mod wants;
