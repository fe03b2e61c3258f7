//! The HTTP client `openidconnect` talks to the identity provider with (discovery, the keys,
//! the token endpoint): Berth's own reqwest with rustls and ring, its trust anchors compiled
//! in (`webpki-roots`) or the provider's CA (`--oidc-ca-file`), so nothing is read from the
//! system or downloaded at run time. It follows no redirect (a provider's answer that points
//! elsewhere is not followed to an address Berth was not configured with), waits a bounded
//! time, and reads at most [`MAX_RESPONSE_BYTES`] of an answer.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openidconnect::{AsyncHttpClient, HttpRequest, HttpResponse};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

use crate::causes::with_causes;

/// A provider's discovery document, key set or token answer is a few kilobytes.
const MAX_RESPONSE_BYTES: usize = 1 << 20;
/// How long one request to the provider may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("cannot reach the identity provider: {0}")]
    Request(String),
    #[error("the identity provider's answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("--oidc-ca-file {path}: {reason}")]
    CaFile { path: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct ProviderClient(reqwest::Client);

impl ProviderClient {
    /// Trusts the public web's roots, or only the CA in `ca_file` when one is given.
    pub fn new(ca_file: Option<&Path>) -> Result<ProviderClient, HttpClientError> {
        let mut roots = RootCertStore::empty();
        match ca_file {
            Some(path) => {
                let ca_error = |reason: String| HttpClientError::CaFile {
                    path: path.display().to_string(),
                    reason,
                };
                let pem = std::fs::read(path).map_err(|error| ca_error(error.to_string()))?;
                for certificate in CertificateDer::pem_slice_iter(&pem) {
                    let certificate = certificate.map_err(|error| ca_error(error.to_string()))?;
                    roots
                        .add(certificate)
                        .map_err(|error| ca_error(error.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(ca_error("no certificate in the file".into()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // reqwest checks for a process-wide provider even when given a configuration.
        let _already_installed = rustls::crypto::ring::default_provider().install_default();
        let tls = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| HttpClientError::Request(error.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|error| HttpClientError::Request(error.to_string()))?;
        Ok(ProviderClient(client))
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpClientError> {
        let (parts, body) = request.into_parts();
        let mut response = self
            .0
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body)
            .send()
            .await
            .map_err(|error| HttpClientError::Request(with_causes(&error)))?;
        let mut builder = axum::http::Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = std::mem::take(response.headers_mut());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| HttpClientError::Request(with_causes(&error)))?
        {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(HttpClientError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        builder
            .body(body)
            .map_err(|error| HttpClientError::Request(error.to_string()))
    }
}

impl<'c> AsyncHttpClient<'c> for ProviderClient {
    type Error = HttpClientError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpClientError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
