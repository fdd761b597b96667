/*
 * Unit tests: route.c, the front line of the API.
 */
#include "config.h"

#include <string.h>

#include "route.h"
#include "tests.h"

START_TEST(test_route_match_valid)
{
	struct route_match	 m;

	ck_assert_int_eq(route_match("/persons", &m), 0);
	ck_assert_int_eq(m.route, R_PERSONS);
	ck_assert_int_eq(route_match("/persons/abc", &m), 0);
	ck_assert_int_eq(m.route, R_PERSON);
	ck_assert_str_eq(m.param[0], "abc");
	ck_assert_int_eq(route_match("/parties/p1/addresses/a%2F1", &m), 0);
	ck_assert_int_eq(m.route, R_ADDRESS);
	ck_assert_str_eq(m.param[0], "p1");
	ck_assert_str_eq(m.param[1], "a/1");
	ck_assert_int_eq(route_match("/parties/p/external-identifiers/sf",
	    &m), 0);
	ck_assert_int_eq(m.route, R_EXTID);
	ck_assert_int_eq(route_match("/openapi.json", &m), 0);
	ck_assert_int_eq(m.route, R_OPENAPI);
}
END_TEST

START_TEST(test_route_bad_path)
{
	static const char *const nf[] = { "/", "", "/persons/", "/persons//x",
	    "/persons/a/b", "/Persons", "/personsx", "//persons",
	    "/parties/a/addresses/", "/auth", "/auth/login/x", NULL };
	static const char *const bad[] = { "/persons/%zz", "/persons/%00",
	    "/persons/%c3%28", "/persons/%4", NULL };
	struct route_match	 m;
	size_t			 i;

	for (i = 0; nf[i] != NULL; i++)
		ck_assert_msg(route_match(nf[i], &m) == -1, "matched %s", nf[i]);
	for (i = 0; bad[i] != NULL; i++)
		ck_assert_msg(route_match(bad[i], &m) == -2, "decoded %s",
		    bad[i]);
}
END_TEST

START_TEST(test_route_methods_and_scope)
{
	char	 allow[64];

	ck_assert(route_methods(R_PARTIES) & M_GET);
	ck_assert(!(route_methods(R_PARTIES) & M_POST));
	route_allow(R_PERSONS, allow, sizeof(allow));
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	ck_assert_int_eq(route_scope(R_PERSON, M_GET), SCOPE_READ);
	ck_assert_int_eq(route_scope(R_PERSON, M_PATCH), SCOPE_WRITE);
	ck_assert_int_eq(route_scope(R_EXTID, M_DELETE), SCOPE_WRITE);
	ck_assert_int_eq(route_scope(R_LOGIN, M_POST), SCOPE_NONE);
	ck_assert_int_eq(route_scope(R_HEALTHZ, M_GET), SCOPE_NONE);
	ck_assert_int_eq(method_parse("PATCH"), M_PATCH);
	ck_assert_int_eq(method_parse("patch"), 0);
	ck_assert_int_eq(method_parse("TRACE"), 0);
}
END_TEST

Suite *
make_route_suite(void)
{
	Suite	*s = suite_create("route");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_test(tc, test_route_match_valid);
	tcase_add_test(tc, test_route_methods_and_scope);
	tcase_add_test(bad, test_route_bad_path);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
