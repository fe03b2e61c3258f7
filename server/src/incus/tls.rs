//! TLS for the Incus client: a client certificate, and trust in the server either by a pinned
//! SHA-256 fingerprint of its certificate or by a CA file.
//!
//! Pinning is the usual choice for Incus: every member serves the same self-signed cluster
//! certificate, whose subject names (`DNS:vm, IP:127.0.0.1` on the test bed) do not match the
//! member addresses, so name-based verification would fail for a correct server.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use sha2::{Digest, Sha256};

use super::IncusError;

/// How the client decides that the server is the right one.
#[derive(Debug, Clone)]
pub enum ServerTrust {
    /// The hex SHA-256 of the server certificate (DER), as `incus info` and `GET /1.0`
    /// (`environment.certificate_fingerprint`) show it. Colons and case are ignored.
    Fingerprint(String),
    /// PEM certificates of the authorities to verify the server against, names included.
    CaPem(Vec<u8>),
}

/// The hex SHA-256 fingerprint of the first certificate in a PEM file.
pub fn fingerprint_of_pem(pem: &[u8]) -> Result<String, IncusError> {
    let certificate = CertificateDer::from_pem_slice(pem)
        .map_err(|error| IncusError::Tls(format!("not a PEM certificate: {error}")))?;
    Ok(hex::encode(Sha256::digest(certificate.as_ref())))
}

pub(super) fn client_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    trust: ServerTrust,
) -> Result<ClientConfig, IncusError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|error| IncusError::Tls(format!("client certificate: {error}")))?;
    if certificates.is_empty() {
        return Err(IncusError::Tls(
            "client certificate: no certificate in the file".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|error| IncusError::Tls(format!("client key: {error}")))?;
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| IncusError::Tls(error.to_string()))?;
    let builder = match trust {
        ServerTrust::Fingerprint(fingerprint) => {
            let pinned = normalise_fingerprint(&fingerprint)?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedCertificate { pinned, provider }))
        }
        ServerTrust::CaPem(pem) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                let certificate =
                    certificate.map_err(|error| IncusError::Tls(format!("CA file: {error}")))?;
                roots
                    .add(certificate)
                    .map_err(|error| IncusError::Tls(format!("CA file: {error}")))?;
            }
            builder.with_root_certificates(roots)
        }
    };
    builder
        .with_client_auth_cert(certificates, key)
        .map_err(|error| IncusError::Tls(format!("client certificate and key: {error}")))
}

fn normalise_fingerprint(text: &str) -> Result<[u8; 32], IncusError> {
    let digits: String = text
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_lowercase();
    let bytes = hex::decode(&digits)
        .map_err(|_| IncusError::Tls(format!("server fingerprint {text:?} is not hex")))?;
    bytes.try_into().map_err(|_| {
        IncusError::Tls(format!(
            "server fingerprint {text:?} is not a SHA-256 (64 hex digits)"
        ))
    })
}

/// Accepts exactly one server certificate, whatever names it carries; signatures on the
/// handshake are still verified, so only the holder of that certificate's key gets through.
#[derive(Debug)]
struct PinnedCertificate {
    pinned: [u8; 32],
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let presented: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if presented == self.pinned {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "server certificate fingerprint {} does not match the pinned {}",
                hex::encode(presented),
                hex::encode(self.pinned)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_accept_colons_and_upper_case() {
        let plain = "97a8ea9d3c2e1f3d328ccb2d1b2dcaaf20b19bce2d6a9750f041206cf4713cc5";
        let colons = plain
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            normalise_fingerprint(plain).unwrap(),
            normalise_fingerprint(&colons).unwrap()
        );
    }

    #[test]
    fn short_or_non_hex_fingerprints_are_refused() {
        assert!(normalise_fingerprint("abcd")
            .unwrap_err()
            .to_string()
            .contains("64 hex digits"));
        assert!(normalise_fingerprint("zz")
            .unwrap_err()
            .to_string()
            .contains("not hex"));
    }
}
