from ._env import ENV

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": ENV.OAUTH_TOKEN_LIFETIME_SECONDS,
    "SCOPES": {
        "users:read": "Read users and their identities",
        "users:write": "Create, change and delete users",
        "purchases:read": "Read purchases and their deliveries",
    },
    "DEFAULT_SCOPES": ["users:read"],
    "ALLOWED_GRANT_TYPES": ["client-credentials"],
    "PKCE_REQUIRED": False,
    # Revoked clients fail to authenticate; a client gets only the scopes it was granted.
    "OAUTH2_VALIDATOR_CLASS": "accounts.oauth.ApiClientOAuth2Validator",
    # Access tokens are kept only as checksums, never in clear (RFC 9700).
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
}
NINJA_PAGINATION_MAX_LIMIT = 100
