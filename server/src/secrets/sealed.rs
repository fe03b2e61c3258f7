//! The stored form of a connection's client key: `v1:KEY-ID:BASE64`, where BASE64 is the
//! 24-byte nonce followed by the XChaCha20-Poly1305 ciphertext and tag of the PEM.
//!
//! - A fresh random nonce per seal: 192 bits never repeat in practice, so no counter has to be
//!   kept (or kept in step between replicas).
//! - The connection's name is the associated data: a sealed key copied onto another row does
//!   not open there.
//! - The key id says which key sealed it: a wrong key file is told apart from an altered value.
//! - The version prefix tells a sealed value from the PEM an older Berth stored in the clear
//!   (recognised, and sealed at start) and from a format a newer Berth may write.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::{ClientKey, SecretKey};

/// The format this Berth writes.
const VERSION: &str = "v1";
const NONCE_BYTES: usize = 24;
/// Authenticated with every ciphertext, so that a key sealed for one purpose or connection
/// opens for no other.
const ASSOCIATED_DATA: &[u8] = b"berth connection client key\n";

/// What a connection's stored client key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredForm<'s> {
    /// Sealed with the key of this id.
    Sealed { key_id: &'s str, payload: &'s str },
    /// A PEM in the clear, as Berth stored it before keys were sealed.
    Clear,
    /// A version this Berth does not know (a newer Berth wrote it).
    Unknown { version: &'s str },
}

impl<'s> StoredForm<'s> {
    pub fn of(stored: &'s str) -> StoredForm<'s> {
        let Some((version, rest)) = stored.split_once(':') else {
            return StoredForm::Clear;
        };
        let versioned = version.len() > 1
            && version.starts_with('v')
            && version[1..].bytes().all(|byte| byte.is_ascii_digit());
        if !versioned {
            return StoredForm::Clear;
        }
        match (version, rest.split_once(':')) {
            (VERSION, Some((key_id, payload))) => StoredForm::Sealed { key_id, payload },
            _ => StoredForm::Unknown { version },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error(
        "the secret key file {file} does not decrypt connection {connection:?}: its client key was \
         sealed with key {sealed_with}, the file holds key {have}. Was the file replaced? Restore \
         the file with key {sealed_with} (an interrupted `berth connection rekey` leaves the keys \
         in {file}.new and {file}.old), or remove the connection and add it again"
    )]
    OtherKey {
        connection: String,
        file: String,
        sealed_with: String,
        have: String,
    },
    #[error(
        "connection {connection:?}'s client key does not open with the secret key file {file}, \
         whose key sealed it: the stored value was altered or copied from another connection; \
         remove the connection and add it again"
    )]
    Altered { connection: String, file: String },
    #[error(
        "connection {connection:?}'s client key is stored in a format this Berth does not know \
         ({version}): a newer Berth wrote it"
    )]
    NewerFormat { connection: String, version: String },
}

/// `client_key` sealed under `key` for the connection named `connection`.
pub fn seal(key: &SecretKey, connection: &str, client_key: &ClientKey) -> String {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce).expect("the operating system provides randomness");
    let nonce = XNonce::from(nonce);
    let ciphertext = cipher(key)
        .encrypt(
            &nonce,
            Payload {
                msg: client_key.pem().as_bytes(),
                aad: &associated_data(connection),
            },
        )
        .expect("a client key is far below the cipher's length limit");
    let mut sealed = nonce.to_vec();
    sealed.extend_from_slice(&ciphertext);
    format!("{VERSION}:{}:{}", key.id(), STANDARD.encode(sealed))
}

