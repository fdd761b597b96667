/*
 * Rolodex - salted slow hashes for passwords and secrets (see auth_pw.h).
 *
 * scrypt through OpenSSL's EVP_PBE_scrypt() with r = 8, p = 1 and
 * N = 2^ln.  The parameters travel in the stored string, and verification
 * accepts only a bounded range of them, so a corrupt or hostile row cannot
 * make a worker spend minutes or gigabytes.  Buffers that held a password
 * or a derived key are wiped with OPENSSL_cleanse() before they are freed.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth_pw.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define PW_PREFIX	"$scrypt$"
#define PW_LN_MIN	10
#define PW_LN_MAX	20
#define PW_LN_DEFAULT	15
#define PW_R		8		/* r we hash with */
#define PW_R_MAX	16
#define PW_P		1		/* p we hash with */
#define PW_P_MAX	4
#define PW_SALT_LEN	16		/* bytes of salt we generate */
#define PW_SALT_MAX	64
#define PW_KEY_LEN	32		/* bytes of key we derive */
#define PW_KEY_MAX	64
#define PW_MEM_MAX	(UINT64_C(1) << 30)	/* scrypt memory, bytes */
#define PW_STORED_MAX	512		/* bytes of a stored string */
#define TOKEN_MAX	1024		/* bytes of a random token */

/* A stored hash taken apart; salt and key are owned. */
struct pw_hash {
	int		 ln, r, p;
	unsigned char	*salt;
	size_t		 saltlen;
	unsigned char	*key;
	size_t		 keylen;
};

static int	 pw_ln = PW_LN_DEFAULT;

/* Sets ln for later hashes, clamped to [PW_LN_MIN, PW_LN_MAX]. */
void
auth_pw_set_cost(int ln)
{
	if (ln < PW_LN_MIN)
		ln = PW_LN_MIN;
	if (ln > PW_LN_MAX)
		ln = PW_LN_MAX;
	pw_ln = ln;
}

/*
 * Derives keylen bytes from the password with scrypt(N = 2^ln, r, p).
 * Returns 0, or -1 (logged) if the cost needs more than PW_MEM_MAX or
 * OpenSSL fails.
 */
static int
pw_derive(const char *pw, size_t pwlen, const unsigned char *salt,
    size_t saltlen, const struct pw_hash *h, unsigned char *key,
    size_t keylen)
{
	uint64_t	 n = UINT64_C(1) << h->ln, mem;

	/* What OpenSSL will allocate: 128 r (N + 2) for V, 128 r p for B. */
	mem = 128 * (uint64_t)h->r * (n + 2 + (uint64_t)h->p);
	if (mem > PW_MEM_MAX) {
		log_warnx("%s: scrypt cost too high", __func__);
		return -1;
	}
	if (EVP_PBE_scrypt(pw, pwlen, salt, saltlen, n, (uint64_t)h->r,
	    (uint64_t)h->p, mem + 4096, key, keylen) != 1) {
		ERR_clear_error();
		log_warnx("%s: EVP_PBE_scrypt failed", __func__);
		return -1;
	}
	return 0;
}

/* New "$scrypt$..." string (free()), or NULL logged; wipes the key. */
char *
auth_pw_hash(const char *password)
{
	struct pw_hash	 h = { pw_ln, PW_R, PW_P, NULL, 0, NULL, 0 };
	unsigned char	 salt[PW_SALT_LEN], key[PW_KEY_LEN];
	char		*s = NULL, *k = NULL, *out = NULL;
	size_t		 len;

	if (password == NULL ||
	    (len = strnlen(password, AUTH_PW_MAX + 1)) > AUTH_PW_MAX) {
		log_warnx("%s: password missing or too long", __func__);
		return NULL;
	}
	if (RAND_bytes(salt, sizeof(salt)) != 1) {
		ERR_clear_error();
		log_warnx("%s: RAND_bytes failed", __func__);
		goto out;
	}
	if (pw_derive(password, len, salt, sizeof(salt), &h, key,
	    sizeof(key)) == -1)
		goto out;
	s = b64url_encode(salt, sizeof(salt));
	k = b64url_encode(key, sizeof(key));
	out = xasprintf(PW_PREFIX "ln=%d,r=%d,p=%d$%s$%s", h.ln, h.r, h.p,
	    s, k);
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (k != NULL)
		OPENSSL_cleanse(k, strlen(k));
	free(s);
	free(k);
	return out;
}

