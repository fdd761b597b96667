/*
 * Rolodex unit tests: auth_jwt (RFC 8725 verification, minting, roles).
 *
 * Keys are generated at test time (RSA 2048, EC P-256 and a few wrong
 * ones) and tokens are forged by hand: JSON header and claims, base64url,
 * signed with OpenSSL directly, so the verifier is checked against an
 * implementation other than the libjwt it uses.  The keys live for the
 * whole suite: the unchecked fixture makes them once and the teardown of
 * the last test case frees them (running a subset with CK_RUN_CASE leaves
 * them allocated at exit).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "auth_jwt.h"
#include "tests.h"
#include "util.h"
#include "xalloc.h"

#define NOW	INT64_C(1700000000)
#define LEEWAY	30
#define ISS	"https://id.example.test/"
#define AUD	"rolodex-api"

/* Claims members; the standard set is valid at NOW. */
#define M_ISS	"\"iss\":\"" ISS "\""
#define M_AUD	"\"aud\":\"" AUD "\""
#define M_SUB	"\"sub\":\"alice\""
#define M_IAT	"\"iat\":1699999990"
#define M_EXP	"\"exp\":1700000300"
#define M_BASE	M_ISS "," M_AUD "," M_SUB "," M_IAT
#define P_STD	"{" M_BASE "," M_EXP ",\"jti\":\"j-1\",\"roles\":[\"writer\"]}"

#define H_HS	"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"hs1\"}"
#define H_RS	"{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}"
#define H_ES	"{\"alg\":\"ES256\",\"kid\":\"ec1\"}"

static const unsigned char hs_secret[] =
    "k3y-for-unit-tests-only-0123456789abcdef";
#define HS_LEN	(sizeof(hs_secret) - 1)

static EVP_PKEY	*rsa_key, *rsa_weak, *ec_key, *ec_other, *ec_p384;
static char	*rsa_pub, *rsa_priv, *ec_pub, *ec_priv, *ec_other_priv;
static char	*rsa_weak_pub, *ec_p384_pub;
static struct auth_keyset *ks;
static int	 fx_tcases, fx_torn_down;	/* test cases using the keys */

/* Returns a new PEM string (public or private) of pk. */
static char *
pem_of(EVP_PKEY *pk, int priv)
{
	BIO	*bio;
	char	*data, *s;
	long	 n;

	bio = BIO_new(BIO_s_mem());
	ck_assert_ptr_nonnull(bio);
	if (priv)
		ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pk, NULL, NULL,
		    0, NULL, NULL), 1);
	else
		ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, pk), 1);
	n = BIO_get_mem_data(bio, &data);
	ck_assert_int_gt(n, 0);
	s = xstrndup(data, (size_t)n);
	BIO_free(bio);
	return s;
}

static void
fx_setup(void)
{
	if (ks != NULL)
		return;
	rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ec_p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	ck_assert(rsa_key != NULL && rsa_weak != NULL && ec_key != NULL &&
	    ec_other != NULL && ec_p384 != NULL);
	rsa_pub = pem_of(rsa_key, 0);
	rsa_priv = pem_of(rsa_key, 1);
	ec_pub = pem_of(ec_key, 0);
	ec_priv = pem_of(ec_key, 1);
	ec_other_priv = pem_of(ec_other, 1);
	rsa_weak_pub = pem_of(rsa_weak, 0);
	ec_p384_pub = pem_of(ec_p384, 0);

	/* RSA from its public PEM, EC from its private PEM. */
	ks = auth_keyset_new();
	ck_assert_int_eq(auth_keyset_add_hs256(ks, "hs1", hs_secret, HS_LEN),
	    0);
	ck_assert_int_eq(auth_keyset_add_pem(ks, "rsa1", "RS256", rsa_pub,
	    strlen(rsa_pub)), 0);
	ck_assert_int_eq(auth_keyset_add_pem(ks, "ec1", "ES256", ec_priv,
	    strlen(ec_priv)), 0);
}

static void
fx_teardown(void)
{
	if (++fx_torn_down < fx_tcases)
		return;
	auth_keyset_free(ks);
	ks = NULL;
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(rsa_weak);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(ec_other);
	EVP_PKEY_free(ec_p384);
	free(rsa_pub);
	free(rsa_priv);
	free(ec_pub);
	free(ec_priv);
	free(ec_other_priv);
	free(rsa_weak_pub);
	free(ec_p384_pub);
}

static char *
b64s(const char *s)
{
	return b64url_encode(s, strlen(s));
}

/* ES256 wants r || s, 32 bytes each, not the DER OpenSSL produces. */
static char *
ecdsa_der_to_jose(const unsigned char *der, size_t len)
{
	const unsigned char	*p = der;
	const BIGNUM		*r, *s;
	unsigned char		 raw[64];
	ECDSA_SIG		*sig;

	sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(sig);
	ECDSA_SIG_get0(sig, &r, &s);
	ck_assert_int_eq(BN_bn2binpad(r, raw, 32), 32);
	ck_assert_int_eq(BN_bn2binpad(s, raw + 32, 32), 32);
	ECDSA_SIG_free(sig);
	return b64url_encode(raw, sizeof(raw));
}

/* Signature of in, base64url: RSA/EC with pk, else HMAC-SHA256. */
static char *
sign_b64(EVP_PKEY *pk, const void *secret, size_t slen, const char *in,
    int der)
{
	unsigned char	 buf[1024];
	unsigned int	 mdlen;
	size_t		 len = sizeof(buf);
	EVP_MD_CTX	*ctx;

	if (pk == NULL) {
		ck_assert_ptr_nonnull(HMAC(EVP_sha256(), secret, (int)slen,
		    (const unsigned char *)in, strlen(in), buf, &mdlen));
		return b64url_encode(buf, mdlen);
	}
	ctx = EVP_MD_CTX_new();
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    pk), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, buf, &len,
	    (const unsigned char *)in, strlen(in)), 1);
	EVP_MD_CTX_free(ctx);
	if (EVP_PKEY_is_a(pk, "EC") && !der)
		return ecdsa_der_to_jose(buf, len);
	return b64url_encode(buf, len);
}