/// The client key `stored` for the connection `connection`, opened with `key`. A key in the
/// clear (an older Berth's, not sealed yet) is answered as it is.
pub fn open(key: &SecretKey, connection: &str, stored: &str) -> Result<ClientKey, SealError> {
    let (key_id, payload) = match StoredForm::of(stored) {
        StoredForm::Clear => return Ok(ClientKey::new(stored.to_owned())),
        StoredForm::Unknown { version } => {
            return Err(SealError::NewerFormat {
                connection: connection.to_owned(),
                version: version.to_owned(),
            })
        }
        StoredForm::Sealed { key_id, payload } => (key_id, payload),
    };
    if key_id != key.id() {
        return Err(SealError::OtherKey {
            connection: connection.to_owned(),
            file: key.describe(),
            sealed_with: key_id.to_owned(),
            have: key.id().to_owned(),
        });
    }
    let altered = || SealError::Altered {
        connection: connection.to_owned(),
        file: key.describe(),
    };
    let sealed = STANDARD.decode(payload).map_err(|_| altered())?;
    if sealed.len() < NONCE_BYTES {
        return Err(altered());
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
    let nonce = XNonce::try_from(nonce).map_err(|_| altered())?;
    let plain = cipher(key)
        .decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad: &associated_data(connection),
            },
        )
        .map_err(|_| altered())?;
    let pem = String::from_utf8(plain).map_err(|_| altered())?;
    Ok(ClientKey::new(pem))
}

fn cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new_from_slice(key.bytes()).expect("a secret key has the cipher's key length")
}

fn associated_data(connection: &str) -> Vec<u8> {
    let mut data = ASSOCIATED_DATA.to_vec();
    data.extend_from_slice(connection.as_bytes());
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &str =
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n";

    #[test]
    fn a_sealed_key_opens_with_its_key_and_name_only() {
        let key = SecretKey::generate();
        let sealed = seal(&key, "prod", &ClientKey::new(PEM.into()));
        assert!(sealed.starts_with(&format!("v1:{}:", key.id())), "{sealed}");
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_eq!(open(&key, "prod", &sealed).unwrap().pem(), PEM);

        let moved = open(&key, "lab", &sealed).unwrap_err();
        assert!(matches!(moved, SealError::Altered { .. }), "{moved}");

        let other = SecretKey::generate();
        let wrong = open(&other, "prod", &sealed).unwrap_err();
        assert!(matches!(wrong, SealError::OtherKey { .. }), "{wrong}");
        let message = wrong.to_string();
        assert!(
            message.contains("does not decrypt connection \"prod\""),
            "{message}"
        );
        assert!(
            message.contains(key.id()) && message.contains(other.id()),
            "{message}"
        );
    }

    #[test]
    fn nonces_are_fresh_for_every_seal() {
        let key = SecretKey::generate();
        let client_key = ClientKey::new(PEM.into());
        assert_ne!(seal(&key, "prod", &client_key), seal(&key, "prod", &client_key));
    }

    #[test]
    fn an_altered_value_is_refused() {
        let key = SecretKey::generate();
        let sealed = seal(&key, "prod", &ClientKey::new(PEM.into()));
        let (head, payload) = sealed.rsplit_once(':').unwrap();
        let mut bytes = STANDARD.decode(payload).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let altered = format!("{head}:{}", STANDARD.encode(bytes));
        assert!(matches!(
            open(&key, "prod", &altered),
            Err(SealError::Altered { .. })
        ));
        assert!(matches!(
            open(&key, "prod", &format!("{head}:not base64!")),
            Err(SealError::Altered { .. })
        ));
    }

    #[test]
    fn the_forms_are_told_apart() {
        assert_eq!(StoredForm::of(PEM), StoredForm::Clear);
        assert_eq!(
            StoredForm::of("v1:0123456789abcdef:AAAA"),
            StoredForm::Sealed {
                key_id: "0123456789abcdef",
                payload: "AAAA"
            }
        );
        assert_eq!(
            StoredForm::of("v2:whatever"),
            StoredForm::Unknown { version: "v2" }
        );
        let key = SecretKey::generate();
        assert!(matches!(
            open(&key, "prod", "v2:whatever"),
            Err(SealError::NewerFormat { .. })
        ));
        assert_eq!(
            open(&key, "prod", PEM).unwrap().pem(),
            PEM,
            "an older Berth's key in the clear"
        );
    }
}
