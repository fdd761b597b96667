/*
 * Rolodex adapters - events as they arrive on the stream (see event.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "jsonx.h"
#include "util.h"
#include "xalloc.h"

/* The nine event types and what each means for an adapter. */
static const struct {
	const char	*type;
	enum agg_type	 agg;
	enum ev_action	 action;
} ev_types[] = {
	{ "PersonCreated", AGG_PERSON, EVA_UPSERT },
	{ "PersonUpdated", AGG_PERSON, EVA_UPSERT },
	{ "PersonDeleted", AGG_PERSON, EVA_DELETE },
	{ "OrganisationCreated", AGG_ORG, EVA_UPSERT },
	{ "OrganisationUpdated", AGG_ORG, EVA_UPSERT },
	{ "OrganisationDeleted", AGG_ORG, EVA_DELETE },
	{ "RelationshipCreated", AGG_REL, EVA_UPSERT },
	{ "RelationshipUpdated", AGG_REL, EVA_UPSERT },
	{ "RelationshipDeleted", AGG_REL, EVA_DELETE },
};

static const char *const agg_names[] = {
	[AGG_PERSON] = "person",
	[AGG_ORG] = "organisation",
	[AGG_REL] = "relationship",
};

const char *
agg_name(enum agg_type a)
{
	return agg_names[a];
}

void
event_clear(struct event *ev)
{
	size_t	 i;

	if (ev->data != NULL)
		json_object_put(ev->data);
	for (i = 0; i < ev->nkv; i++)
		free(ev->kv[i]);
	free(ev->kv);
	memset(ev, 0, sizeof(*ev));
}

/* Value of field name in kv, or NULL. */
static const char *
kv_get(char *const *kv, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i + 1 < n; i += 2)
		if (strcmp(kv[i], name) == 0)
			return kv[i + 1];
	return NULL;
}

/* Canonical lower-case form of UUID text s into dst; -1 if malformed. */
static int
uuid_canon(const char *s, char *dst)
{
	struct uuid	 u;

	if (s == NULL || strlen(s) != UUID_STRLEN || uuid_parse(s, &u) == -1)
		return -1;
	uuid_fmt(&u, dst);
	return 0;
}

