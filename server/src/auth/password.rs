//! Password hashes: argon2id with the crate's default parameters (OWASP's minimum: 19 MiB,
//! 2 passes), in PHC string form, computed off the async runtime by [`Argon2Gate`], which bounds
//! how many run at once.
//!
//! Each hash or verification costs about 19 MiB and tens of milliseconds of a core, on purpose.
//! Unbounded, a burst of sign-ins (each a verification, wrong password or not) would take every
//! blocking thread and as much memory as the burst is large; bounded, excess work waits its turn
//! for a while and is then turned away as "busy" (503), which costs the server nothing.

use std::time::Duration;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

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

/// Every argon2 computation waited longer than its bound for a free slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy verifying passwords")]
pub struct Busy;

/// At most `permits` argon2 computations at once; the others wait for a slot at most `wait`.
#[derive(Debug)]
pub struct Argon2Gate {
    permits: Semaphore,
    wait: Duration,
}

impl Argon2Gate {
    pub fn new(permits: usize, wait: Duration) -> Argon2Gate {
        Argon2Gate {
            permits: Semaphore::new(permits.max(1)),
            wait,
        }
    }

    /// Hashes a password with a fresh salt.
    pub async fn hash(&self, password: &str) -> Result<String, Busy> {
        let password = password.to_owned();
        self.run(move || hash_blocking(&password)).await
    }

    /// Whether `password` matches `phc`. A stored hash that does not parse matches nothing.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, Busy> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.run(move || verify_blocking(&password, &phc)).await
    }

    /// Runs `work` on the blocking pool once a slot is free (the semaphore is fair: first come,
    /// first served), or gives up after the wait.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, self.permits.acquire())
            .await
            .map_err(|_| Busy)?
            .expect("the semaphore is never closed");
        let result = tokio::task::spawn_blocking(work)
            .await
            .expect("argon2 does not panic");
        drop(permit);
        Ok(result)
    }
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

fn verify_blocking(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let gate = Argon2Gate::new(2, Duration::from_secs(60));
        let phc = gate.hash("correct horse").await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(gate.verify("correct horse", &phc).await, Ok(true));
        assert_eq!(gate.verify("correct horse!", &phc).await, Ok(false));
        assert_eq!(gate.verify("correct horse", "not a hash").await, Ok(false));
        assert_ne!(phc, gate.hash("correct horse").await.unwrap(), "salted");
    }

    #[tokio::test]
    async fn work_beyond_the_bound_waits_then_is_turned_away() {
        // One slot, taken; a computation that may not wait is refused without running.
        let gate = Arc::new(Argon2Gate::new(1, Duration::ZERO));
        let held = gate.permits.acquire().await.unwrap();
        assert_eq!(gate.verify("x", "not a hash").await, Err(Busy));
        drop(held);
        assert_eq!(gate.verify("x", "not a hash").await, Ok(false));
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert_eq!(check_strength("short"), Err(PasswordError::TooShort));
        assert_eq!(check_strength(&"x".repeat(2000)), Err(PasswordError::TooLong));
        assert_eq!(check_strength("long enough"), Ok(()));
    }
}
