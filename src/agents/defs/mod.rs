//! Everything around an `agent/definition` note besides parsing it (spec 03 §2, spec 02
//! §4): the status stamp written back onto the note (`status`, §2.6), create/edit/delete
//! (`ops`, spec 01 §2.5.3), def-vault administration (`admin`, spec 02 §4.7), boot
//! resolution and the poll (`boot`, spec 02 §4.2–§4.6), the vault triggers (`triggers`,
//! spec 02 §4.3), the live-channel seam (`live`) and the vault-backed def store (`client`).

pub mod admin;
pub mod boot;
pub mod client;
pub mod live;
pub mod ops;
pub mod status;
pub mod triggers;
