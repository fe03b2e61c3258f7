//! Single sign-on with OpenID Connect: the authorization code flow with PKCE against the
//! issuer found by discovery, and the ID token checked by `openidconnect` (signature against
//! the issuer's keys, `iss`, `aud`, `exp`, `nonce`).
//!
//! - [`Oidc::start`] (`GET /login/oidc`): a fresh `state` and a browser secret; the store keeps
//!   the digests of both and where to go after (`db/oidc.rs`), the browser keeps the secret in
//!   a short-lived cookie. The PKCE verifier and the nonce are derived from that secret, so
//!   they are never stored, and any replica can finish the sign-in from the database and the
//!   cookie.
//! - [`Oidc::finish`] (`GET /login/oidc/callback`): the pending sign-in is taken (once), must
//!   belong to this browser, then the code is exchanged (at most [`MAX_EXCHANGES`] at once:
//!   a flood of callbacks costs one small delete each, and never more than a few requests to
//!   the provider), the ID token verified, the role read from the claim, and the session opened
//!   as a password sign-in opens it, with the account created on its first sign-in.
//! - `roles.rs`: the role map; `http_client.rs`: the client for the provider.

mod http_client;
mod roles;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_core::access::Role;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
    CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Semaphore};

use super::{secret, Auth, Credential, NewSession, Principal};
use crate::audit::{Actor, AuditKind};
use crate::causes::with_causes;
use crate::clock::millis;
use crate::db::{
    ExternalAccount, ExternalSignIn, ExternalSignInEntries, NewOidcLogin, NewSessionRow, PendingBounds,
};
pub use http_client::ProviderClient;
pub use roles::{RoleMap, RoleMapError};

/// How long a sign-in may stay at the provider (the login, perhaps a second factor).
pub const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// Sign-ins pending at once, across replicas: a flood of `GET /login/oidc` from many addresses
/// fills the table up to here and is then answered "busy" without writing.
const MAX_PENDING: i64 = 10_000;
/// Sign-ins pending at once from one client address: a flood from one address is answered
/// "busy" once it has these, and everyone else still signs in.
const MAX_PENDING_PER_ADDRESS: i64 = 20;
/// Code exchanges with the provider running at once in this process.
pub const MAX_EXCHANGES: usize = 8;
/// How long a callback waits for a free exchange before it is answered "busy".
const EXCHANGE_WAIT: Duration = Duration::from_secs(5);
/// The provider's discovery document and keys are read again this often (key rotation; a
/// token signed with a key Berth does not know also has them read again at the next sign-in).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, how long sign-ins are refused before it is tried again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// `berth serve`'s single sign-on options.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// The OpenID Connect issuer (`https://id.example.com/realms/main`): "Sign in with …" on
    /// the login page, beside the local accounts. Its discovery document is read from
    /// ISSUER/.well-known/openid-configuration.
    #[arg(
        long,
        env = "BERTH_OIDC_ISSUER",
        requires_all = ["oidc_client_id", "oidc_client_secret_file", "oidc_role_map"]
    )]
    pub oidc_issuer: Option<String>,

    /// Berth's client id at the issuer.
    #[arg(long, env = "BERTH_OIDC_CLIENT_ID", requires = "oidc_issuer")]
    pub oidc_client_id: Option<String>,

    /// A file holding the client's secret (its first line).
    #[arg(long, env = "BERTH_OIDC_CLIENT_SECRET_FILE", requires = "oidc_issuer")]
    pub oidc_client_secret_file: Option<PathBuf>,

    /// The ID token claim that lists the user's groups.
    #[arg(long, env = "BERTH_OIDC_ROLE_CLAIM", default_value = "groups")]
    pub oidc_role_claim: String,

    /// Which group gives which role: `berth-admins=admin,sre=operator,dev=author`. The highest
    /// role of the user's groups wins; a user in none of them has no access. Read at every
    /// sign-in.
    #[arg(long, env = "BERTH_OIDC_ROLE_MAP", requires = "oidc_issuer")]
    pub oidc_role_map: Option<String>,

    /// The name on the login page's button ("Sign in with NAME"). Default: the issuer's host.
    #[arg(long, env = "BERTH_OIDC_NAME")]
    pub oidc_name: Option<String>,

    /// Scopes asked for besides `openid`, comma-separated.
    #[arg(
        long,
        env = "BERTH_OIDC_SCOPES",
        value_delimiter = ',',
        default_value = "profile,groups"
    )]
    pub oidc_scopes: Vec<String>,

    /// Trust only this CA (PEM) for the issuer, e.g. a private one. Default: the public web's
    /// roots, compiled into Berth.
    #[arg(long, env = "BERTH_OIDC_CA_FILE")]
    pub oidc_ca_file: Option<PathBuf>,

    /// Where the issuer sends the browser back: Berth's public address and
    /// `/login/oidc/callback`, as registered at the issuer. Default: from `--listen` (right
    /// only when Berth is reached at that address).
    #[arg(long, env = "BERTH_OIDC_REDIRECT_URL")]
    pub oidc_redirect_url: Option<String>,
}

