//! Step-up PIN (spec 01 §5): the operator's second factor for dangerous admin actions.
//!
//! - Storage: `<state>/step-up.json`, `{"pinHash": "<PHC>"}`, mode 0600, written atomically
//!   (temp + rename), other keys preserved. Re-read on every check, so a hand edit or a
//!   removal takes effect at once. The hash is argon2id v19, m=65536 KiB, t=2, p=1, 32-byte
//!   random salt, 32-byte output, as a PHC string: files written by the reference verify,
//!   and verification takes its parameters from the stored string. A corrupt hash verifies
//!   false (fail closed).
//! - Every hash and verification runs behind one mutex: each allocates 64 MiB, and a burst
//!   of attempts must not exhaust a small host's memory. [ext] A stored hash whose own
//!   parameters exceed 4× ours (memory) or 16 passes/lanes is refused (verifies false)
//!   instead of being computed.
//! - Exchange: 5 attempts per 5 minutes per subject ([`RateLimiter`]); a correct PIN clears
//!   the bucket and mints a reusable step-up token (32 random bytes, base64url) valid for
//!   5 minutes from mint (shorter with `PARACHUTE_AGENT_STEP_UP_TTL_SECS`, spec 08), not
//!   bound to a subject. Tokens are process-local and pruned on mint and on lookup.
//!   The token map is keyed by the token itself; a `HashMap` lookup keyed with per-process
//!   random SipHash keys leaks no usable timing about other 256-bit tokens.
//! - [`StepUpStore::gate`] is the check behind `require_step_up`, with its two distinct
//!   refusals: no PIN yet (`setup`) and no valid token (`token`).

use super::limiter::{RateLimiter, RetryAfter};
use crate::util::{fsx, rand, time};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use parking_lot::Mutex;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// File name inside the state dir.
pub const FILE_NAME: &str = "step-up.json";
/// Default and maximum step-up token lifetime (spec 01 §5.3).
pub const MAX_TTL: Duration = Duration::from_secs(300);
/// Argon2 parameters of newly set PINs (spec 01 §5.1).
pub const M_COST_KIB: u32 = 65536;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
const SALT_LEN: usize = 32;
const HASH_LEN: usize = 32;

/// Refusals and failures of the step-up operations; the HTTP layer maps them once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepUpError {
    /// No PIN configured → 409 `step_up_not_configured`.
    NotConfigured,
    /// Too many attempts → 429 `rate_limited` with `retry-after`.
    RateLimited(RetryAfter),
    /// Wrong PIN on exchange → 401 `invalid_pin` ("incorrect PIN").
    InvalidPin,
    /// Rotation with a missing or wrong current PIN → 401 `invalid_pin`.
    CurrentPinRequired,
    /// New PIN not 4–12 ASCII digits → 400.
    BadNewPin,
    /// `step-up.json` unreadable or malformed → 500.
    Storage(String),
    /// Writing the new hash failed → 500 `failed to set PIN: <msg>`.
    WriteFailed(String),
}

impl std::fmt::Display for StepUpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepUpError::NotConfigured => f.write_str("step-up PIN not configured"),
            StepUpError::RateLimited(r) => write!(f, "rate limited for {}s", r.seconds),
            StepUpError::InvalidPin => f.write_str("incorrect PIN"),
            StepUpError::CurrentPinRequired => {
                f.write_str("the current PIN is required to change it")
            }
            StepUpError::BadNewPin => f.write_str("PIN must be 4–12 digits"),
            StepUpError::Storage(m) => write!(f, "step-up state unreadable: {m}"),
            StepUpError::WriteFailed(m) => write!(f, "failed to set PIN: {m}"),
        }
    }
}

impl std::error::Error for StepUpError {}

/// Why the gate refused (spec 01 §5.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateError {
    /// No PIN configured → 403 `step_up_required`, `reason: "setup"`.
    Setup,
    /// Token missing, unknown or expired → 403 `step_up_required`, `reason: "token"`.
    Token,
    /// `step-up.json` unreadable or malformed → 500.
    Storage(String),
}

/// A freshly minted step-up token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedStepUp {
    pub token: String,
    /// Expiry in the wire format (`toISOString()`).
    pub expires_at: String,
}