/* A new token "b64(hdr).b64(pay).sig" signed as sign_b64() does. */
static char *
forge_x(EVP_PKEY *pk, const void *secret, size_t slen, const char *hdr,
    const char *pay, int der)
{
	char	*h, *p, *in, *sig, *tok;

	h = b64s(hdr);
	p = b64s(pay);
	in = xasprintf("%s.%s", h, p);
	sig = sign_b64(pk, secret, slen, in, der);
	tok = xasprintf("%s.%s", in, sig);
	free(h);
	free(p);
	free(in);
	free(sig);
	return tok;
}

#define FORGE_HS(h, p)	forge_x(NULL, hs_secret, HS_LEN, (h), (p), 0)
#define FORGE_PK(k, h, p) forge_x((k), NULL, 0, (h), (p), 0)

/* A new token with an unsigned (arbitrary) third segment. */
static char *
forge_raw(const char *hdr, const char *pay, const char *sig)
{
	char	*h, *p, *tok;

	h = b64s(hdr);
	p = b64s(pay);
	tok = xasprintf("%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	return tok;
}

/* Verifies tok (taken) against the fixture keyset at NOW. */
static enum auth_status
vf(char *tok, struct auth_claims *c)
{
	struct auth_claims	 dummy;
	enum auth_status	 st;

	st = auth_jwt_verify(ks, tok, ISS, AUD, LEEWAY, NOW,
	    c != NULL ? c : &dummy);
	free(tok);
	return st;
}

#define OK(tok)		ck_assert_int_eq(vf((tok), NULL), AUTH_OK)
#define BAD(tok)	ck_assert_int_eq(vf((tok), NULL), AUTH_INVALID_TOKEN)

/*
 * valid
 */

START_TEST(test_jwt_ok_hs256)
{
	struct auth_claims	 c;

	ck_assert_int_eq(vf(FORGE_HS(H_HS, P_STD), &c), AUTH_OK);
	ck_assert_str_eq(c.sub, "alice");
	ck_assert_uint_eq(c.roles, ROLE_WRITER | ROLE_READER);
	ck_assert_int_eq(c.exp, 1700000300);
	ck_assert_int_eq(c.iat, 1699999990);
	ck_assert_str_eq(c.jti, "j-1");
}
END_TEST

START_TEST(test_jwt_ok_rs256)
{
	struct auth_claims	 c;

	ck_assert_int_eq(vf(FORGE_PK(rsa_key, H_RS, "{" M_BASE "," M_EXP
	    ",\"roles\":[\"admin\"]}"), &c), AUTH_OK);
	ck_assert_str_eq(c.sub, "alice");
	ck_assert_uint_eq(c.roles, ROLE_ADMIN | ROLE_WRITER | ROLE_READER);
	ck_assert_str_eq(c.jti, "");
}
END_TEST

START_TEST(test_jwt_ok_es256)
{
	struct auth_claims	 c;

	ck_assert_int_eq(vf(FORGE_PK(ec_key, H_ES, "{" M_BASE "," M_EXP
	    ",\"roles\":[\"reader\"]}"), &c), AUTH_OK);
	ck_assert_uint_eq(c.roles, ROLE_READER);
}
END_TEST

START_TEST(test_jwt_ok_no_kid)
{
	/* Without a kid: the only key of the header's algorithm. */
	OK(FORGE_HS("{\"alg\":\"HS256\"}", P_STD));
	OK(FORGE_PK(rsa_key, "{\"alg\":\"RS256\"}", P_STD));
	OK(FORGE_PK(ec_key, "{\"alg\":\"ES256\",\"typ\":\"jwt\"}", P_STD));
}
END_TEST

START_TEST(test_jwt_ok_aud_array)
{
	OK(FORGE_HS(H_HS, "{" M_ISS ",\"aud\":[\"other\",\"" AUD "\"],"
	    M_SUB "," M_EXP "}"));
}
END_TEST

START_TEST(test_jwt_ok_within_leeway)
{
	/* exp + leeway == now is still valid; so is nbf == now + leeway. */
	OK(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1699999970}"));
	OK(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"nbf\":1700000030}"));
	OK(FORGE_HS(H_HS, "{" M_ISS "," M_AUD "," M_SUB ","
	    "\"iat\":1700000030," M_EXP "}"));
	/* NumericDate may have a fraction. */
	OK(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1700000300.5}"));
}
END_TEST

START_TEST(test_jwt_ok_leeway_clamped)
{
	struct auth_claims	 c;
	char			*t;

	/* 3600 s asked, 60 s granted. */
	t = FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1699999940}");
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, 3600, NOW, &c),
	    AUTH_OK);
	free(t);
	t = FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1699999939}");
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, 3600, NOW, &c),
	    AUTH_INVALID_TOKEN);
	free(t);
	/* Negative leeway counts as 0. */
	t = FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1699999999}");
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, -100, NOW, &c),
	    AUTH_INVALID_TOKEN);
	free(t);
}
END_TEST

START_TEST(test_jwt_ok_roles_scope)
{
	struct auth_claims	 c;

	ck_assert_int_eq(vf(FORGE_HS(H_HS, "{" M_BASE "," M_EXP
	    ",\"scope\":\"openid  admin profile\"}"), &c), AUTH_OK);
	ck_assert_uint_eq(c.roles, ROLE_ADMIN | ROLE_WRITER | ROLE_READER);
	/* Unknown names are ignored, not fatal. */
	ck_assert_int_eq(vf(FORGE_HS(H_HS, "{" M_BASE "," M_EXP
	    ",\"roles\":[\"superuser\",\"reader\",\"Admin\"]}"), &c), AUTH_OK);
	ck_assert_uint_eq(c.roles, ROLE_READER);
	ck_assert_int_eq(vf(FORGE_HS(H_HS, "{" M_BASE "," M_EXP "}"), &c),
	    AUTH_OK);
	ck_assert_uint_eq(c.roles, 0);
}
END_TEST

