//! The web UI (spec 06 §3–§4): `serving` checks `/app` and the one-time login
//! exchange over plain HTTP; `browser` drives the real app in Debian's chromium with
//! Playwright against the daemon, the fake vault, the fake claude and a fake hub origin.

mod browser;
mod serving;
