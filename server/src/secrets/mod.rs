//! Secrets Berth keeps at rest: connections' TLS client keys, sealed in the store with a key
//! kept outside it, so that a backup of the database, `berth store copy` or a read of the
//! `connections` table yields ciphertext only.
//!
//! - Here: [`SecretKey`], the key of the secret key file, and [`ClientKey`], a TLS client key
//!   in the clear while a connection is added or its client is built. Both are wiped from
//!   memory when dropped and print as `[redacted]`.
//! - `sealed.rs`: the stored form of a client key (`v1:KEY-ID:BASE64`, XChaCha20-Poly1305
//!   with the connection's name as associated data) and what opening one can say.
//! - `key_file.rs`: `--secret-key-file` (default `secret.key` in the data directory): read,
//!   created with mode 0600 when the store holds nothing sealed yet, replaced by a rekey.
//!
//! What the store holds and who opens it is `services/connections.rs`, the only place a client
//! key is sealed or opened.

pub mod key_file;
mod sealed;

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

pub use key_file::{KeyFileError, SecretKeyArgs, KEY_FILE};
pub use sealed::{open, seal, SealError, StoredForm};

/// Bytes of a secret key (XChaCha20-Poly1305's key).
const KEY_BYTES: usize = 32;

/// The key that seals client keys. Its id (a digest of the key, safe to show) is written
/// beside every ciphertext, so a wrong key file is named as such instead of failing to
/// authenticate.
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_BYTES]>,
    id: String,
    /// The file it was read from (for messages); `None` for a key made in memory.
    file: Option<PathBuf>,
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::fill(bytes.as_mut()).expect("the operating system provides randomness");
        SecretKey::from_bytes(bytes, None)
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_BYTES]>, file: Option<PathBuf>) -> SecretKey {
        let mut digest = Sha256::new();
        digest.update(b"berth secret key id\n");
        digest.update(bytes.as_ref());
        let id = hex::encode(&digest.finalize()[..8]);
        SecretKey { bytes, id, file }
    }

    /// Sixteen hex digits that tell keys apart and reveal nothing of them.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the key was read from, for messages.
    pub fn describe(&self) -> String {
        match &self.file {
            Some(path) => path.display().to_string(),
            None => format!("(key {})", self.id),
        }
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn bytes(&self) -> &[u8; KEY_BYTES] {
        &self.bytes
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("id", &self.id)
            .field("bytes", &"[redacted]")
            .field("file", &self.file)
            .finish()
    }
}

/// A TLS client key (PEM) in the clear: only while a connection is added (before it is sealed)
/// and while its client is built (after it is opened).
pub struct ClientKey(Zeroizing<String>);

impl ClientKey {
    pub fn new(pem: String) -> ClientKey {
        ClientKey(Zeroizing::new(pem))
    }

    /// The PEM text, for the TLS configuration that needs it.
    pub fn pem(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_no_key_material() {
        let key = SecretKey::generate();
        let printed = format!("{key:?}");
        assert!(
            printed.contains(key.id()) && printed.contains("[redacted]"),
            "{printed}"
        );
        assert!(!printed.contains(&hex::encode(key.bytes())), "{printed}");
        let pem = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            format!("{:?}", ClientKey::new(pem.into())),
            "ClientKey([redacted])"
        );
    }

    #[test]
    fn key_ids_differ_between_keys_and_stay_for_one() {
        let (a, b) = (SecretKey::generate(), SecretKey::generate());
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id().len(), 16);
        let again = SecretKey::from_bytes(Zeroizing::new(*a.bytes()), None);
        assert_eq!(again.id(), a.id());
    }
}
