//! The command line (lexopt): `serve` (default), `token mint|rotate`, `--help`,
//! `--version`. Parsing yields a [`Command`]; `main` runs it. Flags fill a
//! [`RawConfig`] that `Config::resolve` validates together with the environment.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use lexopt::prelude::*;

use crate::auth::local::{self, LocalIssuer};
use crate::auth::Scope;
use crate::config::{self, Config, RawConfig};

const USAGE: &str = "\
parachute-agent — turns channel messages into Claude Code turns

USAGE:
    parachute-agent [serve] [OPTIONS]
    parachute-agent token mint --scope \"agent:read agent:send\" [--ttl 30d] [--state-dir DIR]
    parachute-agent token rotate [--state-dir DIR]
    parachute-agent login-url [--port PORT] [--state-dir DIR]
                               print a one-time web UI sign-in link (single use, 5 minutes)
    parachute-agent doctor [--json] [--port N] [--state-dir DIR]
                               check the install (claude, bwrap, state dir, hub, def-vaults,
                               port); says how to fix each failure; exit 0 all passed, 1 not
    parachute-agent bridge     stdio MCP bridge for a Claude Code session (env PARACHUTE_AGENT_URL,
                               PARACHUTE_AGENT_TOKEN, PARACHUTE_CHANNEL_NAME)

SERVE OPTIONS:
    --port <PORT>              listen port (env PORT, PARACHUTE_AGENT_PORT; default 1941)
    --state-dir <DIR>          state dir (env PARACHUTE_AGENT_STATE_DIR; default ~/.parachute/agent)
    --turn-timeout <SECS>      wall-clock limit per turn (env PARACHUTE_AGENT_TURN_TIMEOUT_SECS; 1800)
    --max-body-bytes <N>       request body limit (env PARACHUTE_AGENT_MAX_BODY_BYTES; 10485760)
    --static-dir <DIR>         serve the web UI from DIR/app on disk instead of the built-in files
                               (env PARACHUTE_AGENT_STATIC_DIR; for UI development)
    -v, -q                     more / less logging (env RUST_LOG; default info)
    -h, --help                 this help
    -V, --version              print the version
";

#[derive(Debug)]
pub enum Command {
    Serve(RawConfig),
    TokenMint {
        state_dir: Option<PathBuf>,
        scopes: Vec<String>,
        ttl: Duration,
    },
    TokenRotate {
        state_dir: Option<PathBuf>,
    },
    Help,
    Version,
    /// `parachute-agent bridge`: the stdio MCP bridge (spec 05 §4), configured by env.
    Bridge,
    /// `parachute-agent login-url`: a one-time web UI sign-in link ([ext], `webui::login`).
    LoginUrl {
        state_dir: Option<PathBuf>,
        port: Option<u16>,
    },
    /// `parachute-agent doctor [--json]`: checks the install.
    Doctor {
        raw: RawConfig,
        json: bool,
    },
}

/// Parsed command plus the log verbosity adjustment (`-v` +1, `-q` −1).
pub struct Invocation {
    pub command: Command,
    pub verbosity: i32,
}