/* A JSON string member of o that is a UUID, canonical, into dst. */
static int
data_uuid(json_object *o, const char *k, char *dst)
{
	json_object	*v;

	if (!json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return -1;
	return uuid_canon(json_object_get_string(v), dst);
}

/* A YYYY-MM-DD member of o (null or absent: ""); -1 if malformed. */
static int
data_date(json_object *o, const char *k, char *dst)
{
	json_object	*v;
	const char	*s;
	int		 i;

	dst[0] = '\0';
	if (!json_object_object_get_ex(o, k, &v) || v == NULL)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	if (strlen(s) != DATE_LEN)
		return -1;
	for (i = 0; i < DATE_LEN; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' :
		    (s[i] < '0' || s[i] > '9'))
			return -1;
	memcpy(dst, s, DATE_LEN + 1);
	return 0;
}

/* The relationship members of data; -1 with err on a bad one. */
static int
event_rel(struct event *ev, char *err, size_t errsz)
{
	json_object	*v;

	if (json_object_object_get_ex(ev->data, "relationship_type", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    str_copy(ev->rel_type, sizeof(ev->rel_type),
	    json_object_get_string(v)) == -1) {
		snprintf(err, errsz, "relationship_type too long");
		return -1;
	}
	if (ev->action == EVA_DELETE) {
		/* from_party_id is optional on deletes. */
		if (json_object_object_get_ex(ev->data, "from_party_id", &v) &&
		    data_uuid(ev->data, "from_party_id", ev->from) == -1) {
			snprintf(err, errsz, "bad from_party_id");
			return -1;
		}
		return 0;
	}
	if (ev->rel_type[0] == '\0' ||
	    data_uuid(ev->data, "from_party_id", ev->from) == -1 ||
	    data_uuid(ev->data, "to_party_id", ev->to) == -1) {
		snprintf(err, errsz, "relationship without type, "
		    "from_party_id or to_party_id");
		return -1;
	}
	if (data_date(ev->data, "start_date", ev->start) == -1 ||
	    data_date(ev->data, "end_date", ev->end) == -1) {
		snprintf(err, errsz, "bad start_date or end_date");
		return -1;
	}
	return 0;
}

/* The id member of data must name the subject. */
static int
event_data_id(struct event *ev, char *err, size_t errsz)
{
	char		 id[UUID_STRLEN + 1];
	const char	*k;
	json_object	*v;

	k = ev->agg == AGG_REL ? "relationship_id" : "party_id";
	if (data_uuid(ev->data, k, id) == -1 || strcmp(id, ev->subject) != 0) {
		snprintf(err, errsz, "data.%s does not match subject", k);
		return -1;
	}
	if (ev->agg != AGG_REL && (!json_object_object_get_ex(ev->data,
	    "party_type", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), agg_name(ev->agg)) != 0)) {
		snprintf(err, errsz, "data.party_type does not match type");
		return -1;
	}
	if (ev->agg == AGG_PERSON &&
	    json_object_object_get_ex(ev->data, "erased", &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v))
		ev->action = EVA_DELETE;
	return 0;
}

/* Copy the entry's strings into ev (kept for the dead-letter stream). */
static void
event_keep(struct event *ev, char *const *kv, size_t n)
{
	size_t	 i;

	ev->kv = xcalloc(n == 0 ? 1 : n, sizeof(*ev->kv));
	for (i = 0; i < n; i++)
		ev->kv[i] = xstrdup(kv[i]);
	ev->nkv = n;
}

int
event_parse(struct event *ev, char *const *kv, size_t n, char *err,
    size_t errsz)
{
	const char	*type, *v;
	size_t		 i;

	memset(ev, 0, sizeof(*ev));
	event_keep(ev, kv, n);
	err[0] = '\0';
	if (n % 2 != 0) {
		snprintf(err, errsz, "odd number of fields");
		return -1;
	}
	if ((type = kv_get(kv, n, "type")) == NULL) {
		snprintf(err, errsz, "no type");
		return -1;
	}
	for (i = 0; i < sizeof(ev_types) / sizeof(ev_types[0]); i++)
		if (strcmp(type, ev_types[i].type) == 0)
			break;
	if (i == sizeof(ev_types) / sizeof(ev_types[0])) {
		snprintf(err, errsz, "unknown event type");
		return -1;
	}
	str_copy(ev->type, sizeof(ev->type), type);
	ev->agg = ev_types[i].agg;
	ev->action = ev_types[i].action;
	if (uuid_canon(kv_get(kv, n, "id"), ev->id) == -1 ||
	    uuid_canon(kv_get(kv, n, "subject"), ev->subject) == -1) {
		snprintf(err, errsz, "id or subject is not a UUID");
		return -1;
	}
	if ((v = kv_get(kv, n, "specversion")) == NULL ||
	    strcmp(v, "1.0") != 0) {
		snprintf(err, errsz, "specversion is not 1.0");
		return -1;
	}
	if ((v = kv_get(kv, n, "aggregate_type")) == NULL ||
	    strcmp(v, agg_name(ev->agg)) != 0) {
		snprintf(err, errsz, "aggregate_type does not match type");
		return -1;
	}
	if (parse_int64(kv_get(kv, n, "aggregate_version"), 1, INT64_MAX,
	    &ev->version) == -1) {
		snprintf(err, errsz, "bad aggregate_version");
		return -1;
	}
	if ((v = kv_get(kv, n, "data")) != NULL)
		ev->data = jsonx_parse(v, strlen(v), err, errsz);
	if (ev->data == NULL ||
	    !json_object_is_type(ev->data, json_type_object)) {
		snprintf(err, errsz, "data is not a JSON object");
		return -1;
	}
	if (event_data_id(ev, err, errsz) == -1)
		return -1;
	if (ev->agg == AGG_REL && event_rel(ev, err, errsz) == -1)
		return -1;
	return 0;
}

/* Whether a ranks above b (later start, then larger id). */
static bool
link_above(const struct employment *a, const struct employment *b)
{
	int	 c = strcmp(a->start, b->start);

	if (c != 0)
		return c > 0;
	return strcmp(a->rid, b->rid) > 0;
}

int
link_choose(const struct employment *e, size_t n, const char *today,
    bool *wait)
{
	size_t	 i;
	int	 best = -1;

	*wait = false;
	for (i = 0; i < n; i++) {
		if (e[i].state == ORG_GONE)
			continue;
		if (e[i].end[0] != '\0' && strcmp(e[i].end, today) < 0)
			continue;
		if (best == -1 || link_above(&e[i], &e[best]))
			best = (int)i;
	}
	if (best != -1 && e[best].state == ORG_UNKNOWN) {
		*wait = true;
		return -1;
	}
	return best;
}

void
employment_fmt(const struct employment *e, char *dst, size_t dsz)
{
	snprintf(dst, dsz, "%s %s %s", e->org,
	    e->start[0] != '\0' ? e->start : "-",
	    e->end[0] != '\0' ? e->end : "-");
}

int
employment_parse(struct employment *e, const char *rid, const char *text)
{
	char	 org[64], start[16], end[16];

	memset(e, 0, sizeof(*e));
	if (sscanf(text, "%63s %15s %15s", org, start, end) != 3 ||
	    strlen(org) != UUID_STRLEN || strlen(rid) != UUID_STRLEN)
		return -1;
	memcpy(e->rid, rid, UUID_STRLEN + 1);
	memcpy(e->org, org, UUID_STRLEN + 1);
	if (strcmp(start, "-") != 0 && str_copy(e->start, sizeof(e->start),
	    start) == -1)
		return -1;
	if (strcmp(end, "-") != 0 && str_copy(e->end, sizeof(e->end),
	    end) == -1)
		return -1;
	return 0;
}
