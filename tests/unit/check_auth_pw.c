/*
 * Rolodex unit tests: auth_pw (scrypt password hashes, random tokens).
 *
 * The cost is lowered to ln=10 so the suite stays fast; the known-answer
 * strings were computed independently (Python hashlib.scrypt).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth_pw.h"
#include "tests.h"

#define PW	"correct horse battery staple"
/* scrypt(PW, "0123456789abcdef", N=1024, r=8, p=1, 32) */
#define KAT1	"$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$" \
		"7AnzIswxwEinpwz-ntydndYfVHPvOACmX9Vvo8hO1qM"
/* scrypt("pässwörd", "0123456789abcdef", N=2048, r=4, p=2, 32) */
#define KAT2	"$scrypt$ln=11,r=4,p=2$MDEyMzQ1Njc4OWFiY2RlZg$" \
		"DsjTUU0VTKRfMNJxIpXJzXcMnyhFLhXJ0VOI7ByL3kk"
#define SALT	"MDEyMzQ1Njc4OWFiY2RlZg"
#define KEY	"7AnzIswxwEinpwz-ntydndYfVHPvOACmX9Vvo8hO1qM"

static void
pw_setup(void)
{
	auth_pw_set_cost(10);
}

START_TEST(test_pw_hash_verify)
{
	char	*h;

	h = auth_pw_hash(PW);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(strncmp(h, "$scrypt$ln=10,r=8,p=1$", 22), 0);
	/* 16-byte salt and 32-byte key in unpadded base64url. */
	ck_assert_uint_eq(strlen(h), 22 + 22 + 1 + 43);
	ck_assert(auth_pw_verify(PW, h));
	free(h);
}
END_TEST

START_TEST(test_pw_known_answer)
{
	ck_assert(auth_pw_verify(PW, KAT1));
	ck_assert(auth_pw_verify("p\xc3\xa4ssw\xc3\xb6rd", KAT2));
	ck_assert(!auth_pw_verify("p\xc3\xa4ssw\xc3\xb6rd", KAT1));
}
END_TEST

START_TEST(test_pw_bad_wrong_password)
{
	char	*h;

	h = auth_pw_hash(PW);
	ck_assert_ptr_nonnull(h);
	ck_assert(!auth_pw_verify("correct horse battery stapl", h));
	ck_assert(!auth_pw_verify("Correct horse battery staple", h));
	ck_assert(!auth_pw_verify(PW " ", h));
	ck_assert(!auth_pw_verify("", h));
	ck_assert(!auth_pw_verify(NULL, h));
	free(h);
}
END_TEST

START_TEST(test_pw_salted)
{
	char	*a, *b;

	a = auth_pw_hash(PW);
	b = auth_pw_hash(PW);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_ne(a, b);
	ck_assert(auth_pw_verify(PW, a));
	ck_assert(auth_pw_verify(PW, b));
	free(a);
	free(b);
}
END_TEST

START_TEST(test_pw_empty_password)
{
	char	*h;

	h = auth_pw_hash("");
	ck_assert_ptr_nonnull(h);
	ck_assert(auth_pw_verify("", h));
	ck_assert(!auth_pw_verify(" ", h));
	free(h);
}
END_TEST

/* Every malformed or out-of-bounds stored string is a plain mismatch. */
static const char *const bad_stored[] = {
	"",
	"$scrypt$",
	"scrypt$ln=10,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=10,r=8,p=1$" SALT "$" KEY "$",
	"$scrypt$ln=10,r=8,p=1$" SALT "$" KEY "=",
	"$scrypt$ln=10,r=8,p=1$" SALT "$" KEY "A",
	"$scrypt$ln=10,r=8,p=1$" SALT "$" KEY "AA",
	"$scrypt$ln=10,r=8,p=1$" SALT "$" "7AnzIswxwEinpwz-ntydndYfVHPvOACm",
	"$scrypt$ln=10,r=8,p=1$" SALT "$",
	"$scrypt$ln=10,r=8,p=1$" SALT,
	"$scrypt$ln=10,r=8,p=1$$" KEY,
	"$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc$" KEY,
	"$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg==$" KEY,
	"$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFi*2RlZg$" KEY,
	"$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
	"$SCRYPT$ln=10,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=9,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=21,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=64,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=-1,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=010,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=+10,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln= 10,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=,r=8,p=1$" SALT "$" KEY,
	"$scrypt$ln=10,r=0,p=1$" SALT "$" KEY,
	"$scrypt$ln=10,r=17,p=1$" SALT "$" KEY,
	"$scrypt$ln=10,r=8,p=0$" SALT "$" KEY,
	"$scrypt$ln=10,r=8,p=5$" SALT "$" KEY,
	"$scrypt$ln=10,r=8$" SALT "$" KEY,
	"$scrypt$ln=10,p=1,r=8$" SALT "$" KEY,
	"$scrypt$r=8,ln=10,p=1$" SALT "$" KEY,
	"$scrypt$ln=10;r=8;p=1$" SALT "$" KEY,
	"$scrypt$ln=10,r=8,p=1,x=2$" SALT "$" KEY,
	"$scrypt$ln=1x,r=8,p=1$" SALT "$" KEY,
	/* Within each bound but 2 GiB of memory together: refused. */
	"$scrypt$ln=20,r=16,p=1$" SALT "$" KEY,
	/* Well-formed, one key bit off: a mismatch. */
	"$scrypt$ln=10,r=8,p=1$" SALT "$"
	    "7AnzIswxwEinpwz-ntydndYfVHPvOACmX9Vvo8hO1qN",
};

