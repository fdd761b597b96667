/*
 * Unit tests: jsonx.c (strict parsing, merge patch of RFC 7396).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "tests.h"

static json_object *
parse(const char *s)
{
	char	 err[128];

	return jsonx_parse(s, strlen(s), err, sizeof(err));
}

START_TEST(test_jsonx_parse_valid)
{
	json_object	*o;
	char		 err[128];

	o = parse(" {\"a\": [1, 2, {\"b\": null}], \"c\": \"\\u00e9\"} \n");
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(jsonx_str(o),
	    "{\"a\":[1,2,{\"b\":null}],\"c\":\"\xc3\xa9\"}");
	json_object_put(o);
	o = parse("42");
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(o), 42);
	json_object_put(o);
	ck_assert_ptr_null(jsonx_parse("null", 4, err, sizeof(err)));
	ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_jsonx_bad_parse)
{
	static const char *const bad[] = { "", "{", "{\"a\":1,}", "[1,]",
	    "{'a':1}", "{\"a\":1} x", "{\"a\":1}{}", "/* c */ {}", "01",
	    "\"\xc3\x28\"", "\"\xed\xa0\x80\"", "NaN", "{\"a\" 1}", NULL };
	char		 err[128], deep[200];
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++) {
		ck_assert_msg(jsonx_parse(bad[i], strlen(bad[i]), err,
		    sizeof(err)) == NULL, "accepted %s", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for %s", bad[i]);
	}
	/* Nesting past the limit is refused, not recursed into. */
	memset(deep, '[', sizeof(deep));
	ck_assert_ptr_null(jsonx_parse(deep, sizeof(deep), err, sizeof(err)));
	ck_assert_ptr_null(jsonx_parse("{\"a\":1}\0", 8, err, sizeof(err)));
}
END_TEST

/* RFC 7396 appendix A: target, patch, result. */
static const char *const merge_cases[][3] = {
	{ "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
	{ "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}" },
	{ "{\"a\":\"b\"}", "{\"a\":null}", "{}" },
	{ "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}" },
	{ "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}" },
	{ "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}" },
	{ "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
	    "{\"a\":{\"b\":\"d\"}}" },
	{ "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}" },
	{ "[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]" },
	{ "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]" },
	{ "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}" },
	{ "[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}" },
	{ "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}" },
};

START_TEST(test_jsonx_merge_patch_rfc7396)
{
	json_object	*t, *p, *want, *got;
	size_t		 i;

	for (i = 0; i < sizeof(merge_cases) / sizeof(merge_cases[0]); i++) {
		t = parse(merge_cases[i][0]);
		p = parse(merge_cases[i][1]);
		want = parse(merge_cases[i][2]);
		got = jsonx_merge_patch(t, p);
		ck_assert_msg(jsonx_equal(got, want), "case %zu: got %s", i,
		    jsonx_str(got));
		json_object_put(got);
		json_object_put(p);
		json_object_put(want);
	}
}
END_TEST

START_TEST(test_jsonx_pointer_token)
{
	char	 buf[32];

	jsonx_pointer_token(buf, sizeof(buf), "a/b~c");
	ck_assert_str_eq(buf, "a~1b~0c");
}
END_TEST

Suite *
make_jsonx_suite(void)
{
	Suite	*s = suite_create("jsonx");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_test(tc, test_jsonx_parse_valid);
	tcase_add_test(tc, test_jsonx_merge_patch_rfc7396);
	tcase_add_test(tc, test_jsonx_pointer_token);
	tcase_add_test(bad, test_jsonx_bad_parse);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
