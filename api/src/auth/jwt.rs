//! Bearer JWTs with jsonwebtoken: an HS256 shared secret, PEM public keys (RS256, ES256, EdDSA) and a JWKS
//! URL (cached, fetched again on an unknown `kid`). Each algorithm family is checked only against its own
//! keys, so a token cannot pick its verification key (no algorithm confusion); `alg: none` never parses.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

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
#[derive(Default)]
pub struct VerifierSettings {
    pub secret: Option<String>,
    /// PEM texts of public keys (RSA, EC P-256 or Ed25519).
    pub public_keys: Vec<String>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

struct Jwks {
    url: String,
    http: reqwest::Client,
    state: Mutex<JwksState>,
}

#[derive(Default)]
struct JwksState {
    /// The set and when it was fetched (it is fetched again after `JWKS_TTL`, so removed keys go).
    set: Option<(JwkSet, Instant)>,
    /// Unknown kids that caused a fetch, and when.
    tried: Vec<(String, Instant)>,
}

/// An unknown `kid` fetches the set again, but the same kid at most once per window, and at most
/// `JWKS_FETCHES` fetches per window in all (unknown kids must not make every request fetch).
const JWKS_WINDOW: Duration = Duration::from_secs(10);
const JWKS_FETCHES: usize = 5;
const JWKS_TTL: Duration = Duration::from_secs(300);

pub struct Verifier {
    secret: Option<DecodingKey>,
    /// (algorithm family of the key, key)
    public: Vec<(Algorithm, DecodingKey)>,
    jwks: Option<Jwks>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: u64,
}

fn pem_key(pem: &str) -> Result<(Algorithm, DecodingKey), String> {
    if let Ok(k) = DecodingKey::from_rsa_pem(pem.as_bytes()) {
        return Ok((Algorithm::RS256, k));
    }
    if let Ok(k) = DecodingKey::from_ec_pem(pem.as_bytes()) {
        return Ok((Algorithm::ES256, k));
    }
    if let Ok(k) = DecodingKey::from_ed_pem(pem.as_bytes()) {
        return Ok((Algorithm::EdDSA, k));
    }
    Err("not an RSA, EC or Ed25519 public key in PEM form".into())
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
    pub fn new(s: VerifierSettings) -> Result<Option<Self>, String> {
        if s.secret.is_none() && s.public_keys.is_empty() && s.jwks_url.is_none() {
            return Ok(None);
        }
        let mut public = Vec::new();
        for (i, pem) in s.public_keys.iter().enumerate() {
            public.push(pem_key(pem).map_err(|e| format!("auth.jwt.publicKeys[{i}]: {e}"))?);
        }
        if s.secret.as_ref().is_some_and(|k| k.len() < 32) {
            return Err("auth.jwt.secret must be at least 32 bytes".into());
        }
        Ok(Some(Self {
            secret: s.secret.map(|k| DecodingKey::from_secret(k.as_bytes())),
            public,
            jwks: s.jwks_url.map(|url| Jwks {
                url,
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default(),
                state: Mutex::new(JwksState::default()),
            }),
            issuer: s.issuer,
            audience: s.audience,
            leeway: s.leeway.as_secs(),
        }))
    }

    /// Verifies the signature and the time, issuer and audience claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let bad = |m: &str| AuthError::Unauthenticated(m.to_string());
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| bad("malformed token (or an algorithm that is not accepted)"))?;
        let mut validation = Validation::new(header.alg);
        validation.leeway = self.leeway;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        match &self.issuer {
            Some(iss) => validation.set_issuer(&[iss]),
            None => validation.iss = None,
        }
        match &self.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
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
                Ok(data) => return Ok(data.claims),
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
    /// The key with `kid`, fetching the set when it is unknown (within the limits above).
    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        let mut state = self.state.lock().await;
        let find = |set: &JwkSet| set.find(kid).and_then(|j| DecodingKey::from_jwk(j).ok());
        let fresh = state
            .set
            .as_ref()
            .is_some_and(|(_, at)| at.elapsed() < JWKS_TTL);
        if fresh {
            if let Some(k) = state.set.as_ref().and_then(|(set, _)| find(set)) {
                return Ok(Some(k));
            }
        }
        state.tried.retain(|(_, at)| at.elapsed() < JWKS_WINDOW);
        let again = state.tried.iter().any(|(k, _)| k == kid);
        if fresh && again || state.tried.len() >= JWKS_FETCHES {
            return Ok(state.set.as_ref().and_then(|(set, _)| find(set)));
        }
        state.tried.push((kid.to_string(), Instant::now()));
        let set: JwkSet = async {
            self.http
                .get(&self.url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await
        }
        .await
        .map_err(|e| AuthError::Internal(format!("fetching JWKS {}: {e}", self.url)))?;
        let found = find(&set);
        state.set = Some((set, Instant::now()));
        Ok(found)
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
) -> Result<(String, Claims), String> {
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
    .map_err(|e| e.to_string())?;
    Ok((token, claims))
}
