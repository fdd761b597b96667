/*
 * Rolodex - parties to and from JSON (see party.h).
 *
 * One declarative table per resource says, for every field, its JSON
 * name, how it is validated, its bounds and which party types carry it.
 * A body is checked and parsed in one pass over that table: unknown and
 * read-only members are refused first (400), then each value (422 with
 * a JSON Pointer per bad field), so handlers only ever see a struct
 * party that satisfies the contract.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "party.h"
#include "valid.h"
#include "xalloc.h"

enum vkind { V_TEXT, V_EMAIL, V_E164, V_DATE_PAST, V_URL, V_COUNTRY,
	V_ADDRTYPE };

#define T_PERSON	(1u << PARTY_PERSON)
#define T_ORG		(1u << PARTY_ORG)
#define T_BOTH		(T_PERSON | T_ORG)

struct fdef {
	const char	*name;
	enum vkind	 kind;
	size_t		 max;		/* code points */
	unsigned	 types;		/* party types carrying it */
	unsigned	 required;	/* party types requiring it */
};

static const struct fdef pfields[PF__MAX] = {
	[PF_TITLE] = { "title", V_TEXT, 50, T_PERSON, 0 },
	[PF_FIRST_NAME] = { "first_name", V_TEXT, 100, T_PERSON, T_PERSON },
	[PF_MIDDLE_NAMES] = { "middle_names", V_TEXT, 100, T_PERSON, 0 },
	[PF_LAST_NAME] = { "last_name", V_TEXT, 100, T_PERSON, T_PERSON },
	[PF_PREFERRED_NAME] = { "preferred_name", V_TEXT, 100, T_PERSON, 0 },
	[PF_ORG_NAME] = { "organisation_name", V_TEXT, 200, T_ORG, T_ORG },
	[PF_ORG_TYPE] = { "organisation_type", V_TEXT, 100, T_ORG, 0 },
	[PF_TRADING_NAME] = { "trading_name", V_TEXT, 200, T_ORG, 0 },
	[PF_EMAIL] = { "email", V_EMAIL, 254, T_BOTH, 0 },
	[PF_PHONE_PRIMARY] = { "phone_primary", V_E164, 16, T_BOTH, 0 },
	[PF_PHONE_SECONDARY] = { "phone_secondary", V_E164, 16, T_BOTH, 0 },
	[PF_DATE_OF_BIRTH] = { "date_of_birth", V_DATE_PAST, 10, T_PERSON, 0 },
	[PF_REG_NUMBER] = { "registration_number", V_TEXT, 100, T_ORG, 0 },
	[PF_WEBSITE] = { "website", V_URL, 2048, T_ORG, 0 },
};

static const struct fdef afields[AF__MAX] = {
	[AF_TYPE] = { "address_type", V_ADDRTYPE, 10, T_BOTH, 0 },
	[AF_LINE1] = { "address_line_1", V_TEXT, 200, T_BOTH, T_BOTH },
	[AF_LINE2] = { "address_line_2", V_TEXT, 200, T_BOTH, 0 },
	[AF_LINE3] = { "address_line_3", V_TEXT, 200, T_BOTH, 0 },
	[AF_CITY] = { "city", V_TEXT, 100, T_BOTH, 0 },
	[AF_REGION] = { "region", V_TEXT, 100, T_BOTH, 0 },
	[AF_POSTAL] = { "postal_code", V_TEXT, 20, T_BOTH, 0 },
	[AF_COUNTRY] = { "country", V_COUNTRY, 2, T_BOTH, T_BOTH },
};

/* Server-managed members of a party: never accepted as input. */
static const char *const party_readonly[] = {
	"party_id", "party_type", "display_name", "created_at",
	"updated_at", "version", "external_identifiers", NULL
};

static const char *const address_types[] = {
	"home", "work", "billing", "postal", "registered", "other", NULL
};

const char *
pfield_name(enum pfield f)
{
	if (f >= PF__MAX)
		abort();
	return pfields[f].name;
}

const char *
afield_name(enum afield f)
{
	if (f >= AF__MAX)
		abort();
	return afields[f].name;
}

bool
pfield_applies(enum pfield f, enum party_type t)
{
	return (pfields[f].types & (1u << t)) != 0;
}

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Check one string value of kind k; NULL if fine, else why not. */
static const char *
check_value(const struct fdef *d, const char *s, size_t len)
{
	if (!valid_utf8(s, len))
		return "must be valid UTF-8 text without control characters";
	switch (d->kind) {
	case V_TEXT:
		if (!valid_text(s, 1, d->max))
			return "must be 1 to the maximum number of characters, "
			    "not blank";
		return NULL;
	case V_EMAIL:
		return valid_email(s) ? NULL : "must be an e-mail address";
	case V_E164:
		return valid_e164(s) ? NULL :
		    "must be an E.164 number such as +442071234567";
	case V_DATE_PAST:
		if (!valid_date(s))
			return "must be a date YYYY-MM-DD";
		return valid_date_not_future(s, time(NULL)) ? NULL :
		    "must not be in the future";
	case V_URL:
		return valid_url(s) ? NULL : "must be an http or https URL";
	case V_COUNTRY:
		return valid_country(s) ? NULL :
		    "must be an ISO 3166-1 alpha-2 code such as GB";
	case V_ADDRTYPE:
		return in_list(address_types, s) ? NULL :
		    "must be one of home, work, billing, postal, registered, "
		    "other";
	default:
		abort();
	}
}

