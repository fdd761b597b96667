/*
 * Unit tests: party_json.c and party.c (body validation into struct
 * party, the representation, no-op detection, address resolution).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "party.h"
#include "tests.h"

/* Parse body as a party of type t; returns the problem's error. */
static enum rlx_err
parse_as(const char *body, enum party_type t, struct party *p,
    struct problem *pb)
{
	char		 err[128];
	json_object	*o = jsonx_parse(body, strlen(body), err, sizeof(err));

	ck_assert_msg(o != NULL, "test body does not parse: %s", body);
	problem_init(pb);
	party_from_json(o, t, p, pb);
	json_object_put(o);
	return pb->err;
}

/* The JSON Pointer of the first field error, or "". */
static const char *
first_pointer(const struct problem *pb)
{
	json_object	*e;

	if (pb->errors == NULL || json_object_array_length(pb->errors) == 0)
		return "";
	e = json_object_array_get_idx(pb->errors, 0);
	return json_object_get_string(json_object_object_get(e, "pointer"));
}

START_TEST(test_party_person_valid)
{
	struct party	 p;
	struct problem	 pb;

	ck_assert_int_eq(parse_as("{\"first_name\":\"Ada\",\"last_name\":"
	    "\"Lovelace\",\"preferred_name\":\"Countess\",\"email\":"
	    "\"ada@example.com\",\"phone_primary\":\"+442071234567\","
	    "\"date_of_birth\":\"1815-12-10\",\"title\":null,\"addresses\":"
	    "[{\"address_line_1\":\"1 Sq\",\"country\":\"GB\","
	    "\"is_primary\":true}]}", PARTY_PERSON, &p, &pb), RLX_OK);
	ck_assert_str_eq(p.v[PF_FIRST_NAME], "Ada");
	ck_assert_ptr_null(p.v[PF_TITLE]);
	ck_assert_str_eq(p.display_name, "Countess Lovelace");
	ck_assert_uint_eq(p.naddr, 1);
	ck_assert(p.addr[0].is_primary);
	ck_assert_str_eq(p.addr[0].f[AF_TYPE], "other");
	ck_assert(p.addresses_given);
	party_clear(&p);
	problem_clear(&pb);
}
END_TEST

START_TEST(test_party_org_valid)
{
	struct party	 p;
	struct problem	 pb;

	ck_assert_int_eq(parse_as("{\"organisation_name\":\"Analytical "
	    "Engines Ltd\",\"website\":\"https://example.com/x\"}", PARTY_ORG,
	    &p, &pb), RLX_OK);
	ck_assert_str_eq(p.display_name, "Analytical Engines Ltd");
	ck_assert(!p.addresses_given);
	party_clear(&p);
	problem_clear(&pb);
}
END_TEST

/* Bodies that must be refused, the status class and first pointer. */
static const struct {
	const char	*body;
	enum party_type	 type;
	enum rlx_err	 err;
	const char	*pointer;
} bad_bodies[] = {
	{ "{\"last_name\":\"L\"}", PARTY_PERSON, RLX_EINVAL, "/first_name" },
	{ "{\"first_name\":null,\"last_name\":\"L\"}", PARTY_PERSON,
	    RLX_EINVAL, "/first_name" },
	{ "{\"first_name\":\"  \",\"last_name\":\"L\"}", PARTY_PERSON,
	    RLX_EINVAL, "/first_name" },
	{ "{\"first_name\":1,\"last_name\":\"L\"}", PARTY_PERSON, RLX_EINVAL,
	    "/first_name" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"email\":\"x@\"}",
	    PARTY_PERSON, RLX_EINVAL, "/email" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"phone_primary\":"
	    "\"020 7123 4567\"}", PARTY_PERSON, RLX_EINVAL, "/phone_primary" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"date_of_birth\":"
	    "\"2999-01-01\"}", PARTY_PERSON, RLX_EINVAL, "/date_of_birth" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"date_of_birth\":"
	    "\"2001-02-29\"}", PARTY_PERSON, RLX_EINVAL, "/date_of_birth" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"addresses\":"
	    "[{\"address_line_1\":\"a\",\"country\":\"UK\"}]}", PARTY_PERSON,
	    RLX_EINVAL, "/addresses/0/country" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"addresses\":"
	    "[{\"country\":\"GB\"}]}", PARTY_PERSON, RLX_EINVAL,
	    "/addresses/0/address_line_1" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"addresses\":"
	    "[{\"address_line_1\":\"a\",\"country\":\"GB\",\"is_primary\":"
	    "true},{\"address_line_1\":\"b\",\"country\":\"GB\","
	    "\"is_primary\":true}]}", PARTY_PERSON, RLX_EINVAL, "/addresses" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"addresses\":{}}",
	    PARTY_PERSON, RLX_EINVAL, "/addresses" },
	{ "{\"organisation_name\":\"O\",\"website\":\"ftp://x.org\"}",
	    PARTY_ORG, RLX_EINVAL, "/website" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"nickname\":\"x\"}",
	    PARTY_PERSON, RLX_BADREQ, "/nickname" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"version\":3}",
	    PARTY_PERSON, RLX_BADREQ, "/version" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"party_id\":\"x\"}",
	    PARTY_PERSON, RLX_BADREQ, "/party_id" },
	{ "{\"first_name\":\"F\",\"last_name\":\"L\",\"website\":"
	    "\"https://x.org\"}", PARTY_PERSON, RLX_BADREQ, "/website" },
	{ "{\"organisation_name\":\"O\",\"first_name\":\"F\"}", PARTY_ORG,
	    RLX_BADREQ, "/first_name" },
	{ "[]", PARTY_PERSON, RLX_EINVAL, "" },
};