/* A listening loopback socket for the "no outbound fetch" checks. */
static int
listener(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

START_TEST(test_jwt_ok_jku_ignored)
{
	char	*hdr;
	int	 fd, port;

	/* Signed by our key: "jku" and friends change nothing. */
	fd = listener(&port);
	hdr = xasprintf("{\"alg\":\"RS256\",\"kid\":\"rsa1\","
	    "\"jku\":\"http://127.0.0.1:%d/jwks.json\","
	    "\"x5u\":\"http://127.0.0.1:9/\","
	    "\"x5c\":[\"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\"]}", port);
	OK(FORGE_PK(rsa_key, hdr, P_STD));
	/* And nobody called. */
	ck_assert_int_eq(accept(fd, NULL, NULL), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
	free(hdr);
}
END_TEST

/*
 * invalid
 */

START_TEST(test_jwt_bad_signature)
{
	char	*a, *b, *t;

	/* Right key, signature of other claims. */
	a = FORGE_HS(H_HS, P_STD);
	b = FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"roles\":[\"admin\"]}");
	t = xasprintf("%.*s%s", (int)(strrchr(b, '.') - b), b,
	    strrchr(a, '.'));
	BAD(t);
	free(a);
	free(b);
	/* Other secret. */
	BAD(forge_x(NULL, "another-secret-another-secret-0123", 34, H_HS,
	    P_STD, 0));
	/* Other EC key under our kid. */
	BAD(FORGE_PK(ec_other, H_ES, P_STD));
	/* An ES256 signature in DER, not JOSE, form. */
	BAD(forge_x(ec_key, NULL, 0, H_ES, P_STD, 1));
	/* Flipped RSA signature bits (still canonical base64url). */
	a = FORGE_PK(rsa_key, H_RS, P_STD);
	t = strrchr(a, '.') + 1;
	t[0] = t[0] == 'A' ? 'B' : 'A';
	BAD(a);
}
END_TEST

START_TEST(test_jwt_bad_tampered_payload)
{
	char	*good, *evil, *t, *d1, *d2;

	good = FORGE_PK(rsa_key, H_RS, P_STD);
	evil = b64s("{" M_BASE "," M_EXP ",\"roles\":[\"admin\"]}");
	d1 = strchr(good, '.');
	d2 = strrchr(good, '.');
	t = xasprintf("%.*s.%s%s", (int)(d1 - good), good, evil, d2);
	BAD(t);
	free(good);
	free(evil);
}
END_TEST

START_TEST(test_jwt_bad_expired)
{
	/* exp + leeway + 1 */
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1699999969}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":0}"));
}
END_TEST

START_TEST(test_jwt_bad_nbf_future)
{
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"nbf\":1700000031}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"nbf\":\"0\"}"));
}
END_TEST

START_TEST(test_jwt_bad_iat_future)
{
	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_AUD "," M_SUB ","
	    "\"iat\":1700000031," M_EXP "}"));
}
END_TEST

START_TEST(test_jwt_bad_exp)
{
	/* Missing, not a number, out of range. */
	BAD(FORGE_HS(H_HS, "{" M_BASE "}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":\"1700000300\"}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":null}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":true}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":1e999}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":-1}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE ",\"exp\":99999999999999999999}"));
}
END_TEST

START_TEST(test_jwt_bad_iss)
{
	BAD(FORGE_HS(H_HS, "{\"iss\":\"https://evil.test/\"," M_AUD ","
	    M_SUB "," M_EXP "}"));
	/* Exact match only: no prefix, no trailing slash games. */
	BAD(FORGE_HS(H_HS, "{\"iss\":\"https://id.example.test\"," M_AUD ","
	    M_SUB "," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_AUD "," M_SUB "," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{\"iss\":[\"" ISS "\"]," M_AUD "," M_SUB ","
	    M_EXP "}"));
}
END_TEST

START_TEST(test_jwt_bad_aud)
{
	BAD(FORGE_HS(H_HS, "{" M_ISS ",\"aud\":\"other-api\"," M_SUB ","
	    M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS ",\"aud\":[\"other\"]," M_SUB ","
	    M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS ",\"aud\":[]," M_SUB "," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS ",\"aud\":[\"" AUD "\",1]," M_SUB ","
	    M_EXP "}"));
}
END_TEST

START_TEST(test_jwt_bad_aud_missing)
{
	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_SUB "," M_EXP "}"));
}
END_TEST

START_TEST(test_jwt_bad_sub)
{
	char	*pay, *big;

	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_AUD "," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_AUD ",\"sub\":\"\"," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_AUD ",\"sub\":42," M_EXP "}"));
	BAD(FORGE_HS(H_HS, "{" M_ISS "," M_AUD ",\"sub\":\"a\\u0000b\","
	    M_EXP "}"));
	big = xmalloc(257);
	memset(big, 'x', 256);
	big[256] = '\0';
	pay = xasprintf("{" M_ISS "," M_AUD ",\"sub\":\"%s\"," M_EXP "}",
	    big);
	BAD(FORGE_HS(H_HS, pay));
	free(pay);
	big[255] = '\0';
	pay = xasprintf("{" M_ISS "," M_AUD ",\"sub\":\"%s\"," M_EXP "}",
	    big);
	OK(FORGE_HS(H_HS, pay));
	free(pay);
	free(big);
}
END_TEST

START_TEST(test_jwt_bad_claims_types)
{
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"roles\":\"admin\"}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"roles\":[1]}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"scope\":[\"admin\"]}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"jti\":7}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"jti\":\""
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "\"}"));
}
END_TEST

