/*
 * Rolodex - JSON Web Token verification and minting (see auth_jwt.h).
 *
 * Verification follows RFC 8725.  Before libjwt sees a token we check its
 * size and shape, decode and parse the header and the claims ourselves
 * (json-c, strict, UTF-8 checked, duplicate member names refused) and
 * choose the key: by "kid" among configured keys, else the only key of the
 * header's algorithm.  The algorithm is the key's, never the token's: a
 * header that names another one is refused, and after jwt_decode() we
 * check that libjwt used the pinned one.  The claims are then checked
 * from our own parse of the very bytes libjwt verified.
 *
 * Invariants: every key in a keyset verifies exactly one algorithm; RSA
 * and EC keys are stored as public key PEM (the form libjwt 1.10 reads);
 * HS256 secrets are at least 32 bytes and are wiped when freed; no token,
 * secret or key is ever logged, only fixed reasons and configured kids.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "auth_jwt.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define KID_MAX		255		/* bytes of a kid, ours or a token's */
#define PEM_MAX		(64 * 1024)	/* bytes of a PEM key */
#define JWKS_MAX	(1024 * 1024)	/* bytes of a JWK Set document */
#define SECRET_MAX	4096		/* bytes of an HS256 secret */
#define RSA_N_MAX	1024		/* bytes of RSA n (8192 bits) */
#define DATE_MAX	INT64_C(253402300799)	/* 9999-12-31T23:59:59Z */
#define TTL_MAX		INT64_C(31622400)	/* a year, for minting */

/* The algorithms we accept; each key is pinned to one. */
enum jwa {
	JWA_HS256,
	JWA_RS256,
	JWA_ES256,
	JWA__MAX
};

static const char *const jwa_names[JWA__MAX] = {
	"HS256",	/* JWA_HS256 */
	"RS256",	/* JWA_RS256 */
	"ES256",	/* JWA_ES256 */
};

static const jwt_alg_t jwa_libjwt[JWA__MAX] = {
	JWT_ALG_HS256,	/* JWA_HS256 */
	JWT_ALG_RS256,	/* JWA_RS256 */
	JWT_ALG_ES256,	/* JWA_ES256 */
};

struct auth_key {
	char		*kid;		/* NULL: the key for any kid */
	enum jwa	 alg;		/* the only algorithm it verifies */
	unsigned char	*mat;		/* HS256 secret or public key PEM */
	size_t		 len;		/* bytes of mat (PEM: without NUL) */
	size_t		 siglen;	/* bytes of a signature by this key */
};

struct auth_keyset {
	struct auth_key	*keys;
	size_t		 nkeys;
};

static const struct {
	unsigned	 bit;
	const char	*name;
} role_tab[] = {
	{ ROLE_READER, "reader" },
	{ ROLE_WRITER, "writer" },
	{ ROLE_ADMIN, "admin" },
};

static int
jwa_from_name(const char *name, enum jwa *out)
{
	int	 i;

	if (name == NULL)
		return -1;
	for (i = 0; i < JWA__MAX; i++)
		if (strcmp(name, jwa_names[i]) == 0) {
			*out = (enum jwa)i;
			return 0;
		}
	return -1;
}

/* Admin implies writer, writer implies reader. */
static unsigned
roles_imply(unsigned roles)
{
	if (roles & ROLE_ADMIN)
		roles |= ROLE_WRITER;
	if (roles & ROLE_WRITER)
		roles |= ROLE_READER;
	return roles;
}

/* Bit of the role named by the n bytes at s, 0 if unknown. */
static unsigned
role_bit(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < sizeof(role_tab) / sizeof(role_tab[0]); i++)
		if (strlen(role_tab[i].name) == n &&
		    memcmp(role_tab[i].name, s, n) == 0)
			return role_tab[i].bit;
	return 0;
}