/*
 * Parse member v of field d at pointer ptr into *dst.  A JSON null or an
 * absent member leaves *dst NULL.
 */
static void
parse_field(const struct fdef *d, json_object *v, const char *ptr,
    char **dst, struct problem *pb)
{
	const char	*s, *why;
	size_t		 len;

	if (v == NULL)
		return;
	if (!json_object_is_type(v, json_type_string)) {
		problem_field(pb, ptr, "must be a string or null");
		return;
	}
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len || len > d->max * 4) {
		problem_field(pb, ptr, "must be at most %zu characters",
		    d->max);
		return;
	}
	if ((why = check_value(d, s, len)) != NULL) {
		if (d->kind == V_TEXT)
			problem_field(pb, ptr, "must be 1 to %zu characters "
			    "of text, not blank", d->max);
		else
			problem_field(pb, ptr, "%s", why);
		return;
	}
	*dst = xstrdup(s);
}

/* Refuse members not in the table (or read-only ones): 400. */
static void
check_members(json_object *o, const char *ptr, const struct fdef *defs,
    size_t ndefs, const char *const *extra, const char *const *readonly,
    struct problem *pb)
{
	char	 tok[128], p[256];
	size_t	 i;
	bool	 known;

	json_object_object_foreach(o, k, v) {
		(void)v;
		known = in_list(extra, k);
		for (i = 0; !known && i < ndefs; i++)
			known = strcmp(defs[i].name, k) == 0;
		if (known)
			continue;
		jsonx_pointer_token(tok, sizeof(tok), k);
		snprintf(p, sizeof(p), "%s/%s", ptr, tok);
		if (pb->err == RLX_OK || pb->err == RLX_EINVAL)
			pb->err = RLX_BADREQ;
		snprintf(pb->detail, sizeof(pb->detail), "%s",
		    "The request body has members this resource does not "
		    "accept.");
		problem_field(pb, p, readonly != NULL &&
		    in_list(readonly, k) ? "is read-only" : "is not a known "
		    "field");
	}
}

int
address_from_json(json_object *o, const char *ptr, struct address *a,
    struct problem *pb)
{
	static const char *const extra[] = { "address_id", "is_primary",
	    NULL };
	json_object	*v;
	char		 p[256];
	size_t		 i;
	enum rlx_err	 before = pb->err;

	memset(a, 0, sizeof(*a));
	if (!json_object_is_type(o, json_type_object)) {
		problem_field(pb, ptr[0] == '\0' ? "" : ptr,
		    "must be an object");
		return -1;
	}
	check_members(o, ptr, afields, AF__MAX, extra, NULL, pb);
	for (i = 0; i < AF__MAX; i++) {
		v = json_object_object_get(o, afields[i].name);
		snprintf(p, sizeof(p), "%s/%s", ptr, afields[i].name);
		parse_field(&afields[i], v, p, &a->f[i], pb);
		if (afields[i].required && a->f[i] == NULL && v == NULL)
			problem_field(pb, p, "is required");
	}
	if (a->f[AF_TYPE] == NULL &&
	    json_object_object_get(o, "address_type") == NULL)
		a->f[AF_TYPE] = xstrdup("other");
	if ((v = json_object_object_get(o, "address_id")) != NULL) {
		snprintf(p, sizeof(p), "%s/address_id", ptr);
		if (!json_object_is_type(v, json_type_string) ||
		    uuid_parse(json_object_get_string(v), &a->id) == -1)
			problem_field(pb, p, "must be a UUID");
		else
			a->has_id = true;
	}
	if ((v = json_object_object_get(o, "is_primary")) != NULL) {
		snprintf(p, sizeof(p), "%s/is_primary", ptr);
		if (!json_object_is_type(v, json_type_boolean))
			problem_field(pb, p, "must be true or false");
		else
			a->is_primary = json_object_get_boolean(v);
	}
	return pb->err == before ? 0 : -1;
}

static bool
address_id_taken(const struct party *p, const struct uuid *id)
{
	size_t	 i;

	for (i = 0; i < p->naddr; i++)
		if (p->addr[i].has_id && memcmp(&p->addr[i].id, id, 16) == 0)
			return true;
	return false;
}