START_TEST(test_jwt_bad_duplicate_claim)
{
	/* json-c would keep the last "sub"; the token is refused instead. */
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"sub\":\"admin\"}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"s\\u0075b\":\"admin\"}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"exp\":1799999999}"));
	/* Duplicate alg in the header. */
	BAD(FORGE_HS("{\"alg\":\"RS256\",\"alg\":\"HS256\"}", P_STD));
	/* A name that merely contains ':' is fine. */
	OK(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"a:b\":\"c:d\","
	    "\"o\":{\"x\":1,\"x\":2}}"));
}
END_TEST

START_TEST(test_jwt_bad_payload_not_object)
{
	BAD(FORGE_HS(H_HS, "[" M_EXP "]"));
	BAD(FORGE_HS(H_HS, "1700000300"));
	BAD(FORGE_HS(H_HS, "\"x\""));
	BAD(FORGE_HS(H_HS, P_STD "x"));
	BAD(FORGE_HS(H_HS, "{'sub':'alice'}"));
	BAD(FORGE_HS(H_HS, "{" M_BASE "," M_EXP ",\"x\":\"\xff\"}"));
}
END_TEST

START_TEST(test_jwt_bad_alg_none)
{
	char	*sig;

	/* Empty signature. */
	BAD(forge_raw("{\"alg\":\"none\"}", P_STD, ""));
	BAD(forge_raw("{\"alg\":\"none\",\"kid\":\"hs1\"}", P_STD, ""));
	/* Any signature. */
	sig = b64s("anything");
	BAD(forge_raw("{\"alg\":\"none\"}", P_STD, sig));
	free(sig);
	BAD(FORGE_HS("{\"alg\":\"none\",\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"None\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"NONE\"}", P_STD));
}
END_TEST

START_TEST(test_jwt_bad_alg_other)
{
	BAD(FORGE_HS("{\"alg\":\"HS512\",\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"hs256\",\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256 \",\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_PK(rsa_key, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":null,\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_HS("{\"kid\":\"hs1\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":[\"HS256\"],\"kid\":\"hs1\"}", P_STD));
}
END_TEST

START_TEST(test_jwt_bad_key_confusion)
{
	struct auth_keyset	*rs_only;
	struct auth_claims	 c;
	char			*t;

	/* HS256 "signed" with the RS256 public key PEM as HMAC secret. */
	BAD(forge_x(NULL, rsa_pub, strlen(rsa_pub),
	    "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", P_STD, 0));
	BAD(forge_x(NULL, rsa_pub, strlen(rsa_pub),
	    "{\"alg\":\"HS256\"}", P_STD, 0));
	/* Also with a keyset holding that RSA key alone, without kid. */
	rs_only = auth_keyset_new();
	ck_assert_int_eq(auth_keyset_add_pem(rs_only, NULL, "RS256", rsa_pub,
	    strlen(rsa_pub)), 0);
	t = forge_x(NULL, rsa_pub, strlen(rsa_pub), "{\"alg\":\"HS256\"}",
	    P_STD, 0);
	ck_assert_int_eq(auth_jwt_verify(rs_only, t, ISS, AUD, LEEWAY, NOW,
	    &c), AUTH_INVALID_TOKEN);
	free(t);
	t = FORGE_PK(rsa_key, "{\"alg\":\"RS256\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(rs_only, t, ISS, AUD, LEEWAY, NOW,
	    &c), AUTH_OK);
	free(t);
	auth_keyset_free(rs_only);
}
END_TEST

START_TEST(test_jwt_bad_alg_key_mismatch)
{
	/* Header RS256, the kid names the ES256 key. */
	BAD(FORGE_PK(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", P_STD));
	/* Header ES256, the kid names the RSA key. */
	BAD(FORGE_PK(ec_key, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", P_STD));
	/* Header HS256 with the HMAC secret, kid names the EC key. */
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"ec1\"}", P_STD));
}
END_TEST

START_TEST(test_jwt_bad_kid)
{
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"nope\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"../../etc/passwd\"}",
	    P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"hs1' OR '1'='1\"}",
	    P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"hs1\\u0000x\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"\"}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":1}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":null}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"HS1\"}", P_STD));
}
END_TEST

START_TEST(test_jwt_bad_jku_unknown_key)
{
	char	*hdr;
	int	 fd, port;

	/* Signed by a key we do not have; the header points at it. */
	fd = listener(&port);
	hdr = xasprintf("{\"alg\":\"ES256\",\"kid\":\"attacker\","
	    "\"jku\":\"http://127.0.0.1:%d/jwks.json\"}", port);
	BAD(FORGE_PK(ec_other, hdr, P_STD));
	free(hdr);
	BAD(FORGE_PK(ec_other, "{\"alg\":\"ES256\",\"kid\":\"ec1\","
	    "\"jku\":\"http://127.0.0.1:9/\"}", P_STD));
	BAD(FORGE_PK(ec_other, "{\"alg\":\"ES256\","
	    "\"x5u\":\"http://127.0.0.1:9/\"}", P_STD));
	/* An embedded "jwk" is not a key source either. */
	BAD(FORGE_PK(ec_other, "{\"alg\":\"ES256\",\"jwk\":{\"kty\":\"EC\","
	    "\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}}", P_STD));
	ck_assert_int_eq(accept(fd, NULL, NULL), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(fd);
}
END_TEST

START_TEST(test_jwt_bad_header)
{
	/* Not JSON, a JSON array, a string, trailing junk, crit, typ. */
	BAD(forge_raw("alg=HS256", P_STD, "AAAA"));
	BAD(FORGE_HS("not json", P_STD));
	BAD(FORGE_HS("[\"alg\",\"HS256\"]", P_STD));
	BAD(FORGE_HS("\"HS256\"", P_STD));
	BAD(FORGE_HS(H_HS "{}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"hs1\",\"crit\":[\"exp\"],"
	    "\"exp\":1}", P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"hs1\",\"typ\":\"at+jwt\"}",
	    P_STD));
	BAD(FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"hs1\",\"typ\":1}", P_STD));
}
END_TEST

