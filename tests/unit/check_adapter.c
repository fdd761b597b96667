/*
 * Unit tests: the pure parts of the adapters (adapters/): retry timing,
 * event parsing, the employee-of link choice, the field mapping, and
 * the Salesforce and Dataverse request builders and response parsers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "d365.h"
#include "event.h"
#include "jsonx.h"
#include "map.h"
#include "retry.h"
#include "sf.h"
#include "tests.h"
#include "util.h"

#define PID	"0193a1f5-02b4-7e61-8c3a-5d6e7f809a1b"
#define OID	"0193a1f5-02b4-7e61-8c3a-5d6e7f809a1c"
#define RID	"0193a1f5-02b4-7e61-8c3a-5d6e7f809a1d"
#define EID	"7d1e4b2a-2f0c-4a4e-9a51-0c6a8e3b9f10"

/* ---- retry timing -------------------------------------------------- */

START_TEST(test_retry_backoff_grows_and_caps)
{
	/* Half fixed, half jitter: [d/2, d). */
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 1, 0.0), 250);
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 1, 0.999999), 499);
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 0, 0.0), 250);
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 2, 0.0), 500);
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 4, 0.0), 2000);
	/* Capped at max, however many attempts. */
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 30, 0.0), 30000);
	ck_assert_int_eq(retry_backoff_ms(500, 60000, 4000000, 0.5), 45000);
	/* Never zero, even with a silly configuration. */
	ck_assert_int_ge(retry_backoff_ms(0, 0, 1, 0.0), 1);
	ck_assert_int_le(retry_backoff_ms(1000, 10, 5, 1.5), 1000);
}
END_TEST

START_TEST(test_retry_after_forms)
{
	int64_t	 ms;

	ck_assert_int_eq(retry_after_parse("120", 0, &ms), 0);
	ck_assert_int_eq(ms, 120000);
	ck_assert_int_eq(retry_after_parse(" 2 ", 0, &ms), 0);
	ck_assert_int_eq(ms, 2000);
	ck_assert_int_eq(retry_after_parse("0", 0, &ms), 0);
	ck_assert_int_eq(ms, 0);
	/* Huge values saturate at the cap. */
	ck_assert_int_eq(retry_after_parse("99999999999999", 0, &ms), 0);
	ck_assert_int_eq(ms, RETRY_AFTER_MAX_MS);
	/* IMF-fixdate, 10 s after "now" (784111767 = 06 Nov 1994 08:49:27). */
	ck_assert_int_eq(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT",
	    784111767, &ms), 0);
	ck_assert_int_eq(ms, 10000);
	/* Obsolete forms too; a date in the past means now. */
	ck_assert_int_eq(retry_after_parse("Sunday, 06-Nov-94 08:49:37 GMT",
	    784111767, &ms), 0);
	ck_assert_int_eq(ms, 10000);
	ck_assert_int_eq(retry_after_parse("Sun Nov  6 08:49:37 1994",
	    784111767, &ms), 0);
	ck_assert_int_eq(ms, 10000);
	ck_assert_int_eq(retry_after_parse("Sun, 06 Nov 1994 08:49:37 GMT",
	    784111800, &ms), 0);
	ck_assert_int_eq(ms, 0);
}
END_TEST

START_TEST(test_retry_after_bad)
{
	static const char *const bad[] = { "", "-1", "1.5", "abc", "5s",
	    "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 GMT x",
	    NULL };
	int64_t	 ms = 7;
	size_t	 i;

	for (i = 0; bad[i] != NULL; i++) {
		ck_assert_msg(retry_after_parse(bad[i], 0, &ms) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(ms, 0);
	}
	ck_assert_int_eq(retry_after_parse(NULL, 0, &ms), -1);
}
END_TEST

START_TEST(test_retry_map)
{
	struct retry_map	 m;
	struct retry_slot	*s;
	char			 key[32];
	int			 i;

	retry_map_init(&m);
	ck_assert_int_eq(retry_map_next_due(&m), INT64_MAX);
	/* Enough keys to make the table grow. */
	for (i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "0/%d-0", i);
		s = retry_map_put(&m, key);
		s->due_ms = 5000 - i;
		s->attempts = (unsigned)i;
	}
	ck_assert_uint_eq(m.n, 2000);
	ck_assert_ptr_eq(retry_map_put(&m, "0/7-0"), retry_map_get(&m,
	    "0/7-0"));
	ck_assert_uint_eq(retry_map_get(&m, "0/7-0")->attempts, 7);
	ck_assert_int_eq(retry_map_next_due(&m), 3001);
	retry_map_del(&m, "0/1999-0");
	ck_assert_ptr_null(retry_map_get(&m, "0/1999-0"));
	ck_assert_int_eq(retry_map_next_due(&m), 3002);
	/* A scan that saw only two of them: the rest are swept. */
	retry_map_unmark(&m);
	retry_map_get(&m, "0/3-0")->seen = true;
	retry_map_get(&m, "0/4-0")->seen = true;
	ck_assert_uint_eq(retry_map_sweep(&m), 1997);
	ck_assert_uint_eq(m.n, 2);
	ck_assert_ptr_nonnull(retry_map_get(&m, "0/4-0"));
	retry_map_clear(&m);
}
END_TEST

