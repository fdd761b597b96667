/*
 * Unit tests: cursor.c.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tests.h"
#include "util.h"

START_TEST(test_cursor_roundtrip)
{
	struct cursor	 a, b;
	char		*c;

	memset(&a, 0, sizeof(a));
	a.kind = CURSOR_NAME;
	uuid_v7(&a.id);
	str_copy(a.key, sizeof(a.key), "Zo\xc3\xab Smith");
	c = cursor_encode(&a);
	ck_assert_int_eq(cursor_decode(c, &b), 0);
	ck_assert_int_eq(b.kind, CURSOR_NAME);
	ck_assert(memcmp(a.id.b, b.id.b, 16) == 0);
	ck_assert_str_eq(b.key, a.key);
	free(c);
	a.kind = CURSOR_UPDATED;
	str_copy(a.key, sizeof(a.key), "2026-01-02 03:04:05.123456");
	c = cursor_encode(&a);
	ck_assert_int_eq(cursor_decode(c, &b), 0);
	ck_assert_str_eq(b.key, a.key);
	free(c);
}
END_TEST

START_TEST(test_cursor_bad_input)
{
	static const unsigned char raw[][24] = {
		{ 1 },				/* old version */
		{ 2, 3 },			/* unknown kind */
		{ 2, 0, [18] = 'x' },		/* id cursor with a key */
		{ 2, 2, [18] = '2' },		/* time key too short */
		{ 2, 1, [18] = 0xff },		/* name not UTF-8 */
	};
	static const size_t rawlen[] = { 18, 18, 19, 19, 19 };
	static const char *const bad[] = { "", "x", "AAAA", "!!!!",
	    "AgAAAAAAAAAAAAAAAAAAAA",		/* 16 bytes */
	    NULL };
	struct cursor	 u;
	char		*c, big[4000];
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(cursor_decode(bad[i], &u) == -1, "accepted %s",
		    bad[i]);
	for (i = 0; i < sizeof(rawlen) / sizeof(rawlen[0]); i++) {
		c = b64url_encode(raw[i], rawlen[i]);
		ck_assert_msg(cursor_decode(c, &u) == -1, "raw case %zu", i);
		free(c);
	}
	memset(big, 'A', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(cursor_decode(big, &u), -1);
}
END_TEST

Suite *
make_cursor_suite(void)
{
	Suite	*s = suite_create("cursor");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_test(tc, test_cursor_roundtrip);
	tcase_add_test(bad, test_cursor_bad_input);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