START_TEST(test_jwt_bad_segments)
{
	char	*good, *t;

	good = FORGE_HS(H_HS, P_STD);
	/* Two segments. */
	t = xstrndup(good, (size_t)(strrchr(good, '.') - good));
	BAD(t);
	/* Four segments. */
	BAD(xasprintf("%s.AAAA", good));
	BAD(xasprintf("%s.", good));
	/* Empty ones. */
	BAD(xstrdup(".."));
	BAD(xstrdup("."));
	BAD(xasprintf(".%s", strchr(good, '.') + 1));
	BAD(xasprintf("%.*s..%s", (int)(strchr(good, '.') - good), good,
	    strrchr(good, '.') + 1));
	BAD(xasprintf("%.*s", (int)(strrchr(good, '.') - good + 1), good));
	free(good);
}
END_TEST

START_TEST(test_jwt_bad_base64)
{
	char	*good, *t;

	good = FORGE_HS(H_HS, P_STD);
	/* A character outside the alphabet in each segment. */
	t = xstrdup(good);
	t[3] = '*';
	BAD(t);
	t = xstrdup(good);
	strchr(t, '.')[3] = '+';
	BAD(t);
	t = xstrdup(good);
	strrchr(t, '.')[3] = '/';
	BAD(t);
	/* Padding, whitespace, impossible length. */
	BAD(xasprintf("%s=", good));
	BAD(xasprintf(" %s", good));
	BAD(xasprintf("%s\n", good));
	BAD(xasprintf("%sA", good));
	free(good);
}
END_TEST

/*
 * limits
 */

START_TEST(test_jwt_bad_oversized)
{
	struct auth_claims	 c;
	char			*fill, *pay, *t;
	size_t			 n, len = 0;

	/* The largest token that fits is accepted... */
	fill = xmalloc(8192);
	for (n = 5900; n < 6200; n++) {
		memset(fill, 'x', n);
		fill[n] = '\0';
		pay = xasprintf("{" M_BASE "," M_EXP ",\"f\":\"%s\"}", fill);
		t = FORGE_HS(H_HS, pay);
		free(pay);
		len = strlen(t);
		if (len > AUTH_TOKEN_MAX)
			break;
		ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, LEEWAY, NOW,
		    &c), AUTH_OK);
		free(t);
	}
	/* ...and the next one up is invalid_request, before any parsing. */
	ck_assert_uint_gt(len, AUTH_TOKEN_MAX);
	ck_assert_uint_le(len, AUTH_TOKEN_MAX + 2);
	ck_assert_int_eq(vf(t, &c), AUTH_INVALID_REQUEST);
	free(fill);

	/* 64 KiB of junk. */
	t = xmalloc(65537);
	memset(t, 'A', 65536);
	t[65536] = '\0';
	ck_assert_int_eq(vf(t, &c), AUTH_INVALID_REQUEST);
	ck_assert_str_eq(c.sub, "");
}
END_TEST