pub fn parse(args: Vec<OsString>) -> Result<Invocation, String> {
    let mut p = lexopt::Parser::from_args(args);
    let mut verbosity = 0;
    let mut raw = RawConfig::default();
    let mut sub: Option<String> = None;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => {
                return Ok(Invocation {
                    command: Command::Help,
                    verbosity,
                })
            }
            Short('V') | Long("version") => {
                return Ok(Invocation {
                    command: Command::Version,
                    verbosity,
                })
            }
            Short('v') => verbosity += 1,
            Short('q') => verbosity -= 1,
            Long("port") => raw.port = Some(parse_num(&mut p, "--port")?),
            Long("state-dir") => {
                raw.state_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Long("turn-timeout") => {
                raw.turn_timeout_secs = Some(parse_num(&mut p, "--turn-timeout")?)
            }
            Long("max-body-bytes") => {
                raw.max_body_bytes = Some(parse_num(&mut p, "--max-body-bytes")?)
            }
            Long("static-dir") => {
                raw.static_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Value(v) if sub.is_none() => {
                let word = v
                    .into_string()
                    .map_err(|_| "invalid subcommand".to_string())?;
                match word.as_str() {
                    "serve" => sub = Some(word),
                    "token" => return parse_token(p, verbosity),
                    "login-url" => return parse_login_url(p, verbosity),
                    "doctor" => return parse_doctor(p, raw, verbosity),
                    "bridge" => {
                        return match p.next().map_err(|e| e.to_string())? {
                            None => Ok(Invocation {
                                command: Command::Bridge,
                                verbosity,
                            }),
                            Some(other) => Err(other.unexpected().to_string()),
                        }
                    }
                    other => return Err(format!("unknown subcommand {other:?} (try --help)")),
                }
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Invocation {
        command: Command::Serve(raw),
        verbosity,
    })
}

/// `doctor [--json] [--port N] [--state-dir DIR]` (flags before `doctor` count too).
fn parse_doctor(
    mut p: lexopt::Parser,
    mut raw: RawConfig,
    verbosity: i32,
) -> Result<Invocation, String> {
    let mut json = false;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("json") => json = true,
            Long("port") => raw.port = Some(parse_num(&mut p, "--port")?),
            Long("state-dir") => {
                raw.state_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Short('h') | Long("help") => {
                return Ok(Invocation {
                    command: Command::Help,
                    verbosity,
                })
            }
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Invocation {
        command: Command::Doctor { raw, json },
        verbosity,
    })
}

fn parse_num<T: std::str::FromStr>(p: &mut lexopt::Parser, flag: &str) -> Result<T, String> {
    let v = p.value().map_err(|e| e.to_string())?;
    let s = v.to_string_lossy();
    s.parse()
        .map_err(|_| format!("{flag} expects a number, got {s:?}"))
}

fn parse_login_url(mut p: lexopt::Parser, verbosity: i32) -> Result<Invocation, String> {
    let (mut state_dir, mut port) = (None, None);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("state-dir") => {
                state_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Long("port") => port = Some(parse_num(&mut p, "--port")?),
            other => return Err(other.unexpected().to_string()),
        }
    }
    Ok(Invocation {
        command: Command::LoginUrl { state_dir, port },
        verbosity,
    })
}

fn parse_token(mut p: lexopt::Parser, verbosity: i32) -> Result<Invocation, String> {
    let mut action: Option<String> = None;
    let mut state_dir = None;
    let mut scope_arg: Option<String> = None;
    let mut ttl = local::DEFAULT_TTL;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("state-dir") => {
                state_dir = Some(PathBuf::from(p.value().map_err(|e| e.to_string())?))
            }
            Long("scope") => {
                scope_arg = Some(
                    p.value()
                        .map_err(|e| e.to_string())?
                        .to_string_lossy()
                        .into_owned(),
                )
            }
            Long("ttl") => {
                ttl = local::parse_ttl(&p.value().map_err(|e| e.to_string())?.to_string_lossy())?
            }
            Short('h') | Long("help") => {
                return Ok(Invocation {
                    command: Command::Help,
                    verbosity,
                })
            }
            Value(v) if action.is_none() => action = Some(v.to_string_lossy().into_owned()),
            other => return Err(other.unexpected().to_string()),
        }
    }
    let command = match action.as_deref() {
        Some("mint") => {
            let scopes = parse_scopes(
                scope_arg
                    .as_deref()
                    .ok_or("token mint needs --scope \"agent:read …\"")?,
            )?;
            Command::TokenMint {
                state_dir,
                scopes,
                ttl,
            }
        }
        Some("rotate") => Command::TokenRotate { state_dir },
        _ => return Err("usage: parachute-agent token mint|rotate (try --help)".into()),
    };
    Ok(Invocation { command, verbosity })
}

/// Space-separated `agent:*` scopes; anything else is refused (spec 08).
pub fn parse_scopes(s: &str) -> Result<Vec<String>, String> {
    let scopes: Vec<String> = s.split_whitespace().map(str::to_string).collect();
    if scopes.is_empty() {
        return Err(
            "--scope needs at least one of agent:read agent:write agent:send agent:admin".into(),
        );
    }
    if let Some(bad) = scopes.iter().find(|s| Scope::parse(s).is_none()) {
        return Err(format!(
            "unknown scope {bad:?} (known: agent:read agent:write agent:send agent:admin)"
        ));
    }
    Ok(scopes)
}

