/*
 * Unit tests: util.c (numbers, base64url, copies) and uuid.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tests.h"
#include "util.h"
#include "uuid.h"

START_TEST(test_parse_int64_valid)
{
	int64_t	 v;

	ck_assert_int_eq(parse_int64("0", 0, 10, &v), 0);
	ck_assert_int_eq(v, 0);
	ck_assert_int_eq(parse_int64("-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(parse_int64("9223372036854775807", 0, INT64_MAX,
	    &v), 0);
	ck_assert(v == INT64_MAX);
}
END_TEST

START_TEST(test_parse_int64_bad_input)
{
	static const char *const bad[] = { "", " 1", "1 ", "+1", "1x", "x",
	    "11", "-11", "9223372036854775808", "0x10", NULL };
	int64_t	 v = 42;
	size_t	 i;

	for (i = 0; bad[i] != NULL; i++) {
		ck_assert_msg(parse_int64(bad[i], -10, 10, &v) == -1,
		    "accepted '%s'", bad[i]);
		ck_assert_int_eq(v, 42);
	}
	ck_assert_int_eq(parse_int64(NULL, 0, 1, &v), -1);
}
END_TEST

START_TEST(test_str_copy_truncates)
{
	char	 buf[4];

	ck_assert_int_eq(str_copy(buf, sizeof(buf), "abc"), 0);
	ck_assert_str_eq(buf, "abc");
	ck_assert_int_eq(str_copy(buf, sizeof(buf), "abcd"), -1);
	ck_assert_str_eq(buf, "abc");
}
END_TEST

START_TEST(test_b64url_roundtrip)
{
	unsigned char	 in[256], *out;
	char		*enc;
	size_t		 n, len;

	for (n = 0; n < sizeof(in); n++)
		in[n] = (unsigned char)(n * 7);
	for (n = 0; n <= sizeof(in); n += 1 + n / 3) {
		enc = b64url_encode(in, n);
		ck_assert(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789-_") == strlen(enc));
		out = b64url_decode(enc, strlen(enc), &len);
		ck_assert_ptr_nonnull(out);
		ck_assert_uint_eq(len, n);
		ck_assert(memcmp(in, out, n) == 0);
		free(enc);
		free(out);
	}
}
END_TEST

START_TEST(test_b64url_bad_input)
{
	static const char *const bad[] = { "a", "ab+c", "ab/c", "a b",
	    "AB=C", "QR", "Zm9vY", NULL };
	size_t	 i, len;

	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(b64url_decode(bad[i], strlen(bad[i]), &len) ==
		    NULL, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_uuid_v7_format_and_order)
{
	struct uuid	 a, b, p;
	char		 s[UUID_STRLEN + 1];
	int		 i;

	uuid_v7(&a);
	for (i = 0; i < 5000; i++) {
		uuid_v7(&b);
		/* Time-ordered: every new id sorts after the previous. */
		ck_assert(memcmp(a.b, b.b, 16) < 0);
		ck_assert_int_eq(b.b[6] >> 4, 7);
		ck_assert_int_eq(b.b[8] >> 6, 2);
		a = b;
	}
	uuid_fmt(&a, s);
	ck_assert_uint_eq(strlen(s), UUID_STRLEN);
	ck_assert_int_eq(uuid_parse(s, &p), 0);
	ck_assert(memcmp(a.b, p.b, 16) == 0);
}
END_TEST

START_TEST(test_uuid_bad_parse)
{
	static const char *const bad[] = { "",
	    "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6", "0190a2b45c6d7e8f9a0b1c2d3e4f5a6b",
	    "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6g",
	    "0190a2b4+5c6d-7e8f-9a0b-1c2d3e4f5a6b",
	    "0190a2b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b0", NULL };
	struct uuid	 u;
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(uuid_parse(bad[i], &u) == -1, "accepted '%s'",
		    bad[i]);
}
END_TEST

Suite *
make_util_suite(void)
{
	Suite	*s = suite_create("util");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_test(tc, test_parse_int64_valid);
	tcase_add_test(tc, test_str_copy_truncates);
	tcase_add_test(tc, test_b64url_roundtrip);
	tcase_add_test(tc, test_uuid_v7_format_and_order);
	tcase_add_test(bad, test_parse_int64_bad_input);
	tcase_add_test(bad, test_b64url_bad_input);
	tcase_add_test(bad, test_uuid_bad_parse);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