/* ---- events -------------------------------------------------------- */

/* An entry's field/value pairs with data and overrides (NULL: drop). */
static int
parse_entry(struct event *ev, const char *type, const char *agg,
    const char *subject, const char *version, const char *data)
{
	char	*kv[20], err[200];
	size_t	 n = 0;
	int	 rc;

	kv[n++] = "id"; kv[n++] = EID;
	if (type != NULL) {
		kv[n++] = "type"; kv[n++] = (char *)type;
	}
	kv[n++] = "source"; kv[n++] = "rolodex";
	kv[n++] = "specversion"; kv[n++] = "1.0";
	kv[n++] = "subject"; kv[n++] = (char *)subject;
	kv[n++] = "aggregate_type"; kv[n++] = (char *)agg;
	kv[n++] = "aggregate_version"; kv[n++] = (char *)version;
	kv[n++] = "time"; kv[n++] = "2025-11-24T16:02:47Z";
	if (data != NULL) {
		kv[n++] = "data"; kv[n++] = (char *)data;
	}
	rc = event_parse(ev, kv, n, err, sizeof(err));
	if (rc == -1)
		ck_assert_msg(err[0] != '\0', "no reason given");
	return rc;
}

START_TEST(test_event_parse_valid)
{
	struct event	 ev;

	ck_assert_int_eq(parse_entry(&ev, "PersonUpdated", "person",
	    "0193A1F5-02B4-7E61-8C3A-5D6E7F809A1B", "7", "{\"party_id\":\""
	    PID "\",\"party_type\":\"person\",\"first_name\":\"Ada\"}"), 0);
	ck_assert_str_eq(ev.subject, PID);	/* canonical lower case */
	ck_assert_int_eq(ev.agg, AGG_PERSON);
	ck_assert_int_eq(ev.action, EVA_UPSERT);
	ck_assert_int_eq(ev.version, 7);
	ck_assert_str_eq(ev.id, EID);
	ck_assert_uint_eq(ev.nkv, 18);	/* the entry is kept as read */
	event_clear(&ev);

	/* An erased person's event is a delete, whatever its type. */
	ck_assert_int_eq(parse_entry(&ev, "PersonUpdated", "person", PID, "3",
	    "{\"party_id\":\"" PID "\",\"party_type\":\"person\",\"version\":3,"
	    "\"erased\":true}"), 0);
	ck_assert_int_eq(ev.action, EVA_DELETE);
	event_clear(&ev);

	ck_assert_int_eq(parse_entry(&ev, "RelationshipCreated",
	    "relationship", RID, "1", "{\"relationship_id\":\"" RID "\","
	    "\"relationship_type\":\"employee-of\",\"from_party_id\":\"" PID
	    "\",\"to_party_id\":\"" OID "\",\"start_date\":\"2020-01-31\","
	    "\"end_date\":null}"), 0);
	ck_assert_str_eq(ev.rel_type, "employee-of");
	ck_assert_str_eq(ev.from, PID);
	ck_assert_str_eq(ev.to, OID);
	ck_assert_str_eq(ev.start, "2020-01-31");
	ck_assert_str_eq(ev.end, "");
	event_clear(&ev);

	/* A relationship delete needs no parties. */
	ck_assert_int_eq(parse_entry(&ev, "RelationshipDeleted",
	    "relationship", RID, "2", "{\"relationship_id\":\"" RID "\","
	    "\"relationship_type\":\"employee-of\",\"version\":2}"), 0);
	ck_assert_int_eq(ev.action, EVA_DELETE);
	ck_assert_str_eq(ev.from, "");
	event_clear(&ev);
}
END_TEST

