//! The web UI (spec 06 §3, spec 01 §2.1.4): the `/app` files ([`assets`]: embedded, or
//! `--static-dir` on disk), the shell's security headers, and the standalone sign-in by
//! one-time link ([`login`], `parachute-agent login-url` + `POST /api/ui/login`).
//! The two HTTP handlers are `api::app`.

pub mod assets;
pub mod login;

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::local::LocalIssuer;
use crate::security::limiter::RateLimiter;

/// Login-code exchanges admitted per minute, for all clients together (a code has 144
/// random bits, so this only bounds the file work a flood can cause).
pub const LOGIN_ATTEMPTS_PER_MINUTE: usize = 10;

/// What the UI handlers need: where the files come from, the exchange's limiter, and the
/// local issuer that signs the tokens a login code buys.
pub struct WebUi {
    pub source: assets::AssetSource,
    pub state_dir: PathBuf,
    pub login_limiter: RateLimiter,
    pub issuer: LocalIssuer,
}

impl WebUi {
    /// `static_dir` = the `--static-dir` override (its `app/` folder is served), else the
    /// files embedded in the binary.
    pub fn new(static_dir: Option<PathBuf>, state_dir: PathBuf) -> WebUi {
        let source = match static_dir {
            Some(dir) => assets::AssetSource::Dir(dir.join("app")),
            None => assets::AssetSource::Embedded,
        };
        WebUi {
            source,
            issuer: LocalIssuer::new(state_dir.clone()),
            state_dir,
            login_limiter: RateLimiter::new(LOGIN_ATTEMPTS_PER_MINUTE, Duration::from_secs(60)),
        }
    }
}
