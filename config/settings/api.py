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
}
NINJA_PAGINATION_MAX_LIMIT = 100