START_TEST(test_event_bad_entries)
{
	static const struct {
		const char *type, *agg, *subject, *version, *data;
	} bad[] = {
		{ NULL, "person", PID, "1", "{\"party_id\":\"" PID "\"}" },
		{ "PersonMoved", "person", PID, "1", "{}" },
		{ "PersonCreated", "person", "not-a-uuid", "1", "{}" },
		{ "PersonCreated", "organisation", PID, "1",
		    "{\"party_id\":\"" PID "\",\"party_type\":\"person\"}" },
		{ "PersonCreated", "person", PID, "0",
		    "{\"party_id\":\"" PID "\",\"party_type\":\"person\"}" },
		{ "PersonCreated", "person", PID, "1x",
		    "{\"party_id\":\"" PID "\",\"party_type\":\"person\"}" },
		{ "PersonCreated", "person", PID, "1", NULL },
		{ "PersonCreated", "person", PID, "1", "[1]" },
		{ "PersonCreated", "person", PID, "1", "{\"party_id\":" },
		{ "PersonCreated", "person", PID, "1",
		    "{\"party_id\":\"" OID "\",\"party_type\":\"person\"}" },
		{ "PersonCreated", "person", PID, "1",
		    "{\"party_id\":\"" PID "\",\"party_type\":"
		    "\"organisation\"}" },
		{ "RelationshipCreated", "relationship", RID, "1",
		    "{\"relationship_id\":\"" RID "\",\"relationship_type\":"
		    "\"employee-of\",\"to_party_id\":\"" OID "\"}" },
		{ "RelationshipCreated", "relationship", RID, "1",
		    "{\"relationship_id\":\"" RID "\",\"relationship_type\":"
		    "\"employee-of\",\"from_party_id\":\"" PID "\","
		    "\"to_party_id\":\"" OID "\",\"end_date\":\"2020-1-1\"}" },
	};
	struct event	 ev;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(parse_entry(&ev, bad[i].type, bad[i].agg,
		    bad[i].subject, bad[i].version, bad[i].data) == -1,
		    "bad entry %zu accepted", i);
		/* The entry is kept for the dead-letter stream. */
		ck_assert_uint_gt(ev.nkv, 0);
		event_clear(&ev);
	}
}
END_TEST

static struct employment
emp(const char *rid, const char *org, const char *start, const char *end,
    enum org_state st)
{
	struct employment	 e;

	memset(&e, 0, sizeof(e));
	str_copy(e.rid, sizeof(e.rid), rid);
	str_copy(e.org, sizeof(e.org), org);
	str_copy(e.start, sizeof(e.start), start);
	str_copy(e.end, sizeof(e.end), end);
	e.state = st;
	return e;
}

#define R1 "00000000-0000-7000-8000-000000000001"
#define R2 "00000000-0000-7000-8000-000000000002"
#define O1 "00000000-0000-7000-8000-0000000000a1"
#define O2 "00000000-0000-7000-8000-0000000000a2"

START_TEST(test_link_choose)
{
	struct employment	 e[3] = { 0 };
	bool			 wait;

	ck_assert_int_eq(link_choose(e, 0, "2025-06-01", &wait), -1);
	ck_assert(!wait);
	/* The later start wins; an open start counts as earliest. */
	e[0] = emp(R1, O1, "", "", ORG_LIVE);
	e[1] = emp(R2, O2, "2020-01-01", "", ORG_LIVE);
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 1);
	/* Ended before today: out; ending today: still current. */
	e[1] = emp(R2, O2, "2020-01-01", "2025-05-31", ORG_LIVE);
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 0);
	e[1] = emp(R2, O2, "2020-01-01", "2025-06-01", ORG_LIVE);
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 1);
	/* Same start: the larger relationship id. */
	e[0] = emp(R1, O1, "2020-01-01", "", ORG_LIVE);
	e[1] = emp(R2, O2, "2020-01-01", "", ORG_LIVE);
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 1);
	/* A deleted organisation is skipped. */
	e[1].state = ORG_GONE;
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 0);
	ck_assert(!wait);
	/* The best one not replicated yet: wait, even with another live. */
	e[1].state = ORG_UNKNOWN;
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), -1);
	ck_assert(wait);
	/* A lower-ranked unknown one does not hold the best back. */
	e[0].state = ORG_UNKNOWN;
	e[1].state = ORG_LIVE;
	ck_assert_int_eq(link_choose(e, 2, "2025-06-01", &wait), 1);
	ck_assert(!wait);
}
END_TEST

START_TEST(test_employment_text)
{
	struct employment	 a, b;
	char			 buf[160];

	a = emp(R1, O1, "2020-01-01", "", ORG_UNKNOWN);
	employment_fmt(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, O1 " 2020-01-01 -");
	ck_assert_int_eq(employment_parse(&b, R1, buf), 0);
	ck_assert_str_eq(b.rid, R1);
	ck_assert_str_eq(b.org, O1);
	ck_assert_str_eq(b.start, "2020-01-01");
	ck_assert_str_eq(b.end, "");
	ck_assert_int_eq(employment_parse(&b, R1, "short 1 2"), -1);
	ck_assert_int_eq(employment_parse(&b, R1, O1), -1);
	ck_assert_int_eq(employment_parse(&b, "x", buf), -1);
}
END_TEST