/// Parses the process arguments, runs the command, returns the exit code.
pub fn main() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    // Hidden: the in-sandbox helper bwrap runs around `claude` (spec 04 §6.3).
    if args
        .first()
        .is_some_and(|a| a == crate::sandbox::helper::SUBCOMMAND)
    {
        return crate::sandbox::helper::run(args[1..].to_vec());
    }
    // Hidden: what tmux runs for an operator session.
    if args
        .first()
        .is_some_and(|a| a == crate::terminal::exec_shim::SUBCOMMAND)
    {
        return crate::terminal::exec_shim::run(args[1..].to_vec());
    }
    let inv = match parse(args) {
        Ok(inv) => inv,
        Err(e) => {
            eprintln!("parachute-agent: {e}");
            return 2;
        }
    };
    crate::logging::init(&config::log_settings(), inv.verbosity);
    match inv.command {
        Command::Help => {
            print!("{USAGE}");
            0
        }
        Command::Version => {
            println!("parachute-agent {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Command::Serve(raw) => match Config::resolve(raw) {
            Ok(cfg) => crate::daemon::serve(cfg),
            Err(e) => {
                eprintln!("parachute-agent: {e}");
                2
            }
        },
        Command::TokenMint {
            state_dir,
            scopes,
            ttl,
        } => token_mint(state_dir, &scopes, ttl),
        Command::TokenRotate { state_dir } => token_rotate(state_dir),
        Command::Doctor { raw, json } => match Config::resolve(raw) {
            Ok(cfg) => crate::doctor::main(&cfg, json),
            Err(e) => {
                eprintln!("parachute-agent: {e}");
                2
            }
        },
        Command::Bridge => crate::bridge::run(crate::bridge::BridgeConfig::new(
            config::BridgeSettings::from_env(),
        )),
        Command::LoginUrl { state_dir, port } => crate::webui::login::print_link(
            &state_dir.unwrap_or_else(config::state_dir_from_env),
            port.unwrap_or_else(config::port_from_env),
        ),
    }
}

fn issuer(state_dir: Option<PathBuf>) -> Result<LocalIssuer, String> {
    let dir = state_dir.unwrap_or_else(config::state_dir_from_env);
    crate::util::fsx::ensure_private_dir(&dir)
        .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(LocalIssuer::new(dir))
}

fn token_mint(state_dir: Option<PathBuf>, scopes: &[String], ttl: Duration) -> i32 {
    match issuer(state_dir).and_then(|i| i.mint(scopes, ttl)) {
        Ok(token) => {
            println!("{token}");
            0
        }
        Err(e) => {
            eprintln!("parachute-agent: {e}");
            1
        }
    }
}

fn token_rotate(state_dir: Option<PathBuf>) -> i32 {
    match issuer(state_dir).and_then(|i| i.rotate()) {
        Ok(()) => {
            eprintln!(
                "parachute-agent: local issuer key rotated; earlier local tokens no longer work"
            );
            0
        }
        Err(e) => {
            eprintln!("parachute-agent: {e}");
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parses_serve_and_token() {
        let inv = parse(args(&["--port", "9000", "-v"])).unwrap();
        assert!(matches!(
            inv.command,
            Command::Serve(RawConfig {
                port: Some(9000),
                ..
            })
        ));
        assert_eq!(inv.verbosity, 1);
        let inv = parse(args(&[
            "token",
            "mint",
            "--scope",
            "agent:read agent:send",
            "--ttl",
            "1h",
        ]))
        .unwrap();
        match inv.command {
            Command::TokenMint { scopes, ttl, .. } => {
                assert_eq!(scopes, vec!["agent:read", "agent:send"]);
                assert_eq!(ttl, Duration::from_secs(3600));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(args(&["token", "mint", "--scope", "agent:root"])).is_err());
        assert!(parse(args(&["bogus"])).is_err());
        assert!(matches!(
            parse(args(&["token", "rotate"])).unwrap().command,
            Command::TokenRotate { .. }
        ));
    }
}
