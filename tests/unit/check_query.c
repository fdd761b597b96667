/*
 * Unit tests: query.c (form-urlencoded query strings and token bodies).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "tests.h"

START_TEST(test_form_decode_ok)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "", "" },
		{ "abc", "abc" },
		{ "a+b", "a b" },
		{ "a%20b", "a b" },
		{ "%41%62", "Ab" },
		{ "%c3%a9", "\xc3\xa9" },		/* lower-case hex */
		{ "%C3%A9", "\xc3\xa9" },
		{ "%2B%26%3D", "+&=" },
		{ "100%25", "100%" },
	};
	size_t	 i;
	char	*s;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s = form_decode(t[i].in, strlen(t[i].in));
		ck_assert_msg(s != NULL, "%s refused", t[i].in);
		ck_assert_str_eq(s, t[i].out);
		free(s);
	}
}
END_TEST

START_TEST(test_form_decode_bad_input)
{
	static const char *const bad[] = {
		"%", "%4", "a%", "%zz", "%4g", "%g4",
		"%00",			/* NUL byte */
		"a%00b",
		"%C3%28",		/* invalid UTF-8 */
		"%FF",
		"%ED%A0%80",		/* UTF-16 surrogate */
		"%C0%AF",		/* overlong '/' */
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(form_decode(bad[i], strlen(bad[i])) == NULL,
		    "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_form_decode_bad_escape_at_end)
{
	/* The escape must be inside the component, not read past it. */
	char	*s = form_decode("ab%41", 4);

	ck_assert_ptr_null(s);
	s = form_decode("ab%41", 5);
	ck_assert_str_eq(s, "abA");
	free(s);
}
END_TEST

START_TEST(test_form_parse_ok)
{
	struct qparam	 q[8];
	const char	*why = NULL;
	size_t		 n = 0;

	memset(q, 0, sizeof(q));
	ck_assert_int_eq(form_parse("a=1&&b=&c&d=x%3Dy+z", q, &n, 8, &why), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(q[0].key, "a");
	ck_assert_str_eq(q[0].val, "1");
	ck_assert_str_eq(q[1].key, "b");
	ck_assert_str_eq(q[1].val, "");
	ck_assert_str_eq(q[2].key, "c");
	ck_assert_str_eq(q[2].val, "");
	ck_assert_str_eq(q[3].key, "d");
	ck_assert_str_eq(q[3].val, "x=y z");
	qparam_free(q, n);
	ck_assert_ptr_null(q[0].key);
}
END_TEST

START_TEST(test_form_parse_bad_input)
{
	struct qparam	 q[4];
	const char	*why = NULL;
	size_t		 n = 0;

	memset(q, 0, sizeof(q));
	ck_assert_int_eq(form_parse("a=1&b=2&c=3&d=4&e=5", q, &n, 4, &why),
	    -1);
	ck_assert_str_eq(why, "too many parameters");
	ck_assert_uint_eq(n, 4);
	qparam_free(q, n);
	n = 0;
	why = NULL;
	ck_assert_int_eq(form_parse("a=1&b=%zz", q, &n, 4, &why), -1);
	ck_assert_str_eq(why, "malformed percent-encoding");
	ck_assert_uint_eq(n, 2);		/* the bad pair is owned too */
	ck_assert_ptr_null(q[1].val);
	qparam_free(q, n);
	n = 0;
	ck_assert_int_eq(form_parse("%00=x", q, &n, 4, &why), -1);
	qparam_free(q, n);
}
END_TEST

Suite *
make_query_suite(void)
{
	Suite	*s = suite_create("query");
	TCase	*tc = tcase_create("valid");

	tcase_add_test(tc, test_form_decode_ok);
	tcase_add_test(tc, test_form_parse_ok);
	suite_add_tcase(s, tc);
	tc = tcase_create("invalid");
	tcase_add_test(tc, test_form_decode_bad_input);
	tcase_add_test(tc, test_form_decode_bad_escape_at_end);
	tcase_add_test(tc, test_form_parse_bad_input);
	suite_add_tcase(s, tc);
	return s;
}