/* ---- mapping -------------------------------------------------------- */

static json_object *
json(const char *s)
{
	char		 err[128];
	json_object	*o = jsonx_parse(s, strlen(s), err, sizeof(err));

	ck_assert_msg(o != NULL, "bad test JSON: %s", err);
	return o;
}

static const char person_json[] =
    "{\"party_id\":\"" PID "\",\"party_type\":\"person\","
    "\"title\":\"Dr\",\"first_name\":\"Ada\",\"last_name\":\"Lovelace\","
    "\"email\":\"ada@example.com\",\"phone_primary\":\"+441130000000\","
    "\"phone_secondary\":null,\"date_of_birth\":\"1815-12-10\","
    "\"addresses\":[{\"address_id\":\"x\",\"address_type\":\"home\","
    "\"address_line_1\":\"Old House\",\"city\":\"York\",\"country\":\"GB\","
    "\"is_primary\":false},{\"address_id\":\"y\",\"address_type\":\"work\","
    "\"address_line_1\":\"1 Main St\",\"address_line_2\":null,"
    "\"address_line_3\":\"Floor 2\",\"city\":\"Leeds\",\"region\":null,"
    "\"postal_code\":\"LS1 1AA\",\"country\":\"GB\",\"is_primary\":true}],"
    "\"version\":4}";

START_TEST(test_map_apply_contact)
{
	struct map	 m;
	json_object	*p, *out;
	char		 err[128];

	ck_assert_int_eq(map_parse(&m, "FirstName=first_name, LastName="
	    "last_name,Email=email,MobilePhone=phone_secondary,Birthdate="
	    "date_of_birth,Salutation=title,MailingStreet=address.street,"
	    "MailingCity=address.city,MailingState=address.region,"
	    "MailingPostalCode=address.postal_code,MailingCountry="
	    "address.country", err, sizeof(err)), 0);
	p = json(person_json);
	out = map_apply(&m, p);
	ck_assert_str_eq(jsonx_str(out), "{\"FirstName\":\"Ada\","
	    "\"LastName\":\"Lovelace\",\"Email\":\"ada@example.com\","
	    "\"MobilePhone\":null,\"Birthdate\":\"1815-12-10\","
	    "\"Salutation\":\"Dr\",\"MailingStreet\":\"1 Main St\\nFloor 2\","
	    "\"MailingCity\":\"Leeds\",\"MailingState\":null,"
	    "\"MailingPostalCode\":\"LS1 1AA\",\"MailingCountry\":\"GB\"}");
	json_object_put(out);
	json_object_put(p);
	/* Without a primary address every address target is null. */
	p = json("{\"party_id\":\"" PID "\",\"first_name\":\"A\",\"addresses\":"
	    "[{\"address_line_1\":\"x\",\"city\":\"y\","
	    "\"is_primary\":false}]}");
	out = map_apply(&m, p);
	ck_assert_str_eq(jsonx_str(out), "{\"FirstName\":\"A\","
	    "\"LastName\":null,\"Email\":null,\"MobilePhone\":null,"
	    "\"Birthdate\":null,\"Salutation\":null,\"MailingStreet\":null,"
	    "\"MailingCity\":null,\"MailingState\":null,"
	    "\"MailingPostalCode\":null,\"MailingCountry\":null}");
	json_object_put(out);
	json_object_put(p);
	map_clear(&m);
}
END_TEST

START_TEST(test_map_bad_specs)
{
	static const char *const bad[] = { "", " , ", "FirstName",
	    "FirstName=frist_name", "First Name=first_name",
	    "A=email,A=email", "A=address.streets", "=email",
	    "A=address.", NULL };
	struct map	 m;
	char		 err[128];
	size_t		 i;

	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		ck_assert_msg(map_parse(&m, bad[i], err, sizeof(err)) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_msg(err[0] != '\0', "no reason for \"%s\"", bad[i]);
		ck_assert_uint_eq(m.n, 0);
	}
}
END_TEST

/* ---- Salesforce ----------------------------------------------------- */

