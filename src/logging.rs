//! Diagnostics through `log` + `env_logger` (spec 08: `RUST_LOG`, `-v`/`-q`, default
//! `info`), shaped for an operator's journal:
//! - the default level prints one line per boot step, per turn and per warning; the HTTP
//!   client's internals (`ureq`, `ureq_proto`) stay at `warn` unless `RUST_LOG` names
//!   them, and never go below `debug` (their trace level prints request paths and raw
//!   request bytes: bot tokens, bearer headers);
//! - no colours (env_logger's colour feature is not compiled in);
//! - under systemd (`JOURNAL_STREAM` set) every line starts with the syslog priority
//!   `<N>` that journald parses, and carries no timestamp (journald stamps lines itself);
//! - multi-line warnings whose exact text the spec fixes (the preflight warning, spec 04
//!   §5) go through [`warn_block`]: verbatim on a terminal, every line `<4>`-prefixed
//!   under journald so the whole block is filed as a warning, not as info.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by [`init`] when stderr goes to journald.
static JOURNAL: AtomicBool = AtomicBool::new(false);

/// What the environment says about logging, read once by `config::log_settings`.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// `RUST_LOG`, when set and non-empty.
    pub rust_log: Option<String>,
    /// `JOURNAL_STREAM` is set: stdout/stderr go to journald.
    pub journal: bool,
}

/// Module prefixes of the HTTP client whose internals stay quiet by default.
const HTTP_CLIENT: [&str; 2] = ["ureq", "ureq_proto"];

/// The filter directives in effect: `RUST_LOG` or the verbosity's level, plus the HTTP
/// client cap unless `RUST_LOG` names the client.
pub fn directives(settings: &LogSettings, verbosity: i32) -> String {
    let base = match &settings.rust_log {
        Some(spec) => spec.clone(),
        None => match verbosity {
            i32::MIN..=-1 => "warn",
            0 => "info",
            1 => "debug",
            _ => "trace",
        }
        .to_string(),
    };
    let names_client = settings
        .rust_log
        .as_deref()
        .is_some_and(|s| s.contains("ureq"));
    if names_client {
        return base;
    }
    let caps: Vec<String> = HTTP_CLIENT.iter().map(|m| format!("{m}=warn")).collect();
    format!("{base},{}", caps.join(","))
}

/// The syslog priority journald reads from a `<N>` line prefix.
pub fn priority(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

/// Never lets a trace record of the HTTP client through, whatever the filter says.
struct Capped(env_logger::Logger);

fn is_http_client(target: &str) -> bool {
    HTTP_CLIENT
        .iter()
        .any(|m| target == *m || target.starts_with(&format!("{m}::")))
}

impl Log for Capped {
    fn enabled(&self, m: &Metadata) -> bool {
        !(m.level() == Level::Trace && is_http_client(m.target())) && self.0.enabled(m)
    }

    fn log(&self, r: &Record) {
        if self.enabled(r.metadata()) {
            self.0.log(r);
        }
    }

    fn flush(&self) {
        self.0.flush();
    }
}

/// `text` with every line given the journald priority prefix of `level` (or as is).
fn block(text: &str, level: Level, journal: bool) -> String {
    if !journal {
        return format!("{text}\n");
    }
    let p = priority(level);
    text.lines().map(|l| format!("<{p}>{l}\n")).collect()
}

/// Writes a spec-worded multi-line warning to stderr in one write (verbatim, or with a
/// `<4>` prefix per line under journald).
pub fn warn_block(text: &str) {
    use std::io::Write;
    let out = block(text, Level::Warn, JOURNAL.load(Ordering::Relaxed));
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}

/// Installs the process logger (once; later calls are ignored).
pub fn init(settings: &LogSettings, verbosity: i32) {
    use std::io::Write;
    JOURNAL.store(settings.journal, Ordering::Relaxed);
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&directives(settings, verbosity));
    if settings.journal {
        builder.format(|buf, r| {
            writeln!(
                buf,
                "<{}>{} {}: {}",
                priority(r.level()),
                r.level(),
                r.target(),
                r.args()
            )
        });
    }
    let logger = builder.build();
    let max = logger.filter();
    if log::set_boxed_logger(Box::new(Capped(logger))).is_ok() {
        log::set_max_level(max.min(LevelFilter::Trace));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rust_log: Option<&str>) -> LogSettings {
        LogSettings {
            rust_log: rust_log.map(str::to_string),
            journal: false,
        }
    }

    #[test]
    fn http_client_is_capped_unless_named() {
        assert_eq!(directives(&s(None), 0), "info,ureq=warn,ureq_proto=warn");
        assert_eq!(directives(&s(None), -1), "warn,ureq=warn,ureq_proto=warn");
        assert_eq!(
            directives(&s(Some("debug")), 0),
            "debug,ureq=warn,ureq_proto=warn"
        );
        assert_eq!(
            directives(&s(Some("info,ureq=debug")), 0),
            "info,ureq=debug"
        );
    }

    #[test]
    fn journald_priorities() {
        assert_eq!(priority(Level::Error), 3);
        assert_eq!(priority(Level::Warn), 4);
        assert_eq!(priority(Level::Info), 6);
        assert_eq!(priority(Level::Trace), 7);
        assert!(is_http_client("ureq_proto::client"));
        assert!(is_http_client("ureq"));
        assert!(!is_http_client("ureqx"));
    }

    #[test]
    fn warning_blocks_are_prefixed_per_line_under_journald() {
        assert_eq!(block("a\n  - b", Level::Warn, false), "a\n  - b\n");
        assert_eq!(block("a\n  - b", Level::Warn, true), "<4>a\n<4>  - b\n");
    }
}
