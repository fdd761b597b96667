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
	struct uuid	 u, v;
	char		*c;

	uuid_v7(&u);
	c = cursor_encode(&u);
	ck_assert_int_eq(cursor_decode(c, &v), 0);
	ck_assert(memcmp(u.b, v.b, 16) == 0);
	free(c);
}
END_TEST

START_TEST(test_cursor_bad_input)
{
	unsigned char	 raw[17] = { 2 };	/* unknown version */
	static const char *const bad[] = { "", "x", "AAAA", "!!!!",
	    "AQAAAAAAAAAAAAAAAAAAAAAA",		/* 18 bytes */
	    "AQAAAAAAAAAAAAAAAAAAAA",		/* 16 bytes */
	    NULL };
	struct uuid	 u;
	char		*c, big[200];
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(cursor_decode(bad[i], &u) == -1, "accepted %s",
		    bad[i]);
	c = b64url_encode(raw, sizeof(raw));
	ck_assert_int_eq(cursor_decode(c, &u), -1);
	free(c);
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
