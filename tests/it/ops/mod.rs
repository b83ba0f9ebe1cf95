//! Operating the daemon like a service: the hub manifest, `services.json`
//! advertising, logs, `/metrics`, `doctor`, per-agent limits, CORS, backoff, README.

mod backoff;
mod doctor;
mod limits;
mod logs;
mod manifest;
mod metrics;
mod readme;
mod upstream;
