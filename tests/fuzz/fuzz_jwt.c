/*
 * Fuzz target: access token verification (RFC 7519 / RFC 8725).
 *
 * A fixed keyset is made at start: a kid-less HS256 secret, an RS256 key
 * (kid "rs") and an ES256 key (kid "es"), the last two generated fresh.
 * The first input byte picks a path:
 *   0  the rest is a compact token, verified as the API verifies one;
 *   1  the rest is a JOSE header and a claims set separated by the first
 *      NUL byte; they are encoded and signed with the HS256 secret, so
 *      the checks behind the signature (key choice, alg pinning, "crit",
 *      "typ", time, "iss", "aud", roles) are reached;
 *   2  the rest is a JWK Set loaded into a fresh keyset.
 * Invariants: no crash or leak; AUTH_OK never for a token whose "exp"
 * is past by more than the leeway.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth_jwt.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define ISS	"https://id.example"
#define AUD	"rolodex"
#define NOW	INT64_C(1700000000)

static const unsigned char hs_secret[] =
    "fuzz-hs256-secret-0123456789abcdefghij";
static struct auth_keyset *keys;

/* Add the public half of a freshly generated key of type kt. */
static void
add_generated(const char *kid, const char *alg, EVP_PKEY *pk)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*pem;
	long	 n;

	if (pk == NULL || b == NULL || PEM_write_bio_PUBKEY(b, pk) != 1)
		abort();
	n = BIO_get_mem_data(b, &pem);
	if (auth_keyset_add_pem(keys, kid, alg, pem, (size_t)n) == -1)
		abort();
	BIO_free(b);
	EVP_PKEY_free(pk);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 0);
	keys = auth_keyset_new();
	if (auth_keyset_add_hs256(keys, NULL, hs_secret,
	    sizeof(hs_secret) - 1) == -1)
		abort();
	add_generated("rs", "RS256", EVP_RSA_gen(2048));
	add_generated("es", "ES256", EVP_EC_gen("P-256"));
	return 0;
}

/* Verify tok; an accepted token must not have expired (leeway 60 s). */
static void
verify(const char *tok)
{
	struct auth_claims	 c;

	if (auth_jwt_verify(keys, tok, ISS, AUD, 60, NOW, &c) == AUTH_OK &&
	    c.exp < NOW - 60)
		abort();
}

/* Encode header and claims, sign them with the HS256 secret, verify. */
static void
signed_token(const char *in, size_t len)
{
	const char	*nul = memchr(in, '\0', len);
	unsigned char	 mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	char		*h, *p, *s, *input, *tok;
	size_t		 hlen = nul != NULL ? (size_t)(nul - in) : len;

	h = b64url_encode(in, hlen);
	p = nul != NULL ? b64url_encode(nul + 1, len - hlen - 1) :
	    xstrdup("");
	input = xasprintf("%s.%s", h, p);
	if (HMAC(EVP_sha256(), hs_secret, sizeof(hs_secret) - 1,
	    (const unsigned char *)input, strlen(input), mac, &maclen) == NULL)
		abort();
	s = b64url_encode(mac, maclen);
	tok = xasprintf("%s.%s", input, s);
	verify(tok);
	free(tok);
	free(s);
	free(input);
	free(p);
	free(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_keyset	*ks;
	char			*s;

	if (size == 0)
		return 0;
	switch (data[0] % 3) {
	case 0:
		s = xstrndup((const char *)data + 1, size - 1);
		verify(s);
		free(s);
		break;
	case 1:
		signed_token((const char *)data + 1, size - 1);
		break;
	default:
		ks = auth_keyset_new();
		(void)auth_keyset_load_jwks(ks, (const char *)data + 1,
		    size - 1);
		auth_keyset_free(ks);
		break;
	}
	return 0;
}