START_TEST(test_pw_bad_stored)
{
	const char	*s = bad_stored[_i];

	ck_assert_msg(!auth_pw_verify(PW, s), "accepted %s", s);
}
END_TEST

START_TEST(test_pw_bad_stored_limits)
{
	char	*big;

	ck_assert(!auth_pw_verify(PW, NULL));
	big = malloc(100000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'A', 99999);
	big[99999] = '\0';
	memcpy(big, "$scrypt$ln=10,r=8,p=1$", 22);
	ck_assert(!auth_pw_verify(PW, big));
	free(big);
}
END_TEST

START_TEST(test_pw_bad_long_password)
{
	char	*pw;

	pw = malloc(AUTH_PW_MAX + 2);
	ck_assert_ptr_nonnull(pw);
	memset(pw, 'x', AUTH_PW_MAX + 1);
	pw[AUTH_PW_MAX + 1] = '\0';
	ck_assert_ptr_null(auth_pw_hash(pw));
	ck_assert(!auth_pw_verify(pw, KAT1));
	ck_assert_ptr_null(auth_pw_hash(NULL));
	free(pw);
}
END_TEST

START_TEST(test_pw_cost_clamped)
{
	char	*h;

	auth_pw_set_cost(3);
	h = auth_pw_hash(PW);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(strncmp(h, "$scrypt$ln=10,", 14), 0);
	ck_assert(auth_pw_verify(PW, h));
	free(h);
	auth_pw_set_cost(11);
	h = auth_pw_hash(PW);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(strncmp(h, "$scrypt$ln=11,", 14), 0);
	ck_assert(auth_pw_verify(PW, h));
	free(h);
	auth_pw_set_cost(10);
}
END_TEST

START_TEST(test_random_token)
{
	char	*a, *b;

	a = auth_random_token(32);
	b = auth_random_token(32);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(strlen(a), 43);
	ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	ck_assert_str_ne(a, b);
	free(a);
	free(b);
	a = auth_random_token(1);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(strlen(a), 2);
	free(a);
}
END_TEST

START_TEST(test_random_token_bad_size)
{
	ck_assert_ptr_null(auth_random_token(0));
	ck_assert_ptr_null(auth_random_token(1025));
	ck_assert_ptr_null(auth_random_token((size_t)-1));
}
END_TEST

Suite *
make_auth_pw_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("auth_pw");

	tc = tcase_create("valid");
	tcase_add_unchecked_fixture(tc, pw_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pw_hash_verify);
	tcase_add_test(tc, test_pw_known_answer);
	tcase_add_test(tc, test_pw_salted);
	tcase_add_test(tc, test_pw_empty_password);
	tcase_add_test(tc, test_pw_cost_clamped);
	tcase_add_test(tc, test_random_token);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_unchecked_fixture(tc, pw_setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pw_bad_wrong_password);
	tcase_add_loop_test(tc, test_pw_bad_stored, 0,
	    sizeof(bad_stored) / sizeof(bad_stored[0]));
	tcase_add_test(tc, test_pw_bad_stored_limits);
	tcase_add_test(tc, test_pw_bad_long_password);
	tcase_add_test(tc, test_random_token_bad_size);
	suite_add_tcase(s, tc);

	return s;
}