START_TEST(test_jwt_bad_missing)
{
	struct auth_claims	 c;

	ck_assert_int_eq(auth_jwt_verify(ks, NULL, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_REQUEST);
	ck_assert_int_eq(auth_jwt_verify(ks, "", ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_REQUEST);
}
END_TEST

START_TEST(test_jwt_bad_config)
{
	struct auth_claims	 c;
	char			*t;

	t = FORGE_HS(H_HS, P_STD);
	/* No keys, no issuer, no audience: fail closed. */
	ck_assert_int_eq(auth_jwt_verify(NULL, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	ck_assert_int_eq(auth_jwt_verify(ks, t, NULL, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, NULL, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, LEEWAY, -1, &c),
	    AUTH_INVALID_TOKEN);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, LEEWAY, INT64_MAX,
	    &c), AUTH_INVALID_TOKEN);
	free(t);
}
END_TEST

/*
 * keys
 */

START_TEST(test_keyset_add)
{
	struct auth_keyset	*k;
	unsigned char		 s31[31], s32[32];

	memset(s31, 'a', sizeof(s31));
	memset(s32, 'a', sizeof(s32));
	k = auth_keyset_new();
	ck_assert_int_eq(auth_keyset_add_hs256(k, "a", s31, sizeof(s31)), -1);
	ck_assert_int_eq(auth_keyset_add_hs256(k, "a", NULL, 32), -1);
	ck_assert_int_eq(auth_keyset_add_hs256(k, "a", s32, sizeof(s32)), 0);
	ck_assert_int_eq(auth_keyset_add_hs256(k, "a", s32, sizeof(s32)), -1);
	ck_assert_int_eq(auth_keyset_add_hs256(k, NULL, s32, sizeof(s32)), 0);
	ck_assert_int_eq(auth_keyset_add_hs256(k, NULL, s32, sizeof(s32)),
	    -1);
	ck_assert_int_eq(auth_keyset_add_hs256(k, "", s32, sizeof(s32)), -1);
	/* Private PEMs give their public half. */
	ck_assert_int_eq(auth_keyset_add_pem(k, "r", "RS256", rsa_priv,
	    strlen(rsa_priv)), 0);
	ck_assert_int_eq(auth_keyset_add_pem(k, "e", "ES256", ec_pub,
	    strlen(ec_pub)), 0);
	ck_assert_int_eq(auth_keyset_add_pem(k, NULL, "ES256", ec_priv,
	    strlen(ec_priv)), 0);
	ck_assert_uint_eq(auth_keyset_count(k), 5);
	auth_keyset_free(k);
	auth_keyset_free(NULL);
	ck_assert_uint_eq(auth_keyset_count(NULL), 0);
}
END_TEST

START_TEST(test_keyset_bad_pem)
{
	struct auth_keyset	*k;
	static const char	 junk[] =
	    "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";

	k = auth_keyset_new();
	/* Key type must suit the algorithm, and be strong enough. */
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "ES256", rsa_pub,
	    strlen(rsa_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", ec_pub,
	    strlen(ec_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", rsa_weak_pub,
	    strlen(rsa_weak_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "ES256", ec_p384_pub,
	    strlen(ec_p384_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "HS256", rsa_pub,
	    strlen(rsa_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "PS256", rsa_pub,
	    strlen(rsa_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", NULL, rsa_pub,
	    strlen(rsa_pub)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", junk,
	    strlen(junk)), -1);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", "", 0), -1);
	/* Truncated PEM. */
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", rsa_pub,
	    strlen(rsa_pub) / 2), -1);
	ck_assert_uint_eq(auth_keyset_count(k), 0);
	/* A kid in use stays with its first key. */
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "RS256", rsa_pub,
	    strlen(rsa_pub)), 0);
	ck_assert_int_eq(auth_keyset_add_pem(k, "a", "ES256", ec_pub,
	    strlen(ec_pub)), -1);
	ck_assert_uint_eq(auth_keyset_count(k), 1);
	auth_keyset_free(k);
}
END_TEST

START_TEST(test_keyset_kidless_key)
{
	struct auth_keyset	*k;
	struct auth_claims	 c;
	char			*t;

	/* A key added without kid serves tokens with any unclaimed kid... */
	k = auth_keyset_new();
	ck_assert_int_eq(auth_keyset_add_hs256(k, NULL, hs_secret, HS_LEN),
	    0);
	ck_assert_int_eq(auth_keyset_add_pem(k, "r1", "RS256", rsa_pub,
	    strlen(rsa_pub)), 0);
	t = FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"whatever\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_OK);
	free(t);
	/* ...but a kid that names a key selects that key, alg pinned. */
	t = FORGE_HS("{\"alg\":\"HS256\",\"kid\":\"r1\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	free(t);
	/* Two keys of one alg and no kid in the token: no guessing. */
	ck_assert_int_eq(auth_keyset_add_hs256(k, "h2", hs_secret, HS_LEN),
	    0);
	t = FORGE_HS("{\"alg\":\"HS256\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	free(t);
	auth_keyset_free(k);
}
END_TEST

/* base64url of a BIGNUM parameter of pk, padded to pad bytes if > 0. */
static char *
bn_param_b64(EVP_PKEY *pk, const char *name, int pad)
{
	BIGNUM		*bn = NULL;
	unsigned char	 buf[1024];
	int		 n;

	ck_assert_int_eq(EVP_PKEY_get_bn_param(pk, name, &bn), 1);
	n = pad > 0 ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
	ck_assert_int_gt(n, 0);
	BN_free(bn);
	return b64url_encode(buf, (size_t)n);
}

/* A new JWK Set text with our RSA and EC keys and some to skip. */
static char *
jwks_make(void)
{
	char	*n, *e, *x, *y, *x2, *y2, *s;

	n = bn_param_b64(rsa_key, OSSL_PKEY_PARAM_RSA_N, 0);
	e = bn_param_b64(rsa_key, OSSL_PKEY_PARAM_RSA_E, 0);
	x = bn_param_b64(ec_key, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	y = bn_param_b64(ec_key, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	x2 = bn_param_b64(ec_other, OSSL_PKEY_PARAM_EC_PUB_X, 32);
	y2 = bn_param_b64(ec_other, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
	s = xasprintf("{\"keys\":["
	    "{\"kty\":\"RSA\",\"kid\":\"jr\",\"alg\":\"RS256\",\"use\":\"sig\","
	    "\"n\":\"%s\",\"e\":\"%s\",\"x5t\":\"ignored\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"je\","
	    "\"x\":\"%s\",\"y\":\"%s\"},"
	    /* Skipped: encryption key, other alg, other curve, OKP. */
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"enc\",\"use\":\"enc\","
	    "\"x\":\"%s\",\"y\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\","
	    "\"n\":\"%s\",\"e\":\"%s\"},"
	    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\","
	    "\"x\":\"%s\",\"y\":\"%s\"},"
	    "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\",\"x\":\"AA\"},"
	    /* Skipped: point not on the curve (x, y swapped), bad n. */
	    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"offcurve\","
	    "\"x\":\"%s\",\"y\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"short\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"bad64\",\"n\":\"*\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"RSA\",\"kid\":7,\"n\":\"%s\",\"e\":\"%s\"},"
	    "\"not an object\""
	    "]}\n", n, e, x, y, x2, y2, n, e, x, y, y, x, n, e);
	free(n);
	free(e);
	free(x);
	free(y);
	free(x2);
	free(y2);
	return s;
}

START_TEST(test_jwks_load)
{
	struct auth_keyset	*k;
	struct auth_claims	 c;
	char			*jwks, *t;

	jwks = jwks_make();
	k = auth_keyset_new();
	ck_assert_int_eq(auth_keyset_load_jwks(k, jwks, strlen(jwks)), 0);
	ck_assert_uint_eq(auth_keyset_count(k), 2);

	t = FORGE_PK(rsa_key, "{\"alg\":\"RS256\",\"kid\":\"jr\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_OK);
	ck_assert_uint_eq(c.roles, ROLE_WRITER | ROLE_READER);
	free(t);
	t = FORGE_PK(ec_key, "{\"alg\":\"ES256\",\"kid\":\"je\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_OK);
	free(t);
	/* The skipped encryption key verifies nothing. */
	t = FORGE_PK(ec_other, "{\"alg\":\"ES256\",\"kid\":\"enc\"}", P_STD);
	ck_assert_int_eq(auth_jwt_verify(k, t, ISS, AUD, LEEWAY, NOW, &c),
	    AUTH_INVALID_TOKEN);
	free(t);
	/* Loading it again: every kid is taken, nothing added. */
	ck_assert_int_eq(auth_keyset_load_jwks(k, jwks, strlen(jwks)), -1);
	ck_assert_uint_eq(auth_keyset_count(k), 2);
	auth_keyset_free(k);
	free(jwks);
}
END_TEST

START_TEST(test_jwks_bad)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"keys\":{}}",
		"{\"keys\":[]}",
		"{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
		"{\"keys\":[{\"kty\":\"RSA\"}]}",
		("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
		    "\"y\":\"AA\"}]}"),
		"{\"keys\":[]} trailing",
	};
	struct auth_keyset	*k;
	size_t			 i;

	k = auth_keyset_new();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(auth_keyset_load_jwks(k, bad[i],
		    strlen(bad[i])) == -1, "accepted %s", bad[i]);
	ck_assert_int_eq(auth_keyset_load_jwks(k, NULL, 0), -1);
	ck_assert_uint_eq(auth_keyset_count(k), 0);
	auth_keyset_free(k);
}
END_TEST

/*
 * mint
 */

/* Parses the claims segment of tok. */
static struct json_object *
claims_of(const char *tok, int seg)
{
	const char		*s = tok, *e;
	unsigned char		*buf;
	size_t			 len;
	struct json_object	*o;

	if (seg == 1)
		s = strchr(tok, '.') + 1;
	e = strchr(s, '.');
	buf = b64url_decode(s, (size_t)(e - s), &len);
	ck_assert_ptr_nonnull(buf);
	buf = xrealloc(buf, len + 1);
	buf[len] = '\0';
	o = json_tokener_parse((const char *)buf);
	ck_assert_ptr_nonnull(o);
	free(buf);
	return o;
}

static void
mint_roundtrip(const char *alg, const void *key, size_t keylen,
    const char *kid)
{
	struct auth_claims	 c;
	struct json_object	*pay, *hdr, *v;
	char			*t;

	t = auth_jwt_mint(alg, key, keylen, kid, ISS, AUD, "bob", ROLE_ADMIN,
	    600, NOW);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, 0, NOW + 599, &c),
	    AUTH_OK);
	ck_assert_str_eq(c.sub, "bob");
	ck_assert_uint_eq(c.roles, ROLE_ADMIN | ROLE_WRITER | ROLE_READER);
	ck_assert_int_eq(c.exp, NOW + 600);
	ck_assert_int_eq(c.iat, NOW);
	ck_assert_uint_eq(strlen(c.jti), 32);
	ck_assert_uint_eq(strspn(c.jti, "0123456789abcdef"), 32);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, AUD, 0, NOW + 601, &c),
	    AUTH_INVALID_TOKEN);
	ck_assert_int_eq(auth_jwt_verify(ks, t, ISS, "other", 0, NOW, &c),
	    AUTH_INVALID_TOKEN);

	hdr = claims_of(t, 0);
	ck_assert_str_eq(json_object_get_string(
	    json_object_object_get(hdr, "typ")), "JWT");
	ck_assert_str_eq(json_object_get_string(
	    json_object_object_get(hdr, "alg")), alg);
	pay = claims_of(t, 1);
	ck_assert_int_eq(json_object_get_int64(
	    json_object_object_get(pay, "nbf")), NOW);
	ck_assert(json_object_object_get_ex(pay, "roles", &v));
	ck_assert_str_eq(json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN), "[\"reader\",\"writer\",\"admin\"]");
	json_object_put(hdr);
	json_object_put(pay);
	free(t);
}

START_TEST(test_mint_roundtrip)
{
	mint_roundtrip("HS256", hs_secret, HS_LEN, "hs1");
	mint_roundtrip("HS256", hs_secret, HS_LEN, NULL);
	mint_roundtrip("RS256", rsa_priv, strlen(rsa_priv), "rsa1");
	mint_roundtrip("ES256", ec_priv, strlen(ec_priv), "ec1");
	mint_roundtrip("ES256", ec_priv, strlen(ec_priv), NULL);
}
END_TEST

START_TEST(test_mint_roles_and_jti)
{
	struct auth_claims	 c;
	struct json_object	*pay, *v;
	char			*a, *b;

	a = auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL, ISS, AUD, "r",
	    ROLE_READER, 60, NOW);
	b = auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL, ISS, AUD, "r",
	    0, 60, NOW);
	ck_assert(a != NULL && b != NULL);
	ck_assert_int_eq(auth_jwt_verify(ks, a, ISS, AUD, 0, NOW, &c),
	    AUTH_OK);
	ck_assert_uint_eq(c.roles, ROLE_READER);
	pay = claims_of(a, 1);
	ck_assert(json_object_object_get_ex(pay, "roles", &v));
	ck_assert_str_eq(json_object_to_json_string_ext(v,
	    JSON_C_TO_STRING_PLAIN), "[\"reader\"]");
	json_object_put(pay);
	ck_assert_int_eq(auth_jwt_verify(ks, b, ISS, AUD, 0, NOW, &c),
	    AUTH_OK);
	ck_assert_uint_eq(c.roles, 0);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_mint_bad_args)
{
	ck_assert_ptr_null(auth_jwt_mint("HS256", hs_secret, 31, NULL, ISS,
	    AUD, "x", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("none", hs_secret, HS_LEN, NULL,
	    ISS, AUD, "x", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("HS512", hs_secret, HS_LEN, NULL,
	    ISS, AUD, "x", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL,
	    ISS, AUD, "x", ROLE_READER, 0, NOW));
	ck_assert_ptr_null(auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL,
	    ISS, AUD, "", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL,
	    NULL, AUD, "x", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("HS256", hs_secret, HS_LEN, NULL,
	    ISS, AUD, "x", 8, 60, NOW));
	/* Public PEM, or a key of the wrong type, cannot sign. */
	ck_assert_ptr_null(auth_jwt_mint("RS256",
	    (const unsigned char *)rsa_pub, strlen(rsa_pub),
	    NULL, ISS, AUD, "x", ROLE_READER, 60, NOW));
	ck_assert_ptr_null(auth_jwt_mint("ES256",
	    (const unsigned char *)rsa_priv, strlen(rsa_priv),
	    NULL, ISS, AUD, "x", ROLE_READER, 60, NOW));
}
END_TEST

/*
 * roles
 */

START_TEST(test_roles_parse)
{
	unsigned	 r = 99;

	ck_assert_int_eq(auth_roles_parse("reader", &r), 0);
	ck_assert_uint_eq(r, ROLE_READER);
	ck_assert_int_eq(auth_roles_parse("writer", &r), 0);
	ck_assert_uint_eq(r, ROLE_WRITER | ROLE_READER);
	ck_assert_int_eq(auth_roles_parse("admin", &r), 0);
	ck_assert_uint_eq(r, ROLE_ADMIN | ROLE_WRITER | ROLE_READER);
	ck_assert_int_eq(auth_roles_parse(" reader , admin ", &r), 0);
	ck_assert_uint_eq(r, ROLE_ADMIN | ROLE_WRITER | ROLE_READER);
	ck_assert_str_eq(auth_role_name(ROLE_READER), "reader");
	ck_assert_str_eq(auth_role_name(ROLE_WRITER), "writer");
	ck_assert_str_eq(auth_role_name(ROLE_ADMIN), "admin");
	ck_assert_ptr_null(auth_role_name(0));
	ck_assert_ptr_null(auth_role_name(ROLE_READER | ROLE_WRITER));
}
END_TEST

START_TEST(test_roles_parse_bad)
{
	static const char *const bad[] = {
		"", " ", ",", "reader,", ",reader", "reader,,admin",
		"Reader", "root", "reader;writer", "readers", "read",
		"reader writer",
	};
	unsigned	 r = 99;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(auth_roles_parse(bad[i], &r) == -1,
		    "accepted \"%s\"", bad[i]);
	ck_assert_int_eq(auth_roles_parse(NULL, &r), -1);
	ck_assert_uint_eq(r, 99);
}
END_TEST

static TCase *
fx_tcase(const char *name)
{
	TCase	*tc;

	tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, fx_setup, fx_teardown);
	tcase_set_timeout(tc, 120);
	fx_tcases++;
	return tc;
}

Suite *
make_auth_jwt_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("auth_jwt");
	fx_tcases = fx_torn_down = 0;

	tc = fx_tcase("valid");
	tcase_add_test(tc, test_jwt_ok_hs256);
	tcase_add_test(tc, test_jwt_ok_rs256);
	tcase_add_test(tc, test_jwt_ok_es256);
	tcase_add_test(tc, test_jwt_ok_no_kid);
	tcase_add_test(tc, test_jwt_ok_aud_array);
	tcase_add_test(tc, test_jwt_ok_within_leeway);
	tcase_add_test(tc, test_jwt_ok_leeway_clamped);
	tcase_add_test(tc, test_jwt_ok_roles_scope);
	tcase_add_test(tc, test_jwt_ok_jku_ignored);
	suite_add_tcase(s, tc);

	tc = fx_tcase("invalid");
	tcase_add_test(tc, test_jwt_bad_signature);
	tcase_add_test(tc, test_jwt_bad_tampered_payload);
	tcase_add_test(tc, test_jwt_bad_expired);
	tcase_add_test(tc, test_jwt_bad_nbf_future);
	tcase_add_test(tc, test_jwt_bad_iat_future);
	tcase_add_test(tc, test_jwt_bad_exp);
	tcase_add_test(tc, test_jwt_bad_iss);
	tcase_add_test(tc, test_jwt_bad_aud);
	tcase_add_test(tc, test_jwt_bad_aud_missing);
	tcase_add_test(tc, test_jwt_bad_sub);
	tcase_add_test(tc, test_jwt_bad_claims_types);
	tcase_add_test(tc, test_jwt_bad_duplicate_claim);
	tcase_add_test(tc, test_jwt_bad_payload_not_object);
	tcase_add_test(tc, test_jwt_bad_alg_none);
	tcase_add_test(tc, test_jwt_bad_alg_other);
	tcase_add_test(tc, test_jwt_bad_key_confusion);
	tcase_add_test(tc, test_jwt_bad_alg_key_mismatch);
	tcase_add_test(tc, test_jwt_bad_kid);
	tcase_add_test(tc, test_jwt_bad_jku_unknown_key);
	tcase_add_test(tc, test_jwt_bad_header);
	tcase_add_test(tc, test_jwt_bad_segments);
	tcase_add_test(tc, test_jwt_bad_base64);
	suite_add_tcase(s, tc);

	tc = fx_tcase("limits");
	tcase_add_test(tc, test_jwt_bad_oversized);
	tcase_add_test(tc, test_jwt_bad_missing);
	tcase_add_test(tc, test_jwt_bad_config);
	suite_add_tcase(s, tc);

	tc = fx_tcase("keys");
	tcase_add_test(tc, test_keyset_add);
	tcase_add_test(tc, test_keyset_bad_pem);
	tcase_add_test(tc, test_keyset_kidless_key);
	tcase_add_test(tc, test_jwks_load);
	tcase_add_test(tc, test_jwks_bad);
	suite_add_tcase(s, tc);

	tc = fx_tcase("mint");
	tcase_add_test(tc, test_mint_roundtrip);
	tcase_add_test(tc, test_mint_roles_and_jti);
	tcase_add_test(tc, test_mint_bad_args);
	suite_add_tcase(s, tc);

	tc = fx_tcase("roles");
	tcase_add_test(tc, test_roles_parse);
	tcase_add_test(tc, test_roles_parse_bad);
	suite_add_tcase(s, tc);

	return s;
}