START_TEST(test_sf_parse_results)
{
	static const char body[] = "[{\"id\":\"003000000000001AAA\","
	    "\"success\":true,\"errors\":[],\"created\":true},"
	    "{\"success\":false,\"errors\":[{\"statusCode\":"
	    "\"REQUIRED_FIELD_MISSING\",\"message\":\"Required fields are "
	    "missing: [LastName]\",\"fields\":[\"LastName\"]}]},"
	    "{\"id\":\"003000000000003AAA\",\"success\":true,\"errors\":[],"
	    "\"created\":false},{\"success\":false,\"errors\":[{\"statusCode\":"
	    "\"UNABLE_TO_LOCK_ROW\",\"message\":\"unable to obtain exclusive "
	    "access\"}]}]";
	struct sf_result	 r[4];

	ck_assert_int_eq(sf_parse_results(body, strlen(body), r, 4), 0);
	ck_assert(r[0].success && r[0].created);
	ck_assert_str_eq(r[0].id, "003000000000001AAA");
	ck_assert(!r[1].success);
	ck_assert_str_eq(r[1].code, "REQUIRED_FIELD_MISSING");
	ck_assert_str_eq(r[1].msg, "Required fields are missing: [LastName]");
	ck_assert(r[2].success && !r[2].created);
	ck_assert_str_eq(r[3].code, "UNABLE_TO_LOCK_ROW");
	/* Not as many results as records, or not results at all. */
	ck_assert_int_eq(sf_parse_results(body, strlen(body), r, 3), -1);
	ck_assert_int_eq(sf_parse_results("{}", 2, r, 1), -1);
	ck_assert_int_eq(sf_parse_results("[1]", 3, r, 1), -1);
	ck_assert_int_eq(sf_parse_results("<html>", 6, r, 1), -1);
	/* A failure without errors still has a code. */
	ck_assert_int_eq(sf_parse_results("[{\"success\":false}]", 19, r, 1),
	    0);
	ck_assert_str_eq(r[0].code, "UNKNOWN_ERROR");
}
END_TEST