/* Static name of one role bit, NULL for anything else. */
const char *
auth_role_name(unsigned single_role)
{
	size_t	 i;

	for (i = 0; i < sizeof(role_tab) / sizeof(role_tab[0]); i++)
		if (role_tab[i].bit == single_role)
			return role_tab[i].name;
	return NULL;
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* CSV of role names to bits, implied ones set; 0, or -1 (*out kept). */
int
auth_roles_parse(const char *csv, unsigned *out)
{
	const char	*p, *e, *s, *t;
	unsigned	 roles = 0, bit;

	if (csv == NULL)
		return -1;
	for (p = csv;; p = e + 1) {
		e = p + strcspn(p, ",");
		for (s = p; s < e && is_blank(*s); s++)
			continue;
		for (t = e; t > s && is_blank(t[-1]); t--)
			continue;
		if ((bit = role_bit(s, (size_t)(t - s))) == 0)
			return -1;
		roles |= bit;
		if (*e == '\0')
			break;
	}
	*out = roles_imply(roles);
	return 0;
}

/*
 * Counts the members of the outermost object in a JSON text that json-c
 * accepted, for comparison with the members json-c kept: fewer kept means
 * a duplicate name.  A single quote outside a string (json-c takes them,
 * JSON does not) yields SIZE_MAX so the comparison fails.
 */
static size_t
json_count_members(const char *s, size_t len)
{
	size_t	 i, n = 0;
	int	 depth = 0;
	bool	 instr = false;

	for (i = 0; i < len; i++) {
		if (instr) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				instr = false;
			continue;
		}
		if (s[i] == '"')
			instr = true;
		else if (s[i] == '{' || s[i] == '[')
			depth++;
		else if (s[i] == '}' || s[i] == ']')
			depth--;
		else if (s[i] == ':' && depth == 1)
			n++;
		else if (s[i] == '\'')
			return SIZE_MAX;
	}
	return n;
}

/*
 * Parses len bytes as one JSON object (strict, valid UTF-8, no NUL bytes,
 * nothing but blanks after it, no duplicate member names).  Returns a new
 * object (json_object_put()), or NULL.
 */
