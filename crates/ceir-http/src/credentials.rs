//! Local credentials: argon2id password hashes and RFC 6238 one-time codes.
//!
//! This is the only module that sees a password or a TOTP secret in the clear. Nothing here logs.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use ceir_domain::Timestamp;
use std::sync::OnceLock;
use totp_rs::{Secret, TOTP};

/// OWASP's first argon2id configuration: 19 MiB, two passes, one lane.
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
/// Passwords shorter than this are refused when set; the NIST SP 800-63B minimum.
pub const MIN_PASSWORD_LEN: usize = 12;

/// RFC 6238 defaults, which every authenticator app understands.
const TOTP_DIGITS: usize = 6;
const TOTP_STEP_S: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the password must have at least {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error("cannot make a TOTP key: {0}")]
    Totp(String),
}

fn argon2() -> Result<Argon2<'static>, CredentialError> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| CredentialError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a new password into a PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash_password(password: &str) -> Result<String, CredentialError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(CredentialError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| CredentialError::Hash(e.to_string()))
}

/// Does `password` match the stored PHC string? The parameters come from the string, so hashes
/// made with older parameters keep working. A malformed stored hash never matches.
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// Spends the time of one verification against a hash of nothing anyone knows, so that a
/// sign-in as a user who does not exist (or is locked) takes as long as a wrong password.
pub fn spend_verification_time(password: &str) {
    static DUMMY: OnceLock<Option<String>> = OnceLock::new();
    let dummy = DUMMY.get_or_init(|| {
        use rand::distributions::{Alphanumeric, DistString};
        hash_password(&Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32)).ok()
    });
    if let Some(h) = dummy {
        let _ = verify_password(password, h);
    }
}

fn totp(secret_b32: &str, account: &str, issuer: &str) -> Result<TOTP, CredentialError> {
    let bytes = Secret::Encoded(secret_b32.to_owned())
        .to_bytes()
        .map_err(|e| CredentialError::Totp(format!("{e:?}")))?;
    // The otpauth label may not contain ':'.
    let account = account.replace(':', "_");
    TOTP::new(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        1,
        TOTP_STEP_S,
        bytes,
        Some(issuer.to_owned()),
        account,
    )
    .map_err(|e| CredentialError::Totp(e.to_string()))
}

/// A new TOTP key: its base32 secret (to store) and the `otpauth://` URI to show once.
pub fn new_totp(account: &str, issuer: &str) -> Result<(String, String), CredentialError> {
    let mut bytes = [0u8; 20];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let secret = Secret::Raw(bytes.to_vec()).to_encoded().to_string();
    let uri = totp(&secret, account, issuer)?.get_url();
    Ok((secret, uri))
}

/// The code for a given time (for tests and for the demo's own check).
pub fn totp_code(secret_b32: &str, at: Timestamp) -> Result<String, CredentialError> {
    Ok(totp(secret_b32, "x", "ceir")?.generate(unix_seconds(at)))
}

fn unix_seconds(t: Timestamp) -> u64 {
    u64::try_from(t.millis() / 1000).unwrap_or(0)
}

/// Checks a code against the steps around `now` (one step either side, for clock drift) and
/// returns the matched step, which the caller records so the same code cannot be used twice.
pub fn verify_totp(secret_b32: &str, code: &str, now: Timestamp) -> Option<i64> {
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret_b32, "x", "ceir").ok()?;
    let now_s = unix_seconds(now);
    let mut found = None;
    // Every candidate is compared, whatever matched, so timing does not tell which step did.
    for delta in [-1i64, 0, 1] {
        let Some(at) = now_s.checked_add_signed(delta * TOTP_STEP_S as i64) else {
            continue;
        };
        if constant_time_eq::constant_time_eq(t.generate(at).as_bytes(), code.as_bytes()) {
            found = i64::try_from(at / TOTP_STEP_S).ok();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(CredentialError::TooShort)
        ));
        assert_ne!(h, hash_password("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn totp_accepts_one_step_of_drift_and_names_the_step() {
        let (secret, uri) = new_totp("regulator/admin", "ceir AZ").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{uri}");
        assert!(uri.contains(&format!("secret={secret}")), "{uri}");
        let t0 = Timestamp(1_790_000_010_000);
        let step = 1_790_000_010 / 30;
        let code = totp_code(&secret, t0).unwrap();
        assert_eq!(verify_totp(&secret, &code, t0), Some(step));
        assert_eq!(
            verify_totp(&secret, &code, Timestamp(t0.0 + 30_000)),
            Some(step)
        );
        assert_eq!(
            verify_totp(&secret, &code, Timestamp(t0.0 - 30_000)),
            Some(step)
        );
        assert_eq!(verify_totp(&secret, &code, Timestamp(t0.0 + 60_000)), None);
        assert_eq!(verify_totp(&secret, "12345", t0), None);
        assert_eq!(verify_totp(&secret, "abcdef", t0), None);
    }
}