START_TEST(test_sf_parse_error)
{
	static const char rest[] = "[{\"message\":\"Session expired or "
	    "invalid\",\"errorCode\":\"INVALID_SESSION_ID\"}]";
	static const char oauth[] = "{\"error\":\"invalid_client\","
	    "\"error_description\":\"invalid client credentials\"}";
	char	 code[64], msg[128];

	ck_assert_int_eq(sf_parse_error(rest, strlen(rest), code, sizeof(code),
	    msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "INVALID_SESSION_ID");
	ck_assert_str_eq(msg, "Session expired or invalid");
	ck_assert_int_eq(sf_parse_error(oauth, strlen(oauth), code,
	    sizeof(code), msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "invalid_client");
	ck_assert_int_eq(sf_parse_error("<html>503</html>", 16, code,
	    sizeof(code), msg, sizeof(msg)), -1);
	ck_assert_str_eq(code, "");
	ck_assert_int_eq(sf_parse_error("[]", 2, code, sizeof(code), msg,
	    sizeof(msg)), -1);
}
END_TEST

START_TEST(test_sf_classify)
{
	bool	 thr;

	ck_assert_int_eq(sf_classify(200, NULL, &thr), OPR_OK);
	ck_assert_int_eq(sf_classify(204, NULL, &thr), OPR_OK);
	ck_assert_int_eq(sf_classify(403, "REQUEST_LIMIT_EXCEEDED", &thr),
	    OPR_TRANSIENT);
	ck_assert(thr);
	ck_assert_int_eq(sf_classify(503, "", &thr), OPR_TRANSIENT);
	ck_assert(thr);
	ck_assert_int_eq(sf_classify(500, "UNKNOWN_EXCEPTION", &thr),
	    OPR_TRANSIENT);
	ck_assert_int_eq(sf_classify(429, NULL, &thr), OPR_TRANSIENT);
	ck_assert_int_eq(sf_classify(401, "INVALID_SESSION_ID", &thr),
	    OPR_TRANSIENT);
	/* A locked row is retried, without pausing everything. */
	ck_assert_int_eq(sf_classify(400, "UNABLE_TO_LOCK_ROW", &thr),
	    OPR_TRANSIENT);
	ck_assert(!thr);
	ck_assert_int_eq(sf_classify(400, "REQUIRED_FIELD_MISSING", &thr),
	    OPR_REJECTED);
	ck_assert(!thr);
	ck_assert_int_eq(sf_classify(400, "STRING_TOO_LONG", &thr),
	    OPR_REJECTED);
	ck_assert_int_eq(sf_classify(300, "MULTIPLE_CHOICES", &thr),
	    OPR_REJECTED);
	ck_assert_int_eq(sf_classify(404, "NOT_FOUND", &thr), OPR_REJECTED);
}
END_TEST

START_TEST(test_sf_collection_body)
{
	struct map	 m;
	struct op	 ops[2];
	json_object	*p1, *p2, *o, *recs, *r, *v;
	char		*body, err[128];

	ck_assert_int_eq(map_parse(&m, "LastName=last_name,Email=email", err,
	    sizeof(err)), 0);
	p1 = json("{\"party_id\":\"" PID "\",\"last_name\":\"Lovelace\"}");
	p2 = json("{\"party_id\":\"" OID "\",\"last_name\":\"Byron\","
	    "\"email\":\"b@example.com\"}");
	memset(ops, 0, sizeof(ops));
	ops[0].party = PID;
	ops[0].data = p1;
	ops[1].party = OID;
	ops[1].data = p2;
	body = sf_collection_body(&m, "Contact", "Rolodex_Id__c", ops, 2);
	o = json(body);
	ck_assert(json_object_object_get_ex(o, "allOrNone", &v) &&
	    !json_object_get_boolean(v));
	ck_assert(json_object_object_get_ex(o, "records", &recs));
	ck_assert_uint_eq(json_object_array_length(recs), 2);
	r = json_object_array_get_idx(recs, 0);
	ck_assert_str_eq(jsonx_str(r), "{\"attributes\":{\"type\":"
	    "\"Contact\"},\"Rolodex_Id__c\":\"" PID "\",\"LastName\":"
	    "\"Lovelace\",\"Email\":null}");
	r = json_object_array_get_idx(recs, 1);
	ck_assert(json_object_object_get_ex(r, "Email", &v));
	ck_assert_str_eq(json_object_get_string(v), "b@example.com");
	json_object_put(o);
	json_object_put(p1);
	json_object_put(p2);
	free(body);
	map_clear(&m);
}
END_TEST

/* Split a JWT and check the RS256 signature with key's public half. */
START_TEST(test_sf_jwt_assertion)
{
	EVP_PKEY_CTX	*kc;
	EVP_PKEY	*key = NULL;
	EVP_MD_CTX	*md;
	char		*jwt, *dot1, *dot2;
	unsigned char	*sig, *claims;
	size_t		 siglen, clen;
	json_object	*c, *v;

	kc = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL);
	ck_assert(EVP_PKEY_keygen_init(kc) == 1);
	ck_assert(EVP_PKEY_CTX_set_rsa_keygen_bits(kc, 2048) == 1);
	ck_assert(EVP_PKEY_keygen(kc, &key) == 1);
	EVP_PKEY_CTX_free(kc);
	jwt = sf_jwt_assertion(key, "client-id", "adapter@example.com",
	    "https://login.salesforce.com", 1700000000);
	ck_assert_ptr_nonnull(jwt);
	ck_assert_ptr_nonnull(dot1 = strchr(jwt, '.'));
	ck_assert_ptr_nonnull(dot2 = strchr(dot1 + 1, '.'));
	ck_assert_int_eq(strncmp(jwt, "eyJhbGciOiJSUzI1NiJ9.", 21), 0);
	claims = b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &clen);
	ck_assert_ptr_nonnull(claims);
	c = jsonx_parse((char *)claims, clen, (char[64]){ 0 }, 64);
	ck_assert_ptr_nonnull(c);
	ck_assert(json_object_object_get_ex(c, "iss", &v));
	ck_assert_str_eq(json_object_get_string(v), "client-id");
	ck_assert(json_object_object_get_ex(c, "sub", &v));
	ck_assert_str_eq(json_object_get_string(v), "adapter@example.com");
	ck_assert(json_object_object_get_ex(c, "aud", &v));
	ck_assert_str_eq(json_object_get_string(v),
	    "https://login.salesforce.com");
	ck_assert(json_object_object_get_ex(c, "exp", &v));
	ck_assert_int_eq(json_object_get_int64(v), 1700000180);
	json_object_put(c);
	free(claims);
	sig = b64url_decode(dot2 + 1, strlen(dot2 + 1), &siglen);
	ck_assert_ptr_nonnull(sig);
	md = EVP_MD_CTX_new();
	ck_assert(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) ==
	    1);
	ck_assert(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt,
	    (size_t)(dot2 - jwt)) == 1);
	/* A changed claim no longer verifies. */
	dot1[2] ^= 1;
	ck_assert(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) ==
	    1);
	ck_assert(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt,
	    (size_t)(dot2 - jwt)) != 1);
	EVP_MD_CTX_free(md);
	free(sig);
	free(jwt);
	EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_sf_bad_key)
{
	char	 err[128];

	ck_assert_ptr_null(sf_load_key("not a key", err, sizeof(err)));
	ck_assert(strstr(err, "RSA") != NULL);
}
END_TEST

