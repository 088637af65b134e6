//! Bearer JWTs with jsonwebtoken: an HS256 shared secret, PEM public keys (RS256, ES256, EdDSA) and a JWKS
//! URL (cached; an unknown `kid` fetches it again, rate-limited, and a fetch never delays tokens whose key is
//! known). Each algorithm family is checked only against its own keys, so a token cannot pick its
//! verification key (no algorithm confusion); `alg: none` never parses. A configured issuer or audience is
//! required, and so is `jti` unless `auth.jwt.requireJti` is off.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::AuthError;

/// The claims Greenroom reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// A string or an array of strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Space-separated scopes (OAuth2 style).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// Key material and checks, from `auth.jwt`.
pub struct VerifierSettings {
    pub secret: Option<String>,
    /// PEM texts of public keys (RSA, EC P-256 or Ed25519).
    pub public_keys: Vec<String>,
    pub jwks_url: Option<String>,
    /// When set, tokens must carry this `iss`.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub audience: Option<String>,
    pub leeway: Duration,
    /// Tokens without a `jti` (which could never be revoked) are refused.
    pub require_jti: bool,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            secret: None,
            public_keys: Vec::new(),
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway: Duration::ZERO,
            require_jti: true,
        }
    }
}

/// A JWKS endpoint and the last key set read from it. Verifying with a known key only reads `set`; fetches
/// happen one at a time under `fetch`.
struct Jwks {
    url: String,
    http: reqwest::Client,
    /// The last set fetched and when (read without ever waiting on a fetch).
    set: RwLock<Option<(Arc<JwkSet>, Instant)>>,
    /// Held by the one fetch in flight.
    fetch: tokio::sync::Mutex<FetchState>,
}

#[derive(Default)]
struct FetchState {
    /// When an unknown `kid` last caused a fetch.
    last_unknown: Option<Instant>,
    /// When a fetch last failed.
    last_failure: Option<Instant>,
}

/// An unknown `kid` fetches the set again at most once per `JWKS_REFETCH` (unknown kids are free to send).
const JWKS_REFETCH: Duration = Duration::from_secs(10);
/// After a failed fetch, none is tried for this long.
const JWKS_BACKOFF: Duration = Duration::from_secs(2);
/// The set is fetched again in the background once it is this old (so removed keys go).
const JWKS_TTL: Duration = Duration::from_secs(300);
/// Longest a fetch may take, and longest a request waits for one.
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest key set accepted.
const JWKS_MAX_BYTES: usize = 1 << 20;

/// Why a verifier cannot be built from its settings, a key set was not fetched, or a token not signed.
#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("auth.jwt.publicKeys[{0}]: not an RSA, EC or Ed25519 public key in PEM form")]
    NotAPublicKey(usize),
    #[error("auth.jwt.secret must be at least 32 bytes")]
    ShortSecret,
    #[error("auth.jwt.jwksUrl: {0}")]
    JwksClient(reqwest::Error),
    #[error("{0}")]
    Fetch(reqwest::Error),
    #[error("the key set is larger than {JWKS_MAX_BYTES} bytes")]
    KeySetTooLarge,
    #[error("{0}")]
    KeySet(serde_json::Error),
    #[error("{0}")]
    Sign(jsonwebtoken::errors::Error),
}

pub struct Verifier {
    secret: Option<DecodingKey>,
    /// (algorithm family of the key, key)
    public: Vec<(Algorithm, DecodingKey)>,
    jwks: Option<Arc<Jwks>>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
    require_jti: bool,
}

