//! Password hashes: argon2id with the crate's default parameters (OWASP's minimum: 19 MiB,
//! 2 passes), in PHC string form, computed off the async runtime.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The shortest password Berth accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// The longest: hashing cost grows with it, and nobody types more.
pub const MAX_PASSWORD_BYTES: usize = 1024;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("a password may have at most {MAX_PASSWORD_BYTES} bytes")]
    TooLong,
}

pub fn check_strength(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::TooLong);
    }
    Ok(())
}

/// Hashes a password with a fresh salt.
pub async fn hash(password: &str) -> String {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .expect("password hashing does not panic")
}

pub fn hash_blocking(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashes any password within the length limit")
        .to_string()
}

/// Whether `password` matches `phc`. A stored hash that does not parse matches nothing.
pub async fn verify(password: &str, phc: &str) -> bool {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || {
        let Ok(parsed) = PasswordHash::new(&phc) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
    .await
    .expect("password verification does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let phc = hash("correct horse").await;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse", &phc).await);
        assert!(!verify("correct horse!", &phc).await);
        assert!(!verify("correct horse", "not a hash").await);
        assert_ne!(phc, hash("correct horse").await, "salted");
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(check_strength("short"), Err(PasswordError::TooShort));
        assert_eq!(check_strength(&"x".repeat(2000)), Err(PasswordError::TooLong));
        assert_eq!(check_strength("long enough"), Ok(()));
    }
}