static struct json_object *
json_parse_object(const char *buf, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*o;
	size_t			 end;

	if (len == 0 || len > INT_MAX || memchr(buf, '\0', len) != NULL)
		return NULL;
	if ((tok = json_tokener_new()) == NULL)
		return NULL;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (o != NULL && json_tokener_get_error(tok) == json_tokener_success)
		while (end < len && (buf[end] == ' ' || buf[end] == '\t' ||
		    buf[end] == '\r' || buf[end] == '\n'))
			end++;
	if (o == NULL ||
	    json_tokener_get_error(tok) != json_tokener_success ||
	    end != len || !json_object_is_type(o, json_type_object) ||
	    json_count_members(buf, len) !=
	    (size_t)json_object_object_length(o)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The string member name of o, or NULL if absent or not a string. */
static const char *
json_str(struct json_object *o, const char *name)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(o, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Whether v is a string without NUL bytes of 1..max bytes. */
static bool
json_is_clean_string(struct json_object *v, size_t max)
{
	size_t	 n;

	if (!json_object_is_type(v, json_type_string))
		return false;
	n = (size_t)json_object_get_string_len(v);
	return n > 0 && n <= max && strlen(json_object_get_string(v)) == n;
}

/* Whether v is a string equal to s. */
static bool
json_str_eq(struct json_object *v, const char *s)
{
	size_t	 n = strlen(s);

	return json_object_is_type(v, json_type_string) &&
	    (size_t)json_object_get_string_len(v) == n &&
	    memcmp(json_object_get_string(v), s, n) == 0;
}

/* New empty keyset (aborts on OOM); free with auth_keyset_free(). */
struct auth_keyset *
auth_keyset_new(void)
{
	return xcalloc(1, sizeof(struct auth_keyset));
}

/* Wipes secret material and frees everything; NULL is ignored. */
void
auth_keyset_free(struct auth_keyset *ks)
{
	size_t	 i;

	if (ks == NULL)
		return;
	for (i = 0; i < ks->nkeys; i++) {
		OPENSSL_cleanse(ks->keys[i].mat, ks->keys[i].len);
		free(ks->keys[i].mat);
		free(ks->keys[i].kid);
	}
	free(ks->keys);
	free(ks);
}

/* Number of keys; 0 for NULL. */
size_t
auth_keyset_count(const struct auth_keyset *ks)
{
	return ks == NULL ? 0 : ks->nkeys;
}

/*
 * Whether a new key (kid, alg) would make selection ambiguous: its kid is
 * taken, or it has no kid and another kid-less key has the same alg.
 */
static bool
keyset_kid_taken(const struct auth_keyset *ks, const char *kid,
    enum jwa alg)
{
	size_t	 i;

	for (i = 0; i < ks->nkeys; i++) {
		if (kid == NULL && ks->keys[i].kid == NULL &&
		    ks->keys[i].alg == alg)
			return true;
		if (kid != NULL && ks->keys[i].kid != NULL &&
		    strcmp(kid, ks->keys[i].kid) == 0)
			return true;
	}
	return false;
}

/*
 * Appends a key, taking ownership of mat (freed on failure too).
 * Returns 0, or -1 with *why set if the kid is malformed or taken.
 */
static int
keyset_push(struct auth_keyset *ks, const char *kid, enum jwa alg,
    unsigned char *mat, size_t len, size_t siglen, const char **why)
{
	struct auth_key	*k;

	if (kid != NULL && (*kid == '\0' || strlen(kid) > KID_MAX)) {
		*why = "kid empty or too long";
		goto fail;
	}
	if (keyset_kid_taken(ks, kid, alg)) {
		*why = "kid already in use";
		goto fail;
	}
	ks->keys = xreallocarray(ks->keys, ks->nkeys + 1, sizeof(*k));
	k = &ks->keys[ks->nkeys++];
	k->kid = kid == NULL ? NULL : xstrdup(kid);
	k->alg = alg;
	k->mat = mat;
	k->len = len;
	k->siglen = siglen;
	return 0;
fail:
	OPENSSL_cleanse(mat, len);
	free(mat);
	return -1;
}

/* Copies secret (32..4096 bytes) and kid in; 0, or -1 logged. */
int
auth_keyset_add_hs256(struct auth_keyset *ks, const char *kid,
    const unsigned char *secret, size_t len)
{
	unsigned char	*mat;
	const char	*why;

	if (secret == NULL || len < AUTH_HS256_MIN || len > SECRET_MAX) {
		log_warnx("%s: secret must be %d to %d bytes", __func__,
		    AUTH_HS256_MIN, SECRET_MAX);
		return -1;
	}
	mat = xmalloc(len);
	memcpy(mat, secret, len);
	if (keyset_push(ks, kid, JWA_HS256, mat, len, 32, &why) == -1) {
		log_warnx("%s: %s", __func__, why);
		return -1;
	}
	return 0;
}

/*
 * Checks that pk suits alg (RSA >= 2048 bits for RS256, P-256 for ES256)
 * and sets *siglen to its signature size.  Returns 0, or -1 with *why.
 */
static int
pkey_check(EVP_PKEY *pk, enum jwa alg, size_t *siglen, const char **why)
{
	char	 grp[64];
	size_t	 glen;

	switch (alg) {
	case JWA_RS256:
		if (!EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_get_bits(pk) < 2048 ||
		    EVP_PKEY_get_size(pk) <= 0) {
			*why = "RS256 needs an RSA key of 2048 bits or more";
			return -1;
		}
		*siglen = (size_t)EVP_PKEY_get_size(pk);
		return 0;
	case JWA_ES256:
		if (!EVP_PKEY_is_a(pk, "EC") ||
		    EVP_PKEY_get_group_name(pk, grp, sizeof(grp), &glen) != 1 ||
		    (strcmp(grp, "prime256v1") != 0 &&
		    strcmp(grp, "P-256") != 0)) {
			ERR_clear_error();
			*why = "ES256 needs an EC P-256 key";
			return -1;
		}
		*siglen = 64;
		return 0;
	case JWA_HS256:
	default:
		abort();
	}
}

/*
 * Adds the public half of pk as a key for alg, after pkey_check().
 * Borrows pk.  Returns 0, or -1 with *why.
 */
static int
keyset_add_pkey(struct auth_keyset *ks, const char *kid, enum jwa alg,
    EVP_PKEY *pk, const char **why)
{
	BIO		*bio = NULL;
	char		*data;
	unsigned char	*mat;
	long		 n;
	size_t		 siglen;
	int		 rc = -1;

	if (pkey_check(pk, alg, &siglen, why) == -1)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PUBKEY(bio, pk) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0) {
		*why = "OpenSSL cannot write the public key";
		goto out;
	}
	mat = xmalloc((size_t)n + 1);
	memcpy(mat, data, (size_t)n);
	mat[n] = '\0';
	rc = keyset_push(ks, kid, alg, mat, (size_t)n, siglen, why);
out:
	ERR_clear_error();
	BIO_free(bio);
	return rc;
}

/* PEM password callback: encrypted keys are not supported. */
static int
pem_no_password(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/*
 * Reads a public key PEM, or else a private key PEM, from len bytes.
 * Returns a new key (EVP_PKEY_free()), or NULL.
 */
static EVP_PKEY *
pkey_from_pem(const char *pem, size_t len)
{
	BIO		*bio;
	EVP_PKEY	*pk = NULL;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		pk = PEM_read_bio_PUBKEY(bio, NULL, pem_no_password, NULL);
		BIO_free(bio);
	}
	if (pk == NULL && (bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
		pk = PEM_read_bio_PrivateKey(bio, NULL, pem_no_password,
		    NULL);
		BIO_free(bio);
	}
	ERR_clear_error();
	return pk;
}

/*
 * Stores the public half of a PEM key pinned to alg; 0, or -1 logged.
 * Borrows pem only for the call.
 */
int
auth_keyset_add_pem(struct auth_keyset *ks, const char *kid,
    const char *alg, const char *pem, size_t len)
{
	EVP_PKEY	*pk = NULL;
	const char	*why = NULL;
	enum jwa	 a;
	int		 rc = -1;

	if (jwa_from_name(alg, &a) == -1 || a == JWA_HS256)
		why = "alg must be RS256 or ES256";
	else if (pem == NULL || len == 0 || len > PEM_MAX)
		why = "PEM empty or too long";
	else if ((pk = pkey_from_pem(pem, len)) == NULL)
		why = "no public or unencrypted private key in PEM";
	else
		rc = keyset_add_pkey(ks, kid, a, pk, &why);
	if (rc == -1)
		log_warnx("%s: %s", __func__, why);
	EVP_PKEY_free(pk);
	return rc;
}

/*
 * Decodes the base64url string member name of jwk into a new buffer
 * (free()) of 1..max bytes.  Returns NULL if absent or malformed.
 */
static unsigned char *
jwk_b64(struct json_object *jwk, const char *name, size_t max,
    size_t *lenp)
{
	const char	*s;
	unsigned char	*buf;

	if ((s = json_str(jwk, name)) == NULL)
		return NULL;
	if ((buf = b64url_decode(s, strlen(s), lenp)) == NULL)
		return NULL;
	if (*lenp == 0 || *lenp > max) {
		free(buf);
		return NULL;
	}
	return buf;
}

/*
 * Builds a public key of type name from params and checks it (the point
 * is on the curve, the RSA modulus is plausible).  Returns a new key
 * (EVP_PKEY_free()), or NULL.
 */
static EVP_PKEY *
pkey_from_params(const char *name, OSSL_PARAM *params)
{
	EVP_PKEY_CTX	*ctx, *cctx = NULL;
	EVP_PKEY	*pk = NULL;

	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto out;
	if ((cctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(cctx) != 1) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	ERR_clear_error();
	EVP_PKEY_CTX_free(cctx);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

/* Public key of an RSA JWK ("n", "e"), or NULL with *why. */
static EVP_PKEY *
jwk_rsa(struct json_object *jwk, const char **why)
{
	unsigned char	*n = NULL, *e = NULL;
	size_t		 nlen, elen;
	BIGNUM		*bn = NULL, *be = NULL;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY	*pk = NULL;

	*why = "RSA key with missing or malformed n or e";
	if ((n = jwk_b64(jwk, "n", RSA_N_MAX, &nlen)) == NULL ||
	    (e = jwk_b64(jwk, "e", 8, &elen)) == NULL)
		goto out;
	*why = "OpenSSL refused the RSA key";
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	pk = pkey_from_params("RSA", params);
out:
	ERR_clear_error();
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	free(n);
	free(e);
	return pk;
}

/* Public key of an EC P-256 JWK ("x", "y"), or NULL with *why. */
static EVP_PKEY *
jwk_ec(struct json_object *jwk, const char **why)
{
	unsigned char	*x = NULL, *y = NULL, pt[65];
	size_t		 xlen, ylen;
	OSSL_PARAM_BLD	*bld = NULL;
	OSSL_PARAM	*params = NULL;
	EVP_PKEY	*pk = NULL;
	const char	*crv = json_str(jwk, "crv");

	*why = "EC key on a curve other than P-256";
	if (crv == NULL || strcmp(crv, "P-256") != 0)
		goto out;
	*why = "EC key with missing or malformed x or y";
	if ((x = jwk_b64(jwk, "x", 32, &xlen)) == NULL || xlen != 32 ||
	    (y = jwk_b64(jwk, "y", 32, &ylen)) == NULL || ylen != 32)
		goto out;
	/* An uncompressed SEC1 point: 0x04 || x || y. */
	pt[0] = 0x04;
	memcpy(pt + 1, x, 32);
	memcpy(pt + 33, y, 32);
	*why = "OpenSSL refused the EC key";
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "P-256", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pt, sizeof(pt)) != 1 ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	pk = pkey_from_params("EC", params);
out:
	ERR_clear_error();
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	free(x);
	free(y);
	return pk;
}

/*
 * Adds one member of a JWK Set.  Returns 0, or -1 with *why if it is
 * skipped (not for signing, unsupported, malformed, weak, kid taken).
 */
static int
jwk_add(struct auth_keyset *ks, struct json_object *jwk, const char **why)
{
	struct json_object	*v;
	const char		*kty, *use, *alg, *kid = NULL;
	EVP_PKEY		*pk = NULL;
	enum jwa		 a;
	int			 rc = -1;

	*why = "not an object";
	if (!json_object_is_type(jwk, json_type_object))
		goto out;
	*why = "kid is not a string of 1 to 255 bytes";
	if (json_object_object_get_ex(jwk, "kid", &v)) {
		if (!json_is_clean_string(v, KID_MAX))
			goto out;
		kid = json_object_get_string(v);
	}
	*why = "not a signing key";
	if ((use = json_str(jwk, "use")) != NULL && strcmp(use, "sig") != 0)
		goto out;
	*why = "kty is not RSA or EC";
	if ((kty = json_str(jwk, "kty")) == NULL)
		goto out;
	if (strcmp(kty, "RSA") == 0)
		a = JWA_RS256;
	else if (strcmp(kty, "EC") == 0)
		a = JWA_ES256;
	else
		goto out;
	*why = "alg does not match kty or is not RS256/ES256";
	if ((alg = json_str(jwk, "alg")) != NULL &&
	    strcmp(alg, jwa_names[a]) != 0)
		goto out;
	pk = a == JWA_RS256 ? jwk_rsa(jwk, why) : jwk_ec(jwk, why);
	if (pk != NULL)
		rc = keyset_add_pkey(ks, kid, a, pk, why);
out:
	EVP_PKEY_free(pk);
	return rc;
}

/*
 * Adds every usable signing key of a JWK Set, logging each one skipped.
 * 0 if any was added, -1 (logged) otherwise.  Borrows json for the call.
 */
int
auth_keyset_load_jwks(struct auth_keyset *ks, const char *json, size_t len)
{
	struct json_object	*doc = NULL, *keys, *jwk, *v;
	const char		*why, *kid;
	size_t			 i, n, added = 0;
	int			 rc = -1;

	if (json == NULL || len > JWKS_MAX ||
	    (doc = json_parse_object(json, len)) == NULL ||
	    !json_object_object_get_ex(doc, "keys", &keys) ||
	    !json_object_is_type(keys, json_type_array)) {
		log_warnx("%s: not a JWK Set", __func__);
		goto out;
	}
	n = json_object_array_length(keys);
	for (i = 0; i < n; i++) {
		jwk = json_object_array_get_idx(keys, i);
		if (jwk_add(ks, jwk, &why) == 0) {
			added++;
			continue;
		}
		kid = json_object_is_type(jwk, json_type_object) &&
		    json_object_object_get_ex(jwk, "kid", &v) ?
		    json_object_get_string(v) : "(none)";
		log_warnx("%s: key %zu kid %s skipped: %s", __func__, i, kid,
		    why);
	}
	if (added == 0) {
		log_warnx("%s: no usable key", __func__);
		goto out;
	}
	rc = 0;
out:
	json_object_put(doc);
	return rc;
}

/*
 * Decodes n bytes of base64url at s and parses them as a JSON object.
 * Returns a new object (json_object_put()), or NULL with *why.
 */
static struct json_object *
jws_segment_json(const char *s, size_t n, const char **why)
{
	unsigned char		*buf;
	size_t			 blen;
	struct json_object	*o;

	if ((buf = b64url_decode(s, n, &blen)) == NULL) {
		*why = "segment is not base64url";
		return NULL;
	}
	if ((o = json_parse_object((const char *)buf, blen)) == NULL)
		*why = "segment is not a JSON object (or repeats a name)";
	free(buf);
	return o;
}

/*
 * Splits a compact JWS of len bytes into its parsed header and claims.
 * Sets *sig to the signature segment.  Returns 0, or -1 with *why.
 */
static int
jws_split(const char *tok, size_t len, struct json_object **hdr,
    struct json_object **pay, const char **sig, const char **why)
{
	const char	*d1, *d2;

	*why = "not three segments";
	if ((d1 = memchr(tok, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) != NULL)
		return -1;
	/* An empty signature is left to jws_verify_sig(), after alg. */
	*why = "empty segment or padding";
	if (d1 == tok || d2 == d1 + 1 || memchr(tok, '=', len) != NULL)
		return -1;
	if ((*hdr = jws_segment_json(tok, (size_t)(d1 - tok), why)) == NULL ||
	    (*pay = jws_segment_json(d1 + 1, (size_t)(d2 - d1 - 1),
	    why)) == NULL)
		return -1;
	*sig = d2 + 1;
	return 0;
}

/*
 * The key for a token with kid (NULL if none) and algorithm alg: the key
 * with that kid; else, if the token has a kid, the one kid-less key of
 * alg; else the one key of alg.  NULL if there is none or no single one.
 */
static const struct auth_key *
keyset_find(const struct auth_keyset *ks, const char *kid, enum jwa alg)
{
	const struct auth_key	*found = NULL;
	size_t			 i, n = 0;

	if (ks == NULL)
		return NULL;
	for (i = 0; kid != NULL && i < ks->nkeys; i++)
		if (ks->keys[i].kid != NULL &&
		    strcmp(ks->keys[i].kid, kid) == 0)
			return &ks->keys[i];
	for (i = 0; i < ks->nkeys; i++) {
		if (ks->keys[i].alg != alg ||
		    (kid != NULL && ks->keys[i].kid != NULL))
			continue;
		found = &ks->keys[i];
		n++;
	}
	return n == 1 ? found : NULL;
}

/*
 * Checks the JOSE header and selects the key that must have signed the
 * token; "jku", "x5u", "jwk" and "x5c" are never looked at.  Returns 0
 * with *keyp set, or -1 with *why.
 */
static int
jws_key(const struct auth_keyset *ks, struct json_object *hdr,
    const struct auth_key **keyp, const char **why)
{
	struct json_object	*v;
	const char		*alg, *typ, *kid = NULL;
	enum jwa		 a;

	*why = "alg missing, none or not supported";
	if ((alg = json_str(hdr, "alg")) == NULL ||
	    jwa_from_name(alg, &a) == -1)
		return -1;
	*why = "crit header not understood";
	if (json_object_object_get_ex(hdr, "crit", &v))
		return -1;
	*why = "typ is not JWT";
	if (json_object_object_get_ex(hdr, "typ", &v) &&
	    ((typ = json_str(hdr, "typ")) == NULL ||
	    strcasecmp(typ, "JWT") != 0))
		return -1;
	*why = "kid malformed";
	if (json_object_object_get_ex(hdr, "kid", &v)) {
		if (!json_is_clean_string(v, KID_MAX))
			return -1;
		kid = json_object_get_string(v);
	}
	*why = "no key for this kid and alg";
	if ((*keyp = keyset_find(ks, kid, a)) == NULL)
		return -1;
	/* RFC 8725 3.1: the key decides the algorithm, not the token. */
	*why = "alg differs from the key's algorithm";
	if ((*keyp)->alg != a)
		return -1;
	return 0;
}

/*
 * Verifies the signature of tok with key: the signature segment sig must
 * decode to the size key produces, libjwt must accept the token and must
 * have used the key's algorithm.  Returns 0, or -1 with *why.
 */
static int
jws_verify_sig(const struct auth_key *key, const char *tok, const char *sig,
    const char **why)
{
	unsigned char	*raw;
	size_t		 rawlen;
	jwt_t		*jwt = NULL;
	int		 rc = -1;

	*why = "signature malformed";
	if ((raw = b64url_decode(sig, strlen(sig), &rawlen)) == NULL)
		goto out;
	if (rawlen != key->siglen)
		goto out;
	*why = "signature does not verify";
	if (jwt_decode(&jwt, tok, key->mat, (int)key->len) != 0 || jwt == NULL)
		goto out;
	*why = "libjwt used another algorithm";
	if (jwt_get_alg(jwt) != jwa_libjwt[key->alg])
		goto out;
	rc = 0;
out:
	ERR_clear_error();
	jwt_free(jwt);
	free(raw);
	return rc;
}

/*
 * Reads the NumericDate member name of o into *out (fractions dropped).
 * Returns 1 if present and in [0, DATE_MAX], 0 if absent, -1 otherwise.
 */
static int
claim_date(struct json_object *o, const char *name, int64_t *out)
{
	struct json_object	*v;
	double			 d;

	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_int)) {
		*out = json_object_get_int64(v);
	} else if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		/* Also false for NaN. */
		if (!(d >= 0 && d <= (double)DATE_MAX))
			return -1;
		*out = (int64_t)d;
	} else
		return -1;
	return *out >= 0 && *out <= DATE_MAX ? 1 : -1;
}

/* Checks exp, nbf and iat at now.  Returns 0, or -1 with *why. */
static int
claims_check_time(struct json_object *pay, int64_t leeway, int64_t now,
    struct auth_claims *c, const char **why)
{
	int64_t	 nbf;
	int	 r;

	*why = "clock out of range";
	if (now < 0 || now > DATE_MAX)
		return -1;
	*why = "exp missing, malformed or past";
	if (claim_date(pay, "exp", &c->exp) != 1 || now > c->exp + leeway)
		return -1;
	*why = "nbf malformed or in the future";
	if ((r = claim_date(pay, "nbf", &nbf)) == -1 ||
	    (r == 1 && now + leeway < nbf))
		return -1;
	*why = "iat malformed or in the future";
	if ((r = claim_date(pay, "iat", &c->iat)) == -1 ||
	    (r == 1 && c->iat > now + leeway))
		return -1;
	return 0;
}

/* Whether the aud claim is audience or an array of strings holding it. */
static bool
claims_aud_ok(struct json_object *pay, const char *audience)
{
	struct json_object	*v, *e;
	size_t			 i, n;
	bool			 found = false;

	if (!json_object_object_get_ex(pay, "aud", &v))
		return false;
	if (json_object_is_type(v, json_type_string))
		return json_str_eq(v, audience);
	if (!json_object_is_type(v, json_type_array))
		return false;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			return false;
		if (json_str_eq(e, audience))
			found = true;
	}
	return found;
}

/*
 * Collects role bits from a "roles" array of strings and a "scope" string
 * of space-separated names; unknown names are ignored, implied roles set.
 * Returns 0, or -1 if either claim has the wrong type.
 */
static int
claims_roles(struct json_object *pay, unsigned *roles)
{
	struct json_object	*v, *e;
	const char		*s;
	size_t			 i, n;

	*roles = 0;
	if (json_object_object_get_ex(pay, "roles", &v)) {
		if (!json_object_is_type(v, json_type_array))
			return -1;
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			e = json_object_array_get_idx(v, i);
			if (!json_object_is_type(e, json_type_string))
				return -1;
			*roles |= role_bit(json_object_get_string(e),
			    (size_t)json_object_get_string_len(e));
		}
	}
	if (json_object_object_get_ex(pay, "scope", &v)) {
		if (!json_object_is_type(v, json_type_string))
			return -1;
		for (s = json_object_get_string(v); *s != '\0'; s += n) {
			s += strspn(s, " ");
			n = strcspn(s, " ");
			*roles |= role_bit(s, n);
		}
	}
	*roles = roles_imply(*roles);
	return 0;
}

