//! Staff authentication: argon2 password hashes, session tokens (random, stored hashed) with
//! a CSRF token each, and the rules for failed sign-ins.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::random;

/// Sign-ins for one account are free for this many failures within `FAILURE_WINDOW_MS`, from
/// any address; after that each attempt must wait `ACCOUNT_BACKOFF_BASE_MS` after the last
/// one, doubling with every further failure up to `ACCOUNT_BACKOFF_CAP_MS`. A delay, never a
/// lock: attempts refused while waiting are not counted, and failures older than the window
/// are forgotten, so the owner gets in at most the cap after a guesser's last try.
pub const ACCOUNT_FREE_FAILURES: u32 = 5;
pub const ACCOUNT_BACKOFF_BASE_MS: i64 = 30 * 1000;
pub const ACCOUNT_BACKOFF_CAP_MS: i64 = 10 * 60 * 1000;
/// Sign-ins refused from one client address after this many attempts for any names within
/// the window (password spraying), as a second layer.
pub const MAX_FAILURES_FROM_PEER: u32 = 30;
/// Longest name and password looked at; longer ones are refused before any hashing.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Password checks at once: argon2 takes memory and time on purpose.
pub const CONCURRENT_CHECKS: usize = 4;
pub const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// A session lasts a working day.
pub const SESSION_TTL_MS: i64 = 12 * 3600 * 1000;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "firstline_session";
/// Shortest password accepted by `user add`.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("hashing the password: {0}")]
    Hash(String),
}

/// An argon2id hash (PHC string) of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    random::fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches the stored hash. A hash that does not parse never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashing a password for an unknown user too keeps sign-in time from telling which names
/// exist.
pub fn burn_time(password: &str) {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_password("not-a-real-password").unwrap_or_default());
    let _ = verify_password(password, dummy);
}

/// How long an account must wait after its last failed sign-in, given `failures` within the
/// window before this attempt.
pub fn account_backoff_ms(failures: u32) -> i64 {
    if failures < ACCOUNT_FREE_FAILURES {
        return 0;
    }
    let doublings = (failures - ACCOUNT_FREE_FAILURES).min(30);
    ACCOUNT_BACKOFF_BASE_MS
        .saturating_mul(1_i64 << doublings)
        .min(ACCOUNT_BACKOFF_CAP_MS)
}

/// A new session: the cookie's token (shown once) and its CSRF token.
pub fn new_session_tokens() -> (String, String) {
    (random::token_text(32), random::token_text(24))
}

/// Whether the CSRF token a request presented (header or form field) is the session's.
pub fn csrf_matches(presented: Option<&str>, expected: &str) -> bool {
    constant_time_eq(
        presented.unwrap_or_default().as_bytes(),
        expected.as_bytes(),
    )
}

/// The Set-Cookie value that ends the session cookie in the browser.
pub fn expired_session_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly;{} SameSite=Strict; Max-Age=0",
        secure_attribute(secure)
    )
}

/// ` Secure` for a collector browsers reach over HTTPS (`public_url`). Over plain HTTP a
/// browser drops a Secure cookie (except on localhost), and signing in would fail without a
/// word; there the cookie goes without it, and the sign-in page says the link is unencrypted.
pub fn secure_attribute(secure: bool) -> &'static str {
    if secure { " Secure;" } else { "" }
}

/// Equal without telling, by its timing, how much of it matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterx", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(PasswordError::TooShort)
        ));
        assert_ne!(
            hash,
            hash_password("correct horse battery").expect("hash"),
            "salted"
        );
    }

    #[test]
    fn the_account_backoff_grows_to_its_cap() {
        let cases = [
            (0, 0),
            (4, 0),
            (5, 30_000),
            (6, 60_000),
            (7, 120_000),
            (9, 480_000),
            (10, 600_000),
            (40, 600_000),
            (u32::MAX, 600_000),
        ];
        for (failures, delay_ms) in cases {
            assert_eq!(
                account_backoff_ms(failures),
                delay_ms,
                "{failures} failures"
            );
        }
    }

    #[test]
    fn tokens_compare_in_constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
