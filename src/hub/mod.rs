//! The Parachute hub, as this daemon talks to it (spec 01 §3.2, spec 02 §1.1, spec 03 §4.3,
//! spec 04 §3): the hub origin (`origin`: `PARACHUTE_HUB_ORIGIN` > `expose-state.json` >
//! loopback default), the shared HTTP client of every hub call (`client`), minting child
//! tokens with the operator bearer (`mint`), the grants API (`grants`) and the connection
//! shapes it grants (`connection`). "Hub" in this crate means the Parachute hub only.

pub mod client;
pub mod connection;
pub mod grants;
pub mod mint;
pub mod origin;