/// Single sign-on as configured.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    pub redirect_url: RedirectUrl,
    pub role_claim: String,
    pub role_map: RoleMap,
    pub name: String,
    pub scopes: Vec<String>,
}

impl OidcArgs {
    /// The settings, or `None` without `--oidc-issuer`. `default_redirect` is the callback at
    /// the address Berth listens on.
    pub fn settings(&self, default_redirect: &str) -> anyhow::Result<Option<OidcSettings>> {
        // An empty issuer (`BERTH_OIDC_ISSUER=` in an environment file) is no issuer.
        let Some(issuer) = self
            .oidc_issuer
            .as_deref()
            .map(str::trim)
            .filter(|issuer| !issuer.is_empty())
        else {
            return Ok(None);
        };
        let issuer = IssuerUrl::new(issuer.trim_end_matches('/').to_owned())
            .with_context(|| format!("--oidc-issuer {issuer}: not a URL"))?;
        let (Some(client_id), Some(secret_file), Some(role_map)) = (
            self.oidc_client_id
                .as_deref()
                .map(str::trim)
                .filter(|id| !id.is_empty()),
            &self.oidc_client_secret_file,
            &self.oidc_role_map,
        ) else {
            anyhow::bail!(
                "--oidc-issuer needs --oidc-client-id, --oidc-client-secret-file and --oidc-role-map"
            );
        };
        let secret = std::fs::read_to_string(secret_file)
            .with_context(|| format!("cannot read --oidc-client-secret-file {}", secret_file.display()))?;
        let secret = secret.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            !secret.is_empty(),
            "--oidc-client-secret-file {} is empty",
            secret_file.display()
        );
        let redirect = self.oidc_redirect_url.as_deref().unwrap_or(default_redirect);
        let redirect_url = RedirectUrl::new(redirect.to_owned())
            .with_context(|| format!("--oidc-redirect-url {redirect}: not a URL"))?;
        let name = match &self.oidc_name {
            Some(name) if !name.trim().is_empty() => name.trim().to_owned(),
            _ => issuer
                .url()
                .host_str()
                .unwrap_or("the identity provider")
                .to_owned(),
        };
        Ok(Some(OidcSettings {
            issuer,
            client_id: ClientId::new(client_id.to_owned()),
            client_secret: ClientSecret::new(secret),
            redirect_url,
            role_claim: match self.oidc_role_claim.trim() {
                "" => "groups".to_owned(),
                claim => claim.to_owned(),
            },
            role_map: RoleMap::parse(role_map)?,
            name,
            scopes: self
                .oidc_scopes
                .iter()
                .map(|scope| scope.trim().to_owned())
                .filter(|scope| !scope.is_empty() && scope != "openid")
                .collect(),
        }))
    }
}

/// The ID token's claims besides the standard ones: the role claim is among them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OtherClaims(serde_json::Map<String, serde_json::Value>);

impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type ProviderTokenResponse = StandardTokenResponse<IdFields, CoreTokenType>;
type ProviderOidcClient = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    ProviderTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// Why a single sign-on did not sign anyone in. The message is for the user; [`reason`] is
/// the audit log's and the metric's word for it.
///
/// [`reason`]: OidcError::reason
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("this sign-in is unknown, expired or already used: start again")]
    UnknownState,
    #[error("this sign-in was started in another browser: start again")]
    OtherBrowser,
    #[error("the identity provider refused the sign-in ({0})")]
    ProviderRefused(String),
    /// The cause is for the server's log, not for the login page.
    #[error("the identity provider cannot be reached; try again later")]
    Unreachable(String),
    #[error("the identity provider's ID token is not valid: {0}")]
    InvalidToken(String),
    #[error("the identity provider names you `{0}`, which no Berth account can be called")]
    UnusableName(String),
    #[error(
        "a Berth account named `{0}` exists already and does not sign in with single sign-on: ask an admin"
    )]
    NameTaken(String),
    #[error("your Berth account `{0}` is disabled")]
    Disabled(String),
    #[error("no access: none of your groups at the identity provider gives a role in Berth")]
    NoAccess { username: String, external_id: String },
    #[error("too many sign-ins at once; try again in a few seconds")]
    Busy,
    #[error(transparent)]
    Store(#[from] crate::db::StoreError),
}