/// `^[0-9]{4,12}$` (spec 01 §5.2).
pub fn pin_format_ok(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// The rate-limiter key of a subject (exchange and rotation share it).
fn limiter_key(subject: &str) -> String {
    format!("step-up:{subject}")
}

/// The step-up PIN file, the token map and the attempt limiter.
pub struct StepUpStore {
    path: PathBuf,
    ttl: Duration,
    argon: ArgonGate,
    file: Mutex<()>,
    tokens: Mutex<HashMap<String, Instant>>,
    limiter: RateLimiter,
}

impl StepUpStore {
    /// A store over `<state_dir>/step-up.json` whose tokens live `ttl` (clamped to 5 min).
    pub fn new(state_dir: &Path, ttl: Duration) -> Self {
        StepUpStore {
            path: state_dir.join(FILE_NAME),
            ttl: ttl.min(MAX_TTL),
            argon: ArgonGate::default(),
            file: Mutex::new(()),
            tokens: Mutex::new(HashMap::new()),
            limiter: RateLimiter::default(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Whether a PIN is set: the file exists and `pinHash` is a non-empty string.
    pub fn is_configured(&self) -> Result<bool, StepUpError> {
        Ok(self.pin_hash()?.is_some())
    }

    /// Exchange a PIN for a step-up token (spec 01 §5.4 steps 5–7; the route has done
    /// auth, the configured check and body parsing).
    pub fn exchange(&self, subject: &str, pin: &str) -> Result<MintedStepUp, StepUpError> {
        let key = limiter_key(subject);
        self.limiter
            .attempt(&key)
            .map_err(StepUpError::RateLimited)?;
        let hash = self.pin_hash()?.ok_or(StepUpError::NotConfigured)?;
        if !self.verify(pin, &hash) {
            return Err(StepUpError::InvalidPin);
        }
        self.limiter.clear(&key);
        Ok(self.mint_token())
    }

    /// Set the first PIN, or rotate it with the current one (spec 01 §5.4 steps 3–5).
    /// `current_pin` is `None` when the body had no string `currentPin`; on a configured
    /// store that still consumes an attempt.
    pub fn set_pin(
        &self,
        subject: &str,
        new_pin: &str,
        current_pin: Option<&str>,
    ) -> Result<(), StepUpError> {
        if !pin_format_ok(new_pin) {
            return Err(StepUpError::BadNewPin);
        }
        if let Some(hash) = self.pin_hash()? {
            let key = limiter_key(subject);
            self.limiter
                .attempt(&key)
                .map_err(StepUpError::RateLimited)?;
            let ok = current_pin.is_some_and(|pin| self.verify(pin, &hash));
            if !ok {
                return Err(StepUpError::CurrentPinRequired);
            }
            self.limiter.clear(&key);
        }
        let phc = self.hash(new_pin)?;
        self.write_hash(&phc)
    }

    /// The gate behind `require_step_up` (spec 01 §5.6).
    pub fn gate(&self, token: Option<&str>) -> Result<(), GateError> {
        match self.pin_hash() {
            Err(e) => Err(GateError::Storage(e.to_string())),
            Ok(None) => Err(GateError::Setup),
            Ok(Some(_)) if token.is_some_and(|t| self.token_valid(t)) => Ok(()),
            Ok(Some(_)) => Err(GateError::Token),
        }
    }

    /// Whether `token` is a live step-up token (reusable until its fixed expiry).
    pub fn token_valid(&self, token: &str) -> bool {
        if token.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut tokens = self.tokens.lock();
        match tokens.get(token) {
            Some(&expires) if now < expires => true,
            Some(_) => {
                tokens.remove(token);
                false
            }
            None => false,
        }
    }

    fn mint_token(&self) -> MintedStepUp {
        let token = rand::token(32);
        let now = Instant::now();
        let expires_at = time::iso_from_ms(time::now_ms() + self.ttl.as_millis() as u64);
        let mut tokens = self.tokens.lock();
        tokens.retain(|_, &mut exp| exp > now);
        tokens.insert(token.clone(), now + self.ttl);
        MintedStepUp { token, expires_at }
    }

    /// `pinHash` of the file: `None` when absent or empty.
    fn pin_hash(&self) -> Result<Option<String>, StepUpError> {
        let doc = self.read_doc()?;
        Ok(doc
            .get("pinHash")
            .and_then(Value::as_str)
            .filter(|h| !h.is_empty())
            .map(String::from))
    }

    fn read_doc(&self) -> Result<Map<String, Value>, StepUpError> {
        let text = fsx::read_optional(&self.path)
            .map_err(|e| StepUpError::Storage(format!("{}: {e}", self.path.display())))?;
        let Some(text) = text else {
            return Ok(Map::new());
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(StepUpError::Storage(format!(
                "{} must be a JSON object",
                self.path.display()
            ))),
            Err(e) => Err(StepUpError::Storage(format!(
                "{}: {e}",
                self.path.display()
            ))),
        }
    }

    fn write_hash(&self, phc: &str) -> Result<(), StepUpError> {
        let _guard = self.file.lock();
        let mut doc = self
            .read_doc()
            .map_err(|e| StepUpError::WriteFailed(e.to_string()))?;
        doc.insert("pinHash".into(), Value::String(phc.to_string()));
        fsx::write_json_atomic(&self.path, &doc, fsx::PRIVATE_FILE)
            .map_err(|e| StepUpError::WriteFailed(e.to_string()))
    }

    fn hash(&self, pin: &str) -> Result<String, StepUpError> {
        let salt = SaltString::encode_b64(&rand::bytes(SALT_LEN))
            .map_err(|e| StepUpError::WriteFailed(e.to_string()))?;
        let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(HASH_LEN))
            .map_err(|e| StepUpError::WriteFailed(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        self.argon.run(|| {
            argon
                .hash_password(pin.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| StepUpError::WriteFailed(e.to_string()))
        })
    }

    /// Verify `pin` against a PHC string, with the parameters the string names.
    pub fn verify(&self, pin: &str, phc: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(phc) else {
            return false;
        };
        if !params_affordable(&parsed) {
            log::warn!("step-up: stored PIN hash asks for more than {MAX_VERIFY_M_KIB} KiB or excessive passes; refusing to verify");
            return false;
        }
        self.argon.run(|| {
            Argon2::default()
                .verify_password(pin.as_bytes(), &parsed)
                .is_ok()
        })
    }
}

/// Largest memory cost a stored hash may ask for (4× ours). [ext] A hand-edited
/// `step-up.json` naming gigabytes would otherwise make every PIN check allocate them.
pub const MAX_VERIFY_M_KIB: u32 = 4 * M_COST_KIB;
const MAX_VERIFY_T: u32 = 16;
const MAX_VERIFY_P: u32 = 16;

fn params_affordable(hash: &PasswordHash<'_>) -> bool {
    let get = |name: &str, max: u32| hash.params.get_decimal(name).is_none_or(|v| v <= max);
    get("m", MAX_VERIFY_M_KIB) && get("t", MAX_VERIFY_T) && get("p", MAX_VERIFY_P)
}

/// Runs argon2 computations one at a time (each allocates its memory cost, 64 MiB for
/// ours) and records the peak number ever running at once, which tests check stays 1.
#[derive(Default)]
struct ArgonGate {
    lock: Mutex<()>,
    running: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

impl ArgonGate {
    fn run<T>(&self, work: impl FnOnce() -> T) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        let _serial = self.lock.lock();
        let now = self.running.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
        let out = work();
        self.running.fetch_sub(1, SeqCst);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// Produced by the Argon2 reference implementation (the `argon2` CLI of the PHC
    /// winners' C code): `echo -n 482913 | argon2 "reference-salt-32-bytes-long!!!!" -id
    /// -m 16 -t 2 -p 1 -l 32 -e` — the exact format the reference daemon writes.
    const REFERENCE_PHC: &str = "$argon2id$v=19$m=65536,t=2,p=1$cmVmZXJlbmNlLXNhbHQtMzItYnl0ZXMtbG9uZyEhISE$hEjknBTaI6+ZMM0l3JPvzPlY4Vas7ek6iYbQC7dulnA";
    /// Same tool, other parameters (m=4096, t=3, 16-byte salt) and PIN `0000`.
    const OTHER_PARAMS_PHC: &str = "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQxNmJ5dGVzIQ$8pVCa/G6l0K4BUh13IOo3efY24v8zWAWDf1T6I5MYjo";

    fn store() -> (tempfile::TempDir, StepUpStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = StepUpStore::new(dir.path(), MAX_TTL);
        (dir, s)
    }

    #[test]
    fn reference_format_file_verifies() {
        let (dir, s) = store();
        let doc = format!("{{\n  \"pinHash\": \"{REFERENCE_PHC}\",\n  \"note\": \"kept\"\n}}\n");
        std::fs::write(dir.path().join(FILE_NAME), doc).unwrap();
        assert!(s.is_configured().unwrap());
        assert_eq!(s.exchange("op", "482914"), Err(StepUpError::InvalidPin));
        let minted = s.exchange("op", "482913").unwrap();
        assert_eq!(minted.token.len(), 43);
        assert!(s.verify("0000", OTHER_PARAMS_PHC));
        assert!(!s.verify("0001", OTHER_PARAMS_PHC));
        assert!(!s.verify("482913", "$argon2id$v=19$garbage"));
        assert!(!s.verify("482913", ""));
    }

    #[test]
    fn set_pin_writes_reference_format_0600_and_preserves_keys() {
        let (dir, s) = store();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{\"other\": 1}").unwrap();
        s.set_pin("op", "123456", None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let hash = doc["pinHash"].as_str().unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$"),
            "{hash}"
        );
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts[4].len(), 43, "32-byte salt, base64 no padding");
        assert_eq!(parts[5].len(), 43, "32-byte output");
        assert_eq!(doc["other"], 1);
        assert!(!text.contains("123456"));
        assert!(text.ends_with("}\n"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(s.verify("123456", hash));
        // Same PIN again: different salt, different hash; rotation needs the current PIN.
        s.set_pin("op", "123456", Some("123456")).unwrap();
        let again: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_ne!(again["pinHash"].as_str().unwrap(), hash);
    }

    #[test]
    fn rotation_rules_and_formats() {
        let (_dir, s) = store();
        for bad in ["12", "1234567890123", "12a4", "", "١٢٣٤"] {
            assert_eq!(s.set_pin("op", bad, None), Err(StepUpError::BadNewPin));
        }
        s.set_pin("op", "1111", None).unwrap();
        assert_eq!(
            s.set_pin("op", "2222", None),
            Err(StepUpError::CurrentPinRequired)
        );
        assert_eq!(
            s.set_pin("op", "2222", Some("9999")),
            Err(StepUpError::CurrentPinRequired)
        );
        s.set_pin("op", "2222", Some("1111")).unwrap();
        assert_eq!(s.exchange("op", "1111"), Err(StepUpError::InvalidPin));
        assert!(s.exchange("op", "2222").is_ok());
    }

    #[test]
    fn lockout_after_five_wrong_and_correct_pin_clears() {
        let (_dir, s) = store();
        s.set_pin("op", "4321", None).unwrap();
        for _ in 0..4 {
            assert_eq!(s.exchange("op", "0000"), Err(StepUpError::InvalidPin));
        }
        assert!(s.exchange("op", "4321").is_ok(), "4 wrong then right");
        for _ in 0..5 {
            assert_eq!(s.exchange("op", "0000"), Err(StepUpError::InvalidPin));
        }
        match s.exchange("op", "4321") {
            Err(StepUpError::RateLimited(r)) => assert!(r.seconds >= 1 && r.seconds <= 300),
            other => panic!("expected rate limit, got {other:?}"),
        }
        // Rotation shares the bucket; another subject does not.
        assert!(matches!(
            s.set_pin("op", "5555", Some("4321")),
            Err(StepUpError::RateLimited(_))
        ));
        assert!(s.exchange("someone-else", "4321").is_ok());
    }

    #[test]
    fn gate_reasons_and_token_lifetime() {
        let (dir, s) = store();
        assert_eq!(s.gate(None), Err(GateError::Setup));
        assert_eq!(s.gate(Some("whatever")), Err(GateError::Setup));
        s.set_pin("op", "8888", None).unwrap();
        assert_eq!(s.gate(None), Err(GateError::Token));
        assert_eq!(s.gate(Some("")), Err(GateError::Token));
        assert_eq!(s.gate(Some("unknown")), Err(GateError::Token));
        let t = s.exchange("op", "8888").unwrap().token;
        assert_eq!(s.gate(Some(&t)), Ok(()));
        assert_eq!(s.gate(Some(&t)), Ok(()), "reusable");
        // A zero TTL expires at mint (at/after expiry is invalid).
        let short = StepUpStore::new(dir.path(), Duration::ZERO);
        let t = short.exchange("op", "8888").unwrap().token;
        assert_eq!(short.gate(Some(&t)), Err(GateError::Token));
        // Malformed file: a storage error, not a silent "not configured".
        std::fs::write(dir.path().join(FILE_NAME), "{nope").unwrap();
        assert!(matches!(s.gate(Some(&t)), Err(GateError::Storage(_))));
        assert!(matches!(
            s.exchange("op", "8888"),
            Err(StepUpError::Storage(_))
        ));
    }

    #[test]
    fn argon_work_never_overlaps() {
        let (_dir, s) = store();
        let s = std::sync::Arc::new(s);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        assert!(s.verify("0000", OTHER_PARAMS_PHC));
                    }
                })
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(s.argon.peak.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn unaffordable_stored_params_fail_closed_without_computing() {
        let (_dir, s) = store();
        let huge = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQxNmJ5dGVzIQ$8pVCa/G6l0K4BUh13IOo3efY24v8zWAWDf1T6I5MYjo";
        let started = Instant::now();
        assert!(!s.verify("0000", huge));
        assert!(started.elapsed() < Duration::from_secs(1));
        assert_eq!(s.argon.peak.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[test]
    fn ttl_clamped_to_five_minutes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            StepUpStore::new(dir.path(), Duration::from_secs(3600)).ttl(),
            MAX_TTL
        );
    }
}