START_TEST(test_party_bad_body)
{
	struct party	 p;
	struct problem	 pb;
	size_t		 i;

	for (i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
		ck_assert_msg(parse_as(bad_bodies[i].body, bad_bodies[i].type,
		    &p, &pb) == bad_bodies[i].err, "case %zu: err %d", i,
		    pb.err);
		ck_assert_msg(strcmp(first_pointer(&pb),
		    bad_bodies[i].pointer) == 0, "case %zu: pointer %s", i,
		    first_pointer(&pb));
		problem_clear(&pb);
		party_clear(&p);
	}
}
END_TEST

START_TEST(test_party_bad_lengths)
{
	struct party	 p;
	struct problem	 pb;
	char		 body[1024], name[256];

	/* 100 characters of two bytes each: at the limit. */
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i < 100; i++)
		memcpy(name + 2 * i, "\xc3\xa9", 2);
	snprintf(body, sizeof(body), "{\"first_name\":\"%s\",\"last_name\":"
	    "\"L\"}", name);
	ck_assert_int_eq(parse_as(body, PARTY_PERSON, &p, &pb), RLX_OK);
	party_clear(&p);
	problem_clear(&pb);
	memcpy(name + 200, "x", 2);
	snprintf(body, sizeof(body), "{\"first_name\":\"%s\",\"last_name\":"
	    "\"L\"}", name);
	ck_assert_int_eq(parse_as(body, PARTY_PERSON, &p, &pb), RLX_EINVAL);
	party_clear(&p);
	problem_clear(&pb);
}
END_TEST

START_TEST(test_party_json_roundtrip)
{
	struct party	 p, q;
	struct problem	 pb;
	json_object	*in;

	parse_as("{\"first_name\":\"Ada\",\"last_name\":\"L\",\"addresses\":"
	    "[{\"address_line_1\":\"1 Sq\",\"country\":\"GB\"}]}",
	    PARTY_PERSON, &p, &pb);
	party_resolve_addresses(&p, NULL);
	ck_assert(p.addr[0].has_id && p.addr[0].is_new);
	/* The writable form parses back to the same party. */
	in = party_input_json(&p);
	problem_init(&pb);
	ck_assert_int_eq(party_from_json(in, PARTY_PERSON, &q, &pb), 0);
	party_resolve_addresses(&q, &p);
	ck_assert(party_same(&p, &q));
	ck_assert(memcmp(&p.addr[0].id, &q.addr[0].id, 16) == 0);
	free(q.v[PF_EMAIL]);
	q.v[PF_EMAIL] = strdup("a@example.com");
	ck_assert(!party_same(&p, &q));
	json_object_put(in);
	party_clear(&p);
	party_clear(&q);
	problem_clear(&pb);
}
END_TEST

START_TEST(test_party_resolve_by_content)
{
	struct party	 prev, next;
	struct problem	 pb;

	parse_as("{\"first_name\":\"A\",\"last_name\":\"B\",\"addresses\":"
	    "[{\"address_line_1\":\"x\",\"country\":\"GB\"}]}",
	    PARTY_PERSON, &prev, &pb);
	problem_clear(&pb);
	party_resolve_addresses(&prev, NULL);
	/* Same content without ids: same address; new content: new id. */
	parse_as("{\"first_name\":\"A\",\"last_name\":\"B\",\"addresses\":"
	    "[{\"address_line_1\":\"y\",\"country\":\"GB\"},"
	    "{\"address_line_1\":\"x\",\"country\":\"GB\"}]}",
	    PARTY_PERSON, &next, &pb);
	party_resolve_addresses(&next, &prev);
	ck_assert(next.addr[0].is_new);
	ck_assert(!next.addr[1].is_new);
	ck_assert(memcmp(&next.addr[1].id, &prev.addr[0].id, 16) == 0);
	party_clear(&prev);
	party_clear(&next);
	problem_clear(&pb);
}
END_TEST

Suite *
make_party_suite(void)
{
	Suite	*s = suite_create("party");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_test(tc, test_party_person_valid);
	tcase_add_test(tc, test_party_org_valid);
	tcase_add_test(tc, test_party_json_roundtrip);
	tcase_add_test(tc, test_party_resolve_by_content);
	tcase_add_test(bad, test_party_bad_body);
	tcase_add_test(bad, test_party_bad_lengths);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
