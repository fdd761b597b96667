/*
 * Rolodex - JSON Web Token verification and minting (RFC 7519, RFC 8725).
 *
 * A keyset holds the verification keys the operator configured: HS256
 * shared secrets, RS256 / ES256 public keys from PEM or from a JWKS file.
 * Every key is pinned to one algorithm; a token is verified only with the
 * algorithm of the key its header selects, so "alg": "none" and HS/RS key
 * confusion cannot work.  Nothing a token says is used to find or fetch a
 * key beyond choosing among configured ones by "kid" ("jku", "x5u", "jwk",
 * "x5c" are ignored).  Tokens, secrets and key material are never logged.
 */
#ifndef ROLODEX_AUTH_JWT_H
#define ROLODEX_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#define AUTH_TOKEN_MAX		8192	/* bytes; longer is invalid_request */
#define AUTH_LEEWAY_MAX		60	/* seconds of clock skew tolerated */
#define AUTH_HS256_MIN		32	/* bytes of HMAC secret (256 bits) */

/* Role bits; each role implies the ones below it. */
enum auth_role {
	ROLE_READER = 1,
	ROLE_WRITER = 2,
	ROLE_ADMIN = 4
};

/* Outcome of verification, mapped by the caller to RFC 6750 errors. */
enum auth_status {
	AUTH_OK = 0,
	AUTH_INVALID_REQUEST,	/* 400 error="invalid_request" */
	AUTH_INVALID_TOKEN	/* 401 error="invalid_token" */
};

/* What a verified token says about its bearer. */
struct auth_claims {
	char	 sub[256];
	unsigned roles;		/* enum auth_role bits, implied ones set */
	int64_t	 exp, iat;	/* iat 0 when the token has none */
	char	 jti[64];	/* "" when the token has none */
};

struct auth_keyset;

/* Returns a new empty keyset; free with auth_keyset_free(). */
struct auth_keyset *auth_keyset_new(void);

/* Frees the keyset and wipes secret material.  NULL is ignored. */
void	 auth_keyset_free(struct auth_keyset *);

/*
 * Adds an HS256 secret of AUTH_HS256_MIN to 4096 bytes.  A NULL kid makes
 * a kid-less key (see auth_jwt_verify() for how keys are chosen).
 * Returns 0, or -1 (logged) on a bad secret length, an empty or too long
 * kid, or a kid already taken (for kid-less keys: another kid-less HS256
 * key).  The secret and kid are copied; the secret is never logged.
 */
int	 auth_keyset_add_hs256(struct auth_keyset *, const char *kid,
	    const unsigned char *secret, size_t len);

/*
 * Adds an RS256 or ES256 verification key from a public key PEM ("BEGIN
 * PUBLIC KEY"; PKCS#1 "RSA PUBLIC KEY" is not read), or from an
 * unencrypted private key PEM whose public half is kept.  The key type
 * must match alg: RSA of at least 2048 bits for "RS256", EC P-256 for
 * "ES256".
 * Returns 0, or -1 (logged) on a bad PEM, a mismatched or weak key, an
 * unknown alg or a kid already taken.  Nothing is borrowed.
 */
int	 auth_keyset_add_pem(struct auth_keyset *, const char *kid,
	    const char *alg, const char *pem, size_t len);

/*
 * Adds the signing keys of an RFC 7517 JWK Set: RSA keys (RS256) and EC
 * P-256 keys (ES256).  Keys with "use" other than "sig", other key types,
 * curves or algorithms are skipped, as are keys that fail the checks of
 * auth_keyset_add_pem() or whose kid is taken; each skip is logged with
 * its kid.  Returns 0 if
 * at least one key was added, -1 if the document is malformed or yields
 * no usable key.
 */
int	 auth_keyset_load_jwks(struct auth_keyset *, const char *json,
	    size_t len);

/* Number of keys in the set. */
size_t	 auth_keyset_count(const struct auth_keyset *);

/*
 * Verifies a compact JWS access token against the keyset at time now
 * (seconds since the epoch), requiring "iss" == issuer and "aud" ==
 * audience (or an array containing it); leeway_s is clamped to
 * [0, AUTH_LEEWAY_MAX].  The key is chosen by the header's "kid": the key
 * with that kid, else the only kid-less key of the header's alg; a token
 * without kid takes the only key of its alg.  The header's alg must be
 * the chosen key's.  Roles come from a "roles" array and a "scope"
 * string, unknown names ignored.  On AUTH_OK fills *out; otherwise *out
 * is zeroed.  Returns AUTH_INVALID_REQUEST for a NULL, empty or oversized
 * token and AUTH_INVALID_TOKEN for anything else wrong with it, or with
 * the arguments (NULL keyset, issuer or audience).  A "crit" header is
 * refused, and so, because libjwt 1.10 refuses it, is a "typ" other than
 * "JWT" (e.g. RFC 9068 "at+jwt").  Borrows everything.
 */
enum auth_status auth_jwt_verify(const struct auth_keyset *,
	    const char *token, const char *issuer, const char *audience,
	    int64_t leeway_s, int64_t now, struct auth_claims *out);

/*
 * Mints a token signed with alg "HS256" (key is the secret, at least
 * AUTH_HS256_MIN bytes), "RS256" or "ES256" (key is a private key PEM).
 * Claims: iss, aud, sub, iat = nbf = now, exp = now + ttl_s, a random jti
 * and "roles" listing every role roles implies; header typ "JWT" and kid
 * when not NULL.  Returns a new string (free()), or NULL (logged) on bad
 * arguments or a signing failure.
 */
char	*auth_jwt_mint(const char *alg, const unsigned char *key,
	    size_t keylen, const char *kid, const char *issuer,
	    const char *audience, const char *sub, unsigned roles,
	    int64_t ttl_s, int64_t now);

/* Name of one role bit ("reader", "writer", "admin"), or NULL. */
const char *auth_role_name(unsigned single_role);

/*
 * Parses a comma-separated list of role names (blanks around names
 * allowed) into role bits with implied roles set.  Returns 0, or -1 on an
 * unknown or empty name; *out is set only on success.
 */
int	 auth_roles_parse(const char *csv, unsigned *out);

#endif