/*
 * Parses "name=<decimal>" ending in term at *pp into [min, max] (no
 * leading zeros) and moves *pp past term.  Returns 0, or -1.
 */
static int
pw_param(const char **pp, const char *name, char term, int min, int max,
    int *out)
{
	const char	*p = *pp, *e;
	size_t		 n = strlen(name);
	char		 buf[4];
	int64_t		 v;

	if (strncmp(p, name, n) != 0 || p[n] != '=')
		return -1;
	p += n + 1;
	if ((e = strchr(p, term)) == NULL || e == p ||
	    (size_t)(e - p) >= sizeof(buf) || *p == '0')
		return -1;
	memcpy(buf, p, (size_t)(e - p));
	buf[e - p] = '\0';
	if (parse_int64(buf, min, max, &v) == -1)
		return -1;
	*out = (int)v;
	*pp = e + 1;
	return 0;
}

/*
 * Takes a stored hash apart into *h, whose salt and key the caller frees
 * even on failure.  Returns 0, or -1 if anything is malformed or out of
 * bounds.
 */
static int
pw_parse(const char *stored, struct pw_hash *h)
{
	const char	*p, *e;

	if (strnlen(stored, PW_STORED_MAX + 1) > PW_STORED_MAX ||
	    strncmp(stored, PW_PREFIX, strlen(PW_PREFIX)) != 0)
		return -1;
	p = stored + strlen(PW_PREFIX);
	if (pw_param(&p, "ln", ',', PW_LN_MIN, PW_LN_MAX, &h->ln) == -1 ||
	    pw_param(&p, "r", ',', 1, PW_R_MAX, &h->r) == -1 ||
	    pw_param(&p, "p", '$', 1, PW_P_MAX, &h->p) == -1)
		return -1;
	if ((e = strchr(p, '$')) == NULL ||
	    memchr(p, '=', strlen(p)) != NULL)
		return -1;
	h->salt = b64url_decode(p, (size_t)(e - p), &h->saltlen);
	h->key = b64url_decode(e + 1, strlen(e + 1), &h->keylen);
	if (h->salt == NULL || h->key == NULL ||
	    h->saltlen < PW_SALT_LEN || h->saltlen > PW_SALT_MAX ||
	    h->keylen < PW_KEY_LEN || h->keylen > PW_KEY_MAX)
		return -1;
	return 0;
}

/* Constant-time match of a recomputed key; false on anything odd. */
bool
auth_pw_verify(const char *password, const char *stored)
{
	struct pw_hash	 h;
	unsigned char	 key[PW_KEY_MAX];
	size_t		 len;
	bool		 ok = false;

	memset(&h, 0, sizeof(h));
	if (password == NULL || stored == NULL ||
	    (len = strnlen(password, AUTH_PW_MAX + 1)) > AUTH_PW_MAX)
		goto out;
	if (pw_parse(stored, &h) == -1) {
		log_warnx("%s: malformed stored hash", __func__);
		goto out;
	}
	if (pw_derive(password, len, h.salt, h.saltlen, &h, key,
	    h.keylen) == -1)
		goto out;
	ok = CRYPTO_memcmp(key, h.key, h.keylen) == 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	if (h.key != NULL)
		OPENSSL_cleanse(h.key, h.keylen);
	free(h.salt);
	free(h.key);
	return ok;
}

/* New base64url string of nbytes random bytes (free()), or NULL. */
char *
auth_random_token(size_t nbytes)
{
	unsigned char	*buf;
	char		*out = NULL;

	if (nbytes == 0 || nbytes > TOKEN_MAX) {
		log_warnx("%s: %zu bytes out of range", __func__, nbytes);
		return NULL;
	}
	buf = xmalloc(nbytes);
	if (RAND_bytes(buf, (int)nbytes) != 1) {
		ERR_clear_error();
		log_warnx("%s: RAND_bytes failed", __func__);
		goto out;
	}
	out = b64url_encode(buf, nbytes);
out:
	OPENSSL_cleanse(buf, nbytes);
	free(buf);
	return out;
}