static void
parse_addresses(json_object *arr, struct party *p, struct problem *pb)
{
	struct address	 a;
	char		 ptr[64];
	size_t		 i, n, primaries = 0;

	if (json_object_is_type(arr, json_type_null))
		return;
	if (!json_object_is_type(arr, json_type_array)) {
		problem_field(pb, "/addresses", "must be an array");
		return;
	}
	if ((n = json_object_array_length(arr)) > PARTY_MAX_ADDRESSES) {
		problem_field(pb, "/addresses", "must have at most %d items",
		    PARTY_MAX_ADDRESSES);
		return;
	}
	for (i = 0; i < n; i++) {
		snprintf(ptr, sizeof(ptr), "/addresses/%zu", i);
		if (address_from_json(json_object_array_get_idx(arr, i), ptr,
		    &a, pb) == 0) {
			if (a.has_id && address_id_taken(p, &a.id)) {
				snprintf(ptr, sizeof(ptr),
				    "/addresses/%zu/address_id", i);
				problem_field(pb, ptr, "appears twice");
			}
			primaries += a.is_primary;
			party_add_address(p, &a);
		}
		address_clear(&a);
	}
	if (primaries > 1)
		problem_field(pb, "/addresses", "at most one address may be "
		    "primary");
}

int
party_from_json(json_object *o, enum party_type t, struct party *p,
    struct problem *pb)
{
	static const char *const extra[] = { "addresses", NULL };
	json_object	*v, *arr;
	char		 ptr[64];
	size_t		 i;
	unsigned	 bit = 1u << t;

	party_init(p, t);
	if (!json_object_is_type(o, json_type_object)) {
		problem_field(pb, "", "must be a JSON object");
		return -1;
	}
	check_members(o, "", pfields, PF__MAX, extra, party_readonly, pb);
	for (i = 0; i < PF__MAX; i++) {
		snprintf(ptr, sizeof(ptr), "/%s", pfields[i].name);
		v = NULL;
		if (!json_object_object_get_ex(o, pfields[i].name, &v))
			continue;
		if (!(pfields[i].types & bit)) {
			/* A field of the other party type. */
			if (pb->err == RLX_OK || pb->err == RLX_EINVAL)
				pb->err = RLX_BADREQ;
			problem_field(pb, ptr, "is not a field of a %s",
			    party_type_name(t));
			continue;
		}
		parse_field(&pfields[i], v, ptr, &p->v[i], pb);
	}
	for (i = 0; i < PF__MAX; i++) {
		/* Absent or null; an invalid value was reported above. */
		if (!(pfields[i].required & bit) || p->v[i] != NULL ||
		    (json_object_object_get_ex(o, pfields[i].name, &v) &&
		    v != NULL))
			continue;
		snprintf(ptr, sizeof(ptr), "/%s", pfields[i].name);
		problem_field(pb, ptr, "is required");
	}
	if (json_object_object_get_ex(o, "addresses", &arr)) {
		p->addresses_given = true;
		parse_addresses(arr, p, pb);
	}
	party_derive(p);
	if (pb->err != RLX_OK) {
		party_clear(p);
		return -1;
	}
	return 0;
}

json_object *
address_to_json(const struct address *a)
{
	json_object	*o = json_object_new_object();
	char		 id[UUID_STRLEN + 1];
	size_t		 i;

	uuid_fmt(&a->id, id);
	jsonx_add_str(o, "address_id", id);
	for (i = 0; i < AF__MAX; i++)
		jsonx_add_str(o, afields[i].name, a->f[i]);
	jsonx_add_bool(o, "is_primary", a->is_primary);
	return o;
}

json_object *
extid_to_json(const struct extid *e)
{
	json_object	*o = json_object_new_object();

	jsonx_add_str(o, "system_name", e->system);
	jsonx_add_str(o, "identifier", e->identifier);
	jsonx_add_str(o, "last_synced", e->last_synced);
	return o;
}

/* Add the type's fields and addresses of p to o. */
static void
party_add_fields(json_object *o, const struct party *p)
{
	json_object	*arr;
	size_t		 i;

	for (i = 0; i < PF__MAX; i++)
		if (pfields[i].types & (1u << p->type))
			jsonx_add_str(o, pfields[i].name, p->v[i]);
	arr = json_object_new_array();
	for (i = 0; i < p->naddr; i++)
		json_object_array_add(arr, address_to_json(&p->addr[i]));
	json_object_object_add(o, "addresses", arr);
}

json_object *
party_to_json(const struct party *p)
{
	json_object	*o = json_object_new_object(), *arr;
	char		 id[UUID_STRLEN + 1];
	size_t		 i;

	uuid_fmt(&p->id, id);
	jsonx_add_str(o, "party_id", id);
	jsonx_add_str(o, "party_type", party_type_name(p->type));
	jsonx_add_str(o, "display_name", p->display_name);
	party_add_fields(o, p);
	arr = json_object_new_array();
	for (i = 0; i < p->next; i++)
		json_object_array_add(arr, extid_to_json(&p->ext[i]));
	json_object_object_add(o, "external_identifiers", arr);
	jsonx_add_int(o, "version", p->version);
	jsonx_add_str(o, "created_at", p->created_at);
	jsonx_add_str(o, "updated_at", p->updated_at);
	return o;
}

json_object *
party_input_json(const struct party *p)
{
	json_object	*o = json_object_new_object();

	party_add_fields(o, p);
	return o;
}