/// The key in `pem` with the algorithm family it verifies; `None` when it is no public key we know.
fn pem_key(pem: &str) -> Option<(Algorithm, DecodingKey)> {
    if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Some((Algorithm::RS256, k));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(pem.as_bytes()) {
        return Some((Algorithm::ES256, k));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(pem.as_bytes()) {
        return Some((Algorithm::EdDSA, k));
    }
    None
}

/// The family an algorithm's keys belong to.
fn family(alg: Algorithm) -> Algorithm {
    use Algorithm::*;
    match alg {
        HS256 | HS384 | HS512 => HS256,
        RS256 | RS384 | RS512 | PS256 | PS384 | PS512 => RS256,
        ES256 | ES384 => ES256,
        EdDSA => EdDSA,
    }
}

impl Verifier {
    /// Builds a verifier; `None` when no key is configured at all.
    pub fn new(s: VerifierSettings) -> Result<Option<Self>, JwtError> {
        if s.secret.is_none() && s.public_keys.is_empty() && s.jwks_url.is_none() {
            return Ok(None);
        }
        let mut public = Vec::new();
        for (i, pem) in s.public_keys.iter().enumerate() {
            public.push(pem_key(pem).ok_or(JwtError::NotAPublicKey(i))?);
        }
        if s.secret.as_ref().is_some_and(|k| k.len() < 32) {
            return Err(JwtError::ShortSecret);
        }
        let jwks = match s.jwks_url {
            Some(url) => Some(Arc::new(Jwks {
                url,
                http: reqwest::Client::builder()
                    .timeout(JWKS_FETCH_TIMEOUT)
                    .connect_timeout(JWKS_FETCH_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(JwtError::JwksClient)?,
                set: RwLock::new(None),
                fetch: tokio::sync::Mutex::new(FetchState::default()),
            })),
            None => None,
        };
        Ok(Some(Self {
            secret: s.secret.map(|k| DecodingKey::from_secret(k.as_bytes())),
            public,
            jwks,
            issuer: s.issuer,
            audience: s.audience,
            leeway: s.leeway.as_secs(),
            require_jti: s.require_jti,
        }))
    }

    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The checks of every token: time, and the issuer and audience when configured (then required).
    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        let mut required = vec!["exp", "sub"];
        match &self.issuer {
            Some(iss) => {
                validation.set_issuer(&[iss]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => {
                validation.set_audience(&[aud]);
                required.push("aud");
            }
            None => validation.validate_aud = false,
        }
        validation.set_required_spec_claims(&required);
        validation
    }

    /// Verifies the signature and the time, issuer, audience and `jti` claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let bad = |m: &str| AuthError::Unauthenticated(m.to_string());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| bad("malformed token (or an algorithm that is not accepted)"))?;
        let validation = self.validation(header.alg);
        let keys = self.keys_for(&header).await?;
        if keys.is_empty() {
            return Err(bad(&format!(
                "tokens signed with {:?} are not accepted here",
                header.alg
            )));
        }
        let mut last = None;
        for key in &keys {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return self.check_jti(data.claims),
                Err(e) => last = Some(e),
            }
        }
        use jsonwebtoken::errors::ErrorKind as K;
        Err(match last.map(|e| e.into_kind()) {
            Some(K::ExpiredSignature) => bad("the token has expired"),
            Some(K::ImmatureSignature) => bad("the token is not valid yet (nbf)"),
            Some(K::InvalidIssuer) => bad("the token's issuer is not accepted"),
            Some(K::InvalidAudience) => bad("the token's audience is not accepted"),
            Some(K::MissingRequiredClaim(c)) => bad(&format!("the token has no '{c}' claim")),
            Some(K::InvalidSignature) => bad("the token's signature does not verify"),
            _ => bad("the token is not valid"),
        })
    }

    /// With `requireJti` on, a token must carry a `jti` (so it can be revoked).
    fn check_jti(&self, claims: Claims) -> Result<Claims, AuthError> {
        let missing = claims.jti.as_deref().is_none_or(|j| j.trim().is_empty());
        if self.require_jti && missing {
            return Err(AuthError::Unauthenticated(
                "the token has no 'jti' claim (tokens must be revocable)".into(),
            ));
        }
        Ok(claims)
    }

    async fn keys_for(&self, header: &Header) -> Result<Vec<DecodingKey>, AuthError> {
        let fam = family(header.alg);
        if fam == Algorithm::HS256 {
            return Ok(self.secret.iter().cloned().collect());
        }
        let mut keys: Vec<DecodingKey> = self
            .public
            .iter()
            .filter(|(f, _)| *f == fam)
            .map(|(_, k)| k.clone())
            .collect();
        if let (Some(jwks), Some(kid)) = (&self.jwks, &header.kid) {
            if let Some(k) = jwks.key(kid).await? {
                keys.push(k);
            }
        }
        Ok(keys)
    }
}

impl Jwks {
    /// The key with `kid` in the current set, and whether the set is due for a refresh.
    fn lookup(&self, kid: &str) -> (Option<DecodingKey>, bool) {
        let Ok(guard) = self.set.read() else {
            return (None, true);
        };
        match guard.as_ref() {
            Some((set, at)) => (
                set.find(kid).and_then(|j| DecodingKey::from_jwk(j).ok()),
                at.elapsed() >= JWKS_TTL,
            ),
            None => (None, true),
        }
    }

    fn has_set(&self) -> bool {
        self.set.read().is_ok_and(|s| s.is_some())
    }

    /// The key with `kid`. A known kid answers from the current set at once (a stale set is refreshed in
    /// the background); an unknown one waits, boundedly, for at most one fetch.
    async fn key(self: &Arc<Self>, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        let (found, stale) = self.lookup(kid);
        if let Some(k) = found {
            if stale {
                self.refresh_in_background();
            }
            return Ok(Some(k));
        }
        let Ok(mut state) = tokio::time::timeout(JWKS_FETCH_TIMEOUT, self.fetch.lock()).await
        else {
            return Ok(None);
        };
        // Another request may have fetched the set while this one waited.
        if let (Some(k), _) = self.lookup(kid) {
            return Ok(Some(k));
        }
        let recently =
            |at: Option<Instant>, window: Duration| at.is_some_and(|t| t.elapsed() < window);
        let has_set = self.has_set();
        if recently(state.last_failure, JWKS_BACKOFF) {
            return if has_set {
                Ok(None)
            } else {
                Err(AuthError::Internal("the JWKS could not be fetched".into()))
            };
        }
        if has_set && recently(state.last_unknown, JWKS_REFETCH) {
            return Ok(None);
        }
        if !has_set {
            // No keys at all yet: a failure here is ours (INTERNAL), not the token's.
            self.fetch_into(&mut state).await?;
            return Ok(self.lookup(kid).0);
        }
        state.last_unknown = Some(Instant::now());
        if let Err(AuthError::Internal(e)) = self.fetch_into(&mut state).await {
            tracing::warn!(error = %e, "could not refresh the JWKS for an unknown kid");
        }
        Ok(self.lookup(kid).0)
    }

    /// Fetches the set again unless a fetch is under way or failed just now; requests do not wait for it.
    fn refresh_in_background(self: &Arc<Self>) {
        let jwks = self.clone();
        tokio::spawn(async move {
            let Ok(mut state) = jwks.fetch.try_lock() else {
                return;
            };
            let stale = jwks.lookup("").1;
            let failed = state
                .last_failure
                .is_some_and(|t| t.elapsed() < JWKS_BACKOFF);
            if stale && !failed {
                if let Err(AuthError::Internal(e)) = jwks.fetch_into(&mut state).await {
                    tracing::warn!(error = %e, "could not refresh the JWKS; keeping the keys it had");
                }
            }
        });
    }

    /// One fetch (bounded in time and size), under the fetch lock; the set is replaced only on success.
    async fn fetch_into(&self, state: &mut FetchState) -> Result<(), AuthError> {
        match self.download().await {
            Ok(set) => {
                if let Ok(mut slot) = self.set.write() {
                    *slot = Some((Arc::new(set), Instant::now()));
                }
                state.last_failure = None;
                Ok(())
            }
            Err(e) => {
                state.last_failure = Some(Instant::now());
                Err(AuthError::Internal(format!(
                    "fetching JWKS {}: {e}",
                    self.url
                )))
            }
        }
    }

    async fn download(&self) -> Result<JwkSet, JwtError> {
        let mut resp = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(JwtError::Fetch)?;
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(JwtError::Fetch)? {
            if body.len() + chunk.len() > JWKS_MAX_BYTES {
                return Err(JwtError::KeySetTooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(JwtError::KeySet)
    }
}

/// Signs an HS256 token for `subject` with `scopes`, valid for `ttl`, with a fresh `jti`.
pub fn issue(
    secret: &str,
    subject: &str,
    scopes: &str,
    ttl: Duration,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Result<(String, Claims), JwtError> {
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        sub: subject.to_string(),
        exp: now + ttl.as_secs(),
        nbf: Some(now),
        iat: Some(now),
        iss: issuer.map(str::to_string),
        aud: audience.map(|a| serde_json::Value::String(a.to_string())),
        jti: Some(uuid::Uuid::new_v4().to_string()),
        scope: Some(scopes.to_string()),
        groups: None,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(JwtError::Sign)?;
    Ok((token, claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-unit-test-secret-that-is-32-bytes";

    fn verifier(require_jti: bool) -> Verifier {
        Verifier::new(VerifierSettings {
            secret: Some(SECRET.into()),
            require_jti,
            ..VerifierSettings::default()
        })
        .ok()
        .flatten()
        .expect("a verifier")
    }

    #[test]
    fn bad_settings_are_named_as_before() {
        let refused = |s: VerifierSettings| Verifier::new(s).err().map(|e| e.to_string());
        let short = VerifierSettings {
            secret: Some("short".into()),
            ..VerifierSettings::default()
        };
        assert_eq!(
            refused(short).as_deref(),
            Some("auth.jwt.secret must be at least 32 bytes")
        );
        let not_pem = VerifierSettings {
            public_keys: vec!["ok".into(), "-----BEGIN nothing".into()],
            ..VerifierSettings::default()
        };
        assert_eq!(
            refused(not_pem).as_deref(),
            Some("auth.jwt.publicKeys[0]: not an RSA, EC or Ed25519 public key in PEM form")
        );
        assert_eq!(
            JwtError::KeySetTooLarge.to_string(),
            "the key set is larger than 1048576 bytes"
        );
    }

    #[tokio::test]
    async fn issued_tokens_always_carry_a_jti_and_tokens_without_one_are_refused() {
        let (token, claims) = issue(
            SECRET,
            "bot:ci",
            "catalog:read",
            Duration::from_secs(60),
            None,
            None,
        )
        .expect("signed");
        assert!(claims.jti.as_deref().is_some_and(|j| !j.is_empty()));
        assert!(verifier(true).verify(&token).await.is_ok());
        let bare = Claims {
            jti: None,
            ..claims
        };
        let key = EncodingKey::from_secret(SECRET.as_bytes());
        let unrevocable =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &bare, &key).expect("signed");
        let refused = verifier(true).verify(&unrevocable).await;
        assert!(
            matches!(&refused, Err(AuthError::Unauthenticated(m)) if m.contains("jti")),
            "{refused:?}"
        );
        assert!(verifier(false).verify(&unrevocable).await.is_ok());
    }
}
