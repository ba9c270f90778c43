//! Randomness from the operating system, for tokens, keys' serials and ids.

/// Fills `bytes` from the OS random number generator.
pub fn fill(bytes: &mut [u8]) {
    // The OS RNG failing means the machine cannot do any cryptography at all; there is no
    // meaningful way to continue, so this is the one place we stop.
    #[allow(clippy::expect_used)]
    getrandom::fill(bytes).expect("the operating system's random number generator failed");
}

/// `byte_count` random bytes as URL-safe text (lowercase hex), for secrets shown to people.
pub fn token_text(byte_count: usize) -> String {
    let mut bytes = vec![0u8; byte_count];
    fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a secret, for storing tokens and keys without storing them.
pub fn sha256(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}