impl OidcError {
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::UnknownState => "unknown_state",
            OidcError::OtherBrowser => "other_browser",
            OidcError::ProviderRefused(_) => "provider_refused",
            OidcError::Unreachable(_) => "provider_unreachable",
            OidcError::InvalidToken(_) => "invalid_token",
            OidcError::UnusableName(_) => "unusable_name",
            OidcError::NameTaken(_) => "name_taken",
            OidcError::Disabled(_) => "disabled",
            OidcError::NoAccess { .. } => "no_role",
            OidcError::Busy => "busy",
            OidcError::Store(_) => "store",
        }
    }
}

/// A sign-in sent to the provider: where to send the browser, and the secret its cookie keeps.
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub browser_secret: String,
}

/// The single sign-on service; cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    inner: Arc<Inner>,
}

struct Inner {
    settings: OidcSettings,
    http: ProviderClient,
    auth: Auth,
    /// The provider's metadata and keys, and when they were read.
    provider: Mutex<Discovery>,
    exchanges: Semaphore,
}

/// What discovery last gave.
#[derive(Default)]
struct Discovery {
    client: Option<(Instant, Arc<ProviderOidcClient>)>,
    /// When it last failed: for [`RETRY_AFTER_FAILURE`] sign-ins fail at once rather than each
    /// waiting its turn to ask a provider that is down.
    failed_at: Option<Instant>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.inner.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// What the PKCE verifier and the nonce of a sign-in are: derived from the browser's secret,
/// each with its own label, so neither reveals the other or the secret.
fn derived(label: &str, browser_secret: &str) -> String {
    use base64::Engine;
    let digest = Sha256::new()
        .chain_update(label.as_bytes())
        .chain_update([0])
        .chain_update(browser_secret.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

impl Oidc {
    pub fn new(
        settings: OidcSettings,
        ca_file: Option<&std::path::Path>,
        auth: Auth,
    ) -> anyhow::Result<Oidc> {
        Ok(Oidc {
            inner: Arc::new(Inner {
                settings,
                http: ProviderClient::new(ca_file)?,
                auth,
                provider: Mutex::new(Discovery::default()),
                exchanges: Semaphore::new(MAX_EXCHANGES),
            }),
        })
    }

    /// The name on the login page's button.
    pub fn name(&self) -> &str {
        &self.inner.settings.name
    }

    pub fn secure_cookies(&self) -> bool {
        self.inner.auth.config().secure_cookies
    }

    /// The provider's client, from discovery (read again after [`DISCOVERY_TTL`]).
    async fn client(&self) -> Result<Arc<ProviderOidcClient>, OidcError> {
        let mut discovery = self.inner.provider.lock().await;
        if let Some((read_at, client)) = discovery.client.as_ref() {
            if read_at.elapsed() < DISCOVERY_TTL {
                return Ok(client.clone());
            }
        }
        if discovery
            .failed_at
            .is_some_and(|failed_at| failed_at.elapsed() < RETRY_AFTER_FAILURE)
        {
            return Err(OidcError::Unreachable("discovery failed moments ago".into()));
        }
        let settings = &self.inner.settings;
        let metadata =
            match CoreProviderMetadata::discover_async(settings.issuer.clone(), &self.inner.http).await {
                Ok(metadata) => metadata,
                Err(error) => {
                    discovery.failed_at = Some(Instant::now());
                    return Err(OidcError::Unreachable(with_causes(&error)));
                }
            };
        let client = ProviderOidcClient::from_provider_metadata(
            metadata,
            settings.client_id.clone(),
            Some(settings.client_secret.clone()),
        )
        .set_redirect_uri(settings.redirect_url.clone());
        let client = Arc::new(client);
        *discovery = Discovery {
            client: Some((Instant::now(), client.clone())),
            failed_at: None,
        };
        Ok(client)
    }

    /// Forgets the provider's keys: the next sign-in reads them again (a token signed with a
    /// key Berth does not have: the provider may have rotated its keys).
    async fn forget_keys(&self) {
        self.inner.provider.lock().await.client = None;
    }

    /// Starts a sign-in: records it, and says where to send the browser.
    pub async fn start(&self, next: &str, address: Option<&str>) -> Result<Started, OidcError> {
        let client = self.client().await?;
        let browser_secret = secret::random_secret();
        let state = secret::random_secret();
        let verifier = PkceCodeVerifier::new(derived("pkce", &browser_secret));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let nonce = Nonce::new(derived("nonce", &browser_secret));
        let state_for_url = state.clone();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state_for_url),
                move || nonce,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.inner.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _, _) = request.url();
        let now = self.inner.auth.clock().now_ms();
        let recorded = self
            .inner
            .auth
            .store()
            .insert_oidc_login(
                &NewOidcLogin {
                    state_hash: &secret::digest(&state),
                    browser_hash: &secret::digest(&browser_secret),
                    next,
                    client_address: address,
                    now,
                },
                PendingBounds {
                    expired_before: now - millis(PENDING_TTL),
                    max_pending: MAX_PENDING,
                    max_per_address: MAX_PENDING_PER_ADDRESS,
                },
            )
            .await?;
        if !recorded {
            return Err(OidcError::Busy);
        }
        Ok(Started {
            authorize_url: url.to_string(),
            browser_secret,
        })
    }

    /// Finishes a sign-in from the provider's answer; audited either way. On success the new
    /// session and where to go.
    pub async fn finish(
        &self,
        code: &str,
        state: &str,
        browser_secret: Option<&str>,
        address: Option<&str>,
    ) -> Result<(NewSession, String), OidcError> {
        let outcome = self.try_finish(code, state, browser_secret, address).await;
        if let Err(error) = &outcome {
            self.refused(error, address).await;
        }
        outcome
    }

    /// The provider answered the redirect with an error (the user cancelled, or the provider
    /// refused the request): the pending sign-in is taken, the refusal audited.
    pub async fn provider_error(&self, state: &str, error: &str, address: Option<&str>) -> OidcError {
        // Whatever the answer, this `state` is used up.
        let taken = self
            .inner
            .auth
            .store()
            .take_oidc_login(&secret::digest(state))
            .await;
        let error = match taken {
            Err(error) => OidcError::Store(error),
            // Made up, expired or used: nobody's sign-in was refused (and a flood of these
            // must not grow the audit log).
            Ok(None) => OidcError::UnknownState,
            // Only a code of the protocol is shown: the description is the provider's text.
            Ok(Some(_)) => OidcError::ProviderRefused(protocol_word(error)),
        };
        self.refused(&error, address).await;
        error
    }

    async fn try_finish(
        &self,
        code: &str,
        state: &str,
        browser_secret: Option<&str>,
        address: Option<&str>,
    ) -> Result<(NewSession, String), OidcError> {
        let auth = &self.inner.auth;
        let pending = auth
            .store()
            .take_oidc_login(&secret::digest(state))
            .await?
            .filter(|pending| auth.clock().now_ms() - pending.created_at < millis(PENDING_TTL))
            .ok_or(OidcError::UnknownState)?;
        let browser_secret = browser_secret
            .filter(|browser_secret| {
                secret::same_secret(&secret::digest(browser_secret), &pending.browser_hash)
            })
            .ok_or(OidcError::OtherBrowser)?;
        let _exchange = tokio::time::timeout(EXCHANGE_WAIT, self.inner.exchanges.acquire())
            .await
            .map_err(|_| OidcError::Busy)?
            .expect("the semaphore is never closed");

        let client = self.client().await?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|error| OidcError::Unreachable(error.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(derived("pkce", browser_secret)))
            .request_async(&self.inner.http)
            .await
            .map_err(|error| match error {
                RequestTokenError::ServerResponse(response) => {
                    OidcError::ProviderRefused(protocol_word(response.error().as_ref()))
                }
                // An answer whose ID token is not even a token (a byte changed on the way).
                RequestTokenError::Parse(..) => OidcError::InvalidToken("the answer cannot be read".into()),
                other => OidcError::Unreachable(with_causes(&other)),
            })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::InvalidToken("the answer has no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(derived("nonce", browser_secret));
        let claims = match id_token.claims(&verifier, &nonce) {
            Ok(claims) => claims,
            Err(error) => {
                if let ClaimsVerificationError::SignatureVerification(_) = error {
                    self.forget_keys().await;
                }
                return Err(OidcError::InvalidToken(claims_error(&error)));
            }
        };

        let subject = claims.subject().as_str();
        let external_id = format!("{}#{subject}", self.inner.settings.issuer.as_str());
        let username = claims
            .preferred_username()
            .map(|name| name.as_str())
            .filter(|name| super::sign_in::is_valid_username(name))
            .or_else(|| Some(subject).filter(|sub| super::sign_in::is_valid_username(sub)))
            .ok_or_else(|| OidcError::UnusableName(subject.chars().take(64).collect()))?
            .to_owned();
        let role_claim = claims.additional_claims().0.get(&self.inner.settings.role_claim);
        let Some(role) = self.inner.settings.role_map.role_for(role_claim) else {
            return Err(OidcError::NoAccess {
                username,
                external_id,
            });
        };
        let session = self.open_session(&external_id, &username, role, address).await?;
        Ok((session, pending.next))
    }

    async fn open_session(
        &self,
        external_id: &str,
        username: &str,
        role: Role,
        address: Option<&str>,
    ) -> Result<NewSession, OidcError> {
        let auth = &self.inner.auth;
        let cookie_value = secret::random_secret();
        let id_hash = secret::digest(&cookie_value);
        let csrf_token = secret::random_secret();
        let owned_address = address.map(str::to_owned);
        let anonymous = Actor {
            address: owned_address.clone(),
            ..Actor::default()
        };
        let via = json!({ "via": "oidc" });
        let login = |user: &crate::db::UserRecord| {
            auth.audit().entry(
                &Actor::user(user.id, &user.username, owned_address.clone()),
                AuditKind::Login,
                Some(&user.username),
                json!({ "via": "oidc" }),
            )
        };
        let entries = ExternalSignInEntries {
            created: auth.audit().entry(
                &anonymous,
                AuditKind::UserCreated,
                Some(username),
                json!({ "via": "oidc", "role": role }),
            ),
            role_changed: auth
                .audit()
                .entry(&anonymous, AuditKind::UserRoleChanged, Some(username), via),
            login: &login,
        };
        let row = NewSessionRow {
            id_hash: &id_hash,
            user_id: 0,
            csrf_token: &csrf_token,
            now: auth.clock().now_ms(),
            address,
        };
        let account = ExternalAccount {
            external_id,
            username,
            role,
        };
        match auth.store().sign_in_external(&account, &row, &entries).await? {
            ExternalSignIn::SignedIn(user) => {
                tracing::info!(user = user.username, role = %user.role, address, "signed in with single sign-on");
                let principal = Principal::from_user(&user, Credential::Session { id_hash, csrf_token });
                Ok(NewSession {
                    cookie_value,
                    principal,
                })
            }
            ExternalSignIn::Disabled(user) => Err(OidcError::Disabled(user.username)),
            ExternalSignIn::UsernameTaken => Err(OidcError::NameTaken(username.to_owned())),
        }
    }

    async fn refused(&self, error: &OidcError, address: Option<&str>) {
        crate::metrics::metrics()
            .login_failures
            .with_label_values(&["oidc"])
            .inc();
        if let OidcError::UnknownState = error {
            // No sign-in of this browser's is known: nobody was refused, and an unauthenticated
            // flood of made-up callbacks must not grow the audit log. Counted only.
            tracing::debug!(address, "single sign-on callback for an unknown state");
            return;
        }
        let anonymous = Actor {
            address: address.map(str::to_owned),
            ..Actor::default()
        };
        let subject = match error {
            OidcError::NameTaken(name)
            | OidcError::Disabled(name)
            | OidcError::UnusableName(name)
            | OidcError::NoAccess { username: name, .. } => Some(name.as_str()),
            _ => None,
        };
        let mut detail = json!({ "via": "oidc", "reason": error.reason() });
        if let OidcError::ProviderRefused(word) | OidcError::InvalidToken(word) = error {
            detail["error"] = word.as_str().into();
        }
        let entry = self
            .inner
            .auth
            .audit()
            .entry(&anonymous, AuditKind::LoginFailed, subject, detail);
        match error {
            OidcError::Unreachable(cause) => {
                tracing::warn!(
                    address,
                    "single sign-on failed: the identity provider cannot be reached: {cause}"
                )
            }
            error => tracing::info!(
                reason = error.reason(),
                address,
                "single sign-on refused: {error}"
            ),
        }
        let store = self.inner.auth.store();
        let written = match error {
            // Whoever lost their groups at the provider loses their sessions here too.
            OidcError::NoAccess { external_id, .. } => {
                store.refuse_external(external_id, &entry).await.map(drop)
            }
            _ => store.append_audit(&entry).await.map(drop),
        };
        if let Err(error) = written {
            tracing::warn!(%error, "cannot record a refused single sign-on");
        }
    }
}

/// Why the ID token was refused, in a few words (the library's message names the claim).
fn claims_error(error: &openidconnect::ClaimsVerificationError) -> String {
    match error {
        ClaimsVerificationError::Expired(_) => "it has expired".into(),
        ClaimsVerificationError::InvalidAudience(_) => "it is for another client (aud)".into(),
        ClaimsVerificationError::InvalidIssuer(_) => "it is from another issuer (iss)".into(),
        ClaimsVerificationError::InvalidNonce(_) => "it is for another sign-in (nonce)".into(),
        ClaimsVerificationError::SignatureVerification(_) => "its signature does not verify".into(),
        other => other.to_string(),
    }
}

/// An OAuth error code as the protocol spells them (letters and `_`), or `error`.
fn protocol_word(word: &str) -> String {
    let plain =
        !word.is_empty() && word.len() <= 64 && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    if plain {
        word.to_owned()
    } else {
        "error".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Command {
        #[command(flatten)]
        oidc: OidcArgs,
    }

    fn parse(args: &[&str]) -> Result<OidcArgs, clap::Error> {
        Command::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
            .map(|command| command.oidc)
    }

    #[test]
    fn the_issuer_needs_a_client_its_secret_and_a_role_map() {
        assert!(parse(&[]).unwrap().settings("http://b/cb").unwrap().is_none());
        // An empty issuer is no issuer (an environment file's `BERTH_OIDC_ISSUER=` is absent
        // to clap already); an empty client id is none.
        for empty in ["", " "] {
            let args = parse(&[
                "--oidc-issuer",
                empty,
                "--oidc-client-id",
                "berth",
                "--oidc-client-secret-file",
                "/nonexistent",
                "--oidc-role-map",
                "a=admin",
            ])
            .unwrap();
            assert!(args.settings("http://b/cb").unwrap().is_none(), "{empty:?}");
        }
        let error = parse(&[
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-id",
            "",
            "--oidc-client-secret-file",
            "/nonexistent",
            "--oidc-role-map",
            "a=admin",
        ])
        .unwrap()
        .settings("http://b/cb")
        .unwrap_err();
        assert!(error.to_string().contains("needs --oidc-client-id"), "{error}");
        for partial in [
            &["--oidc-issuer", "https://id.example"][..],
            &["--oidc-issuer", "https://id.example", "--oidc-client-id", "berth"],
            &["--oidc-client-id", "berth"],
        ] {
            assert!(parse(partial).is_err(), "{partial:?}");
        }
    }

    #[test]
    fn settings_name_the_issuers_host_and_refuse_an_empty_secret_or_a_bad_map() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret\nignored\n").unwrap();
        let secret = secret.to_str().unwrap();
        let base = [
            "--oidc-issuer",
            "https://id.example/realms/main/",
            "--oidc-client-id",
            "berth",
            "--oidc-client-secret-file",
            secret,
        ];
        let with = |extra: &[&str]| {
            let args: Vec<&str> = base.iter().chain(extra).copied().collect();
            parse(&args)
                .unwrap()
                .settings("http://127.0.0.1:3000/login/oidc/callback")
        };
        let settings = with(&[
            "--oidc-role-map",
            "ops=operator",
            "--oidc-scopes",
            "openid,profile, groups",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.name, "id.example");
        assert_eq!(settings.issuer.as_str(), "https://id.example/realms/main");
        assert_eq!(settings.client_secret.secret(), "s3cret");
        assert_eq!(settings.scopes, ["profile", "groups"]);
        assert_eq!(settings.role_claim, "groups");
        assert_eq!(
            settings.redirect_url.as_str(),
            "http://127.0.0.1:3000/login/oidc/callback"
        );

        // An empty claim name is the default one.
        let settings = with(&["--oidc-role-map", "ops=operator", "--oidc-role-claim", ""])
            .unwrap()
            .unwrap();
        assert_eq!(settings.role_claim, "groups");
        let error = with(&["--oidc-role-map", "ops=root"]).unwrap_err();
        assert!(error.to_string().contains("ops=root"), "{error}");
        std::fs::write(dir.path().join("secret"), "\n").unwrap();
        let error = with(&["--oidc-role-map", "ops=operator"]).unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
    }
}