/*
 * Checks the claims against issuer, audience and the clock and fills *c.
 * Returns 0, or -1 with *why.
 */
static int
claims_check(struct json_object *pay, const char *issuer,
    const char *audience, int64_t leeway, int64_t now,
    struct auth_claims *c, const char **why)
{
	struct json_object	*v;

	*why = "no issuer or audience configured";
	if (issuer == NULL || audience == NULL)
		return -1;
	if (claims_check_time(pay, leeway, now, c, why) == -1)
		return -1;
	*why = "iss missing or not ours";
	if (!json_object_object_get_ex(pay, "iss", &v) ||
	    !json_str_eq(v, issuer))
		return -1;
	*why = "aud missing or not ours";
	if (!claims_aud_ok(pay, audience))
		return -1;
	*why = "sub missing or malformed";
	if (!json_object_object_get_ex(pay, "sub", &v) ||
	    !json_is_clean_string(v, sizeof(c->sub) - 1) ||
	    str_copy(c->sub, sizeof(c->sub), json_object_get_string(v)) == -1)
		return -1;
	*why = "jti malformed or too long";
	if (json_object_object_get_ex(pay, "jti", &v) &&
	    (!json_is_clean_string(v, sizeof(c->jti) - 1) ||
	    str_copy(c->jti, sizeof(c->jti), json_object_get_string(v)) == -1))
		return -1;
	*why = "roles or scope malformed";
	if (claims_roles(pay, &c->roles) == -1)
		return -1;
	return 0;
}