/* ---- Dataverse -------------------------------------------------------- */

START_TEST(test_d365_parse_error)
{
	static const char body[] = "{\"error\":{\"code\":\"0x80040265\","
	    "\"message\":\"Rejected by the sandbox validation rule\"}}";
	char	 code[64], msg[128];

	ck_assert_int_eq(d365_parse_error(body, strlen(body), code,
	    sizeof(code), msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "0x80040265");
	ck_assert_str_eq(msg, "Rejected by the sandbox validation rule");
	ck_assert_int_eq(d365_parse_error("{\"message\":\"x\"}", 15, code,
	    sizeof(code), msg, sizeof(msg)), -1);
	ck_assert_int_eq(d365_parse_error("", 0, code, sizeof(code), msg,
	    sizeof(msg)), -1);
	ck_assert_str_eq(code, "");
}
END_TEST

START_TEST(test_d365_classify_and_guid)
{
	char	 g[UUID_STRLEN + 1];
	bool	 thr;

	ck_assert_int_eq(d365_classify(204, &thr), OPR_OK);
	ck_assert_int_eq(d365_classify(429, &thr), OPR_TRANSIENT);
	ck_assert(thr);
	ck_assert_int_eq(d365_classify(503, &thr), OPR_TRANSIENT);
	ck_assert_int_eq(d365_classify(400, &thr), OPR_REJECTED);
	ck_assert(!thr);
	ck_assert_int_eq(d365_classify(412, &thr), OPR_REJECTED);
	ck_assert_int_eq(d365_entity_guid("https://org.crm.dynamics.com/api/"
	    "data/v9.2/contacts(00AA00AA-BB11-CC22-DD33-44EE44EE44EE)", g), 0);
	ck_assert_str_eq(g, "00aa00aa-bb11-cc22-dd33-44ee44ee44ee");
	ck_assert_int_eq(d365_entity_guid("https://x/api/data/v9.2/contacts("
	    "new_rolodexid='" PID "')", g), -1);
	ck_assert_int_eq(d365_entity_guid("contacts", g), -1);
}
END_TEST

START_TEST(test_d365_batch_body)
{
	struct d365_req	 q[2];
	char		*b;

	memset(q, 0, sizeof(q));
	q[0].method = "PATCH";
	q[0].url = "https://o/api/data/v9.2/contacts(k='1')";
	q[0].body = "{\"lastname\":\"A\"}";
	q[1].method = "DELETE";
	q[1].url = "https://o/api/data/v9.2/contacts(k='2')";
	q[1].if_match = true;
	b = d365_batch_body("B", q, 2);
	ck_assert_str_eq(b,
	    "--batch_B\r\nContent-Type: multipart/mixed; "
	    "boundary=changeset_B_0\r\n\r\n"
	    "--changeset_B_0\r\nContent-Type: application/http\r\n"
	    "Content-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n"
	    "PATCH https://o/api/data/v9.2/contacts(k='1') HTTP/1.1\r\n"
	    "Content-Type: application/json\r\n\r\n"
	    "{\"lastname\":\"A\"}\r\n--changeset_B_0--\r\n"
	    "--batch_B\r\nContent-Type: multipart/mixed; "
	    "boundary=changeset_B_1\r\n\r\n"
	    "--changeset_B_1\r\nContent-Type: application/http\r\n"
	    "Content-Transfer-Encoding: binary\r\nContent-ID: 2\r\n\r\n"
	    "DELETE https://o/api/data/v9.2/contacts(k='2') HTTP/1.1\r\n"
	    "If-Match: *\r\n\r\n--changeset_B_1--\r\n--batch_B--\r\n");
	free(b);
}
END_TEST

/* A response as Dataverse shapes it: two change sets done, one failed. */
static const char batch_resp[] =
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=changesetresponse_a\r\n\r\n"
    "--changesetresponse_a\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 1\r\n\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "OData-Version: 4.0\r\n"
    "OData-EntityId: https://o/api/data/v9.2/contacts("
    "11111111-2222-3333-4444-555555555555)\r\n\r\n\r\n"
    "--changesetresponse_a--\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n\r\n"
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: application/json; odata.metadata=minimal\r\n"
    "OData-Version: 4.0\r\n\r\n"
    "{\"error\":{\"code\":\"0x80044331\",\"message\":\"too long\"}}\r\n"
    "--batchresponse_1\r\n"
    "Content-Type: multipart/mixed; boundary=\"changesetresponse_c\"\r\n\r\n"
    "--changesetresponse_c\r\n"
    "Content-Type: application/http\r\n\r\n"
    "HTTP/1.1 429 Too Many Requests\r\n"
    "Retry-After: 7\r\n\r\n"
    "--changesetresponse_c--\r\n"
    "--batchresponse_1--\r\n";

START_TEST(test_d365_batch_parse)
{
	struct d365_part	*p;
	size_t			 n;
	char			 code[64], msg[64];

	ck_assert_int_eq(d365_batch_parse("multipart/mixed; "
	    "boundary=batchresponse_1", batch_resp, strlen(batch_resp), &p,
	    &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(p[0].group, 0);
	ck_assert_int_eq(p[0].status, 204);
	ck_assert_str_eq(p[0].entity_id, "https://o/api/data/v9.2/contacts("
	    "11111111-2222-3333-4444-555555555555)");
	ck_assert_uint_eq(p[1].group, 1);
	ck_assert_int_eq(p[1].status, 400);
	ck_assert_int_eq(d365_parse_error(p[1].body, p[1].len, code,
	    sizeof(code), msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "0x80044331");
	ck_assert_uint_eq(p[2].group, 2);
	ck_assert_int_eq(p[2].status, 429);
	ck_assert_str_eq(p[2].retry_after, "7");
	d365_parts_free(p, n);
}
END_TEST

START_TEST(test_d365_batch_parse_lf_and_bad)
{
	struct d365_part	*p;
	char			*lf, *o;
	const char		*s;
	size_t			 n;

	/* Bare LF line ends are read too. */
	lf = o = malloc(sizeof(batch_resp));
	for (s = batch_resp; *s != '\0'; s++)
		if (*s != '\r')
			*o++ = *s;
	*o = '\0';
	ck_assert_int_eq(d365_batch_parse("multipart/mixed;boundary="
	    "batchresponse_1", lf, strlen(lf), &p, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(p[1].status, 400);
	d365_parts_free(p, n);
	free(lf);
	/* Wrong type, no boundary, another boundary, garbage. */
	ck_assert_int_eq(d365_batch_parse("application/json", batch_resp,
	    strlen(batch_resp), &p, &n), -1);
	ck_assert_int_eq(d365_batch_parse("multipart/mixed", batch_resp,
	    strlen(batch_resp), &p, &n), -1);
	ck_assert_int_eq(d365_batch_parse(NULL, batch_resp,
	    strlen(batch_resp), &p, &n), -1);
	ck_assert_int_eq(d365_batch_parse("multipart/mixed; boundary=zz",
	    batch_resp, strlen(batch_resp), &p, &n), -1);
	/* A part that is not an HTTP response is dropped, not crashed on. */
	s = "--b\r\nContent-Type: application/http\r\n\r\nHTTX/1.1 200\r\n"
	    "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 2\r\n"
	    "--b--\r\n";
	ck_assert_int_eq(d365_batch_parse("multipart/mixed; boundary=b", s,
	    strlen(s), &p, &n), 0);
	ck_assert_uint_eq(n, 0);
	d365_parts_free(p, n);
}
END_TEST

Suite *
make_adapter_suite(void)
{
	Suite	*s = suite_create("adapter");
	TCase	*tc;

	tc = tcase_create("retry");
	tcase_add_test(tc, test_retry_backoff_grows_and_caps);
	tcase_add_test(tc, test_retry_after_forms);
	tcase_add_test(tc, test_retry_after_bad);
	tcase_add_test(tc, test_retry_map);
	suite_add_tcase(s, tc);

	tc = tcase_create("event");
	tcase_add_test(tc, test_event_parse_valid);
	tcase_add_test(tc, test_event_bad_entries);
	tcase_add_test(tc, test_link_choose);
	tcase_add_test(tc, test_employment_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("map");
	tcase_add_test(tc, test_map_apply_contact);
	tcase_add_test(tc, test_map_bad_specs);
	suite_add_tcase(s, tc);

	tc = tcase_create("salesforce");
	tcase_add_test(tc, test_sf_parse_results);
	tcase_add_test(tc, test_sf_parse_error);
	tcase_add_test(tc, test_sf_classify);
	tcase_add_test(tc, test_sf_collection_body);
	tcase_add_test(tc, test_sf_jwt_assertion);
	tcase_add_test(tc, test_sf_bad_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("dataverse");
	tcase_add_test(tc, test_d365_parse_error);
	tcase_add_test(tc, test_d365_classify_and_guid);
	tcase_add_test(tc, test_d365_batch_body);
	tcase_add_test(tc, test_d365_batch_parse);
	tcase_add_test(tc, test_d365_batch_parse_lf_and_bad);
	suite_add_tcase(s, tc);
	return s;
}
