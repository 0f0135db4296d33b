//! Request authentication: none, or a static IMS access token sent with the
//! API key and org id (edge-api.md §1.3). The token can be replaced while the
//! client runs; it is never logged.

use crate::config::AuthConfig;
use crate::secret::Secret;
use std::sync::RwLock;

pub struct Auth {
    token: Option<TokenAuth>,
}

struct TokenAuth {
    access_token: RwLock<Secret>,
    api_key: String,
    org_id: String,
}

impl Auth {
    pub fn new(config: &AuthConfig, org_id: Option<&str>) -> Auth {
        let token = match config {
            AuthConfig::None => None,
            AuthConfig::Token {
                access_token,
                api_key,
            } => Some(TokenAuth {
                access_token: RwLock::new(access_token.clone()),
                api_key: api_key.clone(),
                // Config validation requires an org id whenever auth is set.
                org_id: org_id.unwrap_or_default().to_string(),
            }),
        };
        Auth { token }
    }

    /// The headers that authenticate a request (empty without auth).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match &self.token {
            None => Vec::new(),
            Some(t) => {
                let token = t.access_token.read().unwrap_or_else(|p| p.into_inner());
                vec![
                    ("authorization", format!("Bearer {}", token.expose())),
                    ("x-api-key", t.api_key.clone()),
                    ("x-gw-ims-org-id", t.org_id.clone()),
                ]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_auth_sends_the_three_headers() {
        let auth = Auth::new(
            &AuthConfig::Token {
                access_token: Secret::new("tok"),
                api_key: "key".into(),
            },
            Some("ORG@AdobeOrg"),
        );
        let h = auth.headers();
        assert_eq!(h[0], ("authorization", "Bearer tok".to_string()));
        assert_eq!(h[1], ("x-api-key", "key".to_string()));
        assert_eq!(h[2], ("x-gw-ims-org-id", "ORG@AdobeOrg".to_string()));
        assert!(Auth::new(&AuthConfig::None, None).headers().is_empty());
    }
}