/*
 * RFC 8725 checks in order: size, shape, header, key (alg pinned),
 * signature (libjwt), claims.  AUTH_OK fills *out; any other result
 * zeroes it and logs one fixed reason, never the token.
 */
enum auth_status
auth_jwt_verify(const struct auth_keyset *ks, const char *token,
    const char *issuer, const char *audience, int64_t leeway_s, int64_t now,
    struct auth_claims *out)
{
	struct json_object	*hdr = NULL, *pay = NULL;
	const struct auth_key	*key;
	struct auth_claims	 c;
	const char		*sig, *why = NULL;
	enum auth_status	 st = AUTH_INVALID_TOKEN;
	size_t			 len;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	if (token == NULL || (len = strnlen(token, AUTH_TOKEN_MAX + 1)) == 0 ||
	    len > AUTH_TOKEN_MAX) {
		why = "token missing or too long";
		st = AUTH_INVALID_REQUEST;
		goto out;
	}
	if (leeway_s < 0)
		leeway_s = 0;
	if (leeway_s > AUTH_LEEWAY_MAX)
		leeway_s = AUTH_LEEWAY_MAX;
	if (jws_split(token, len, &hdr, &pay, &sig, &why) == -1 ||
	    jws_key(ks, hdr, &key, &why) == -1 ||
	    jws_verify_sig(key, token, sig, &why) == -1 ||
	    claims_check(pay, issuer, audience, leeway_s, now, &c, &why) == -1)
		goto out;
	*out = c;
	st = AUTH_OK;
out:
	if (st != AUTH_OK)
		log_info("%s: token refused: %s", __func__, why);
	json_object_put(hdr);
	json_object_put(pay);
	return st;
}

/* Returns a new JSON object text {"roles":[...]} (free()). */
static char *
roles_json(unsigned roles)
{
	struct json_object	*o, *a;
	size_t			 i;
	char			*s;

	o = json_object_new_object();
	a = json_object_new_array();
	if (o == NULL || a == NULL)
		abort();
	for (i = 0; i < sizeof(role_tab) / sizeof(role_tab[0]); i++)
		if ((roles & role_tab[i].bit) != 0 &&
		    json_object_array_add(a,
		    json_object_new_string(role_tab[i].name)) != 0)
			abort();
	if (json_object_object_add(o, "roles", a) != 0)
		abort();
	s = xstrdup(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s;
}

/* Checks auth_jwt_mint()'s arguments; returns 0, or -1 with *why. */
static int
mint_args_check(const char *alg, const unsigned char *key, size_t keylen,
    const char *issuer, const char *audience, const char *sub,
    unsigned roles, int64_t ttl_s, int64_t now, const char **why)
{
	enum jwa	 a;

	*why = "alg must be HS256, RS256 or ES256";
	if (jwa_from_name(alg, &a) == -1)
		return -1;
	*why = "key missing, too short or too long";
	if (key == NULL || keylen > INT_MAX ||
	    keylen < (a == JWA_HS256 ? AUTH_HS256_MIN : 1))
		return -1;
	*why = "issuer, audience or sub missing";
	if (issuer == NULL || audience == NULL || sub == NULL ||
	    *sub == '\0' || strlen(sub) > 255)
		return -1;
	*why = "unknown role bits";
	if ((roles & ~(unsigned)(ROLE_READER | ROLE_WRITER | ROLE_ADMIN)) != 0)
		return -1;
	*why = "ttl or clock out of range";
	if (ttl_s <= 0 || ttl_s > TTL_MAX || now < 0 || now > DATE_MAX - ttl_s)
		return -1;
	return 0;
}

/* Signed token as a new string (free()), or NULL with the reason logged. */
char *
auth_jwt_mint(const char *alg, const unsigned char *key, size_t keylen,
    const char *kid, const char *issuer, const char *audience,
    const char *sub, unsigned roles, int64_t ttl_s, int64_t now)
{
	jwt_t		*jwt = NULL;
	char		*tok = NULL, *rj = NULL, jti[33];
	unsigned char	 rnd[16];
	const char	*why;

	if (mint_args_check(alg, key, keylen, issuer, audience, sub, roles,
	    ttl_s, now, &why) == -1)
		goto out;
	why = "RAND_bytes failed";
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto out;
	hex_encode(jti, rnd, sizeof(rnd));
	rj = roles_json(roles_imply(roles));
	why = "libjwt cannot build the token";
	if (jwt_new(&jwt) != 0 ||
	    jwt_set_alg(jwt, jwt_str_alg(alg), key, (int)keylen) != 0 ||
	    jwt_add_header(jwt, "typ", "JWT") != 0 ||
	    (kid != NULL && jwt_add_header(jwt, "kid", kid) != 0) ||
	    jwt_add_grant(jwt, "iss", issuer) != 0 ||
	    jwt_add_grant(jwt, "aud", audience) != 0 ||
	    jwt_add_grant(jwt, "sub", sub) != 0 ||
	    jwt_add_grant(jwt, "jti", jti) != 0 ||
	    jwt_add_grant_int(jwt, "iat", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "nbf", (long)now) != 0 ||
	    jwt_add_grant_int(jwt, "exp", (long)(now + ttl_s)) != 0 ||
	    jwt_add_grants_json(jwt, rj) != 0)
		goto out;
	why = "libjwt cannot sign (key does not suit alg?)";
	tok = jwt_encode_str(jwt);
out:
	if (tok == NULL)
		log_warnx("%s: %s", __func__, why);
	ERR_clear_error();
	jwt_free(jwt);
	free(rj);
	return tok;
}
