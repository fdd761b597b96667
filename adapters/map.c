/*
 * Rolodex adapters - field mapping (see map.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "map.h"
#include "xalloc.h"

/* Party fields a mapping may read (the data model of the contract). */
static const char *const party_fields[] = {
	"party_id", "party_type", "display_name", "title", "first_name",
	"middle_names", "last_name", "preferred_name", "date_of_birth",
	"organisation_name", "organisation_type", "trading_name",
	"registration_number", "website", "email", "phone_primary",
	"phone_secondary", "created_at", "updated_at", NULL
};

/* address.<name> -> field of the address object. */
static const struct {
	const char	*name;
	const char	*field;
} addr_fields[] = {
	{ "line1", "address_line_1" },
	{ "line2", "address_line_2" },
	{ "line3", "address_line_3" },
	{ "city", "city" },
	{ "region", "region" },
	{ "postal_code", "postal_code" },
	{ "country", "country" },
	{ "type", "address_type" },
};

static bool
map_target_ok(const char *t)
{
	if (*t == '\0' || strlen(t) > 100)
		return false;
	for (; *t != '\0'; t++)
		if (!isalnum((unsigned char)*t) && *t != '_')
			return false;
	return true;
}

/* Resolve source name s into e; -1 if unknown. */
static int
map_source(struct map_entry *e, const char *s)
{
	size_t	 i;

	if (strncmp(s, "address.", 8) == 0) {
		if (strcmp(s + 8, "street") == 0) {
			e->src = MS_ADDR_STREET;
			return 0;
		}
		for (i = 0; i < sizeof(addr_fields) / sizeof(addr_fields[0]);
		    i++)
			if (strcmp(s + 8, addr_fields[i].name) == 0) {
				e->src = MS_ADDR_FIELD;
				e->field = xstrdup(addr_fields[i].field);
				return 0;
			}
		return -1;
	}
	for (i = 0; party_fields[i] != NULL; i++)
		if (strcmp(s, party_fields[i]) == 0) {
			e->src = MS_FIELD;
			e->field = xstrdup(s);
			return 0;
		}
	return -1;
}

/* Trim blanks around s in place. */
static char *
map_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Parse one "Target=source" pair into m; -1 with err set. */
static int
map_pair(struct map *m, char *pair, char *err, size_t errsz)
{
	struct map_entry	*e;
	char			*eq, *t, *s;
	size_t			 i;

	if ((eq = strchr(pair, '=')) == NULL) {
		snprintf(err, errsz, "\"%s\" is not Target=source", pair);
		return -1;
	}
	*eq = '\0';
	t = map_trim(pair);
	s = map_trim(eq + 1);
	if (!map_target_ok(t)) {
		snprintf(err, errsz, "bad target name \"%s\"", t);
		return -1;
	}
	for (i = 0; i < m->n; i++)
		if (strcmp(m->e[i].target, t) == 0) {
			snprintf(err, errsz, "target %s mapped twice", t);
			return -1;
		}
	m->e = xreallocarray(m->e, m->n + 1, sizeof(*m->e));
	e = &m->e[m->n];
	memset(e, 0, sizeof(*e));
	if (map_source(e, s) == -1) {
		snprintf(err, errsz, "unknown source \"%s\" for %s", s, t);
		return -1;
	}
	e->target = xstrdup(t);
	m->n++;
	return 0;
}

int
map_parse(struct map *m, const char *spec, char *err, size_t errsz)
{
	char	*copy, *p, *pair;
	int	 rc = -1;

	memset(m, 0, sizeof(*m));
	copy = p = xstrdup(spec);
	while ((pair = strsep(&p, ",")) != NULL) {
		if (*map_trim(pair) == '\0')
			continue;
		if (map_pair(m, pair, err, errsz) == -1)
			goto out;
	}
	if (m->n == 0) {
		snprintf(err, errsz, "empty mapping");
		goto out;
	}
	rc = 0;
out:
	free(copy);
	if (rc == -1)
		map_clear(m);
	return rc;
}

void
map_clear(struct map *m)
{
	size_t	 i;

	for (i = 0; i < m->n; i++) {
		free(m->e[i].target);
		free(m->e[i].field);
	}
	free(m->e);
	memset(m, 0, sizeof(*m));
}

json_object *
map_primary_address(json_object *party)
{
	json_object	*arr, *a, *p;
	size_t		 i, n;

	if (!json_object_object_get_ex(party, "addresses", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return NULL;
	n = json_object_array_length(arr);
	for (i = 0; i < n; i++) {
		a = json_object_array_get_idx(arr, i);
		if (json_object_object_get_ex(a, "is_primary", &p) &&
		    json_object_is_type(p, json_type_boolean) &&
		    json_object_get_boolean(p))
			return a;
	}
	return NULL;
}

/* String member k of o, or NULL. */
static const char *
map_str(json_object *o, const char *k)
{
	json_object	*v;

	if (o == NULL || !json_object_object_get_ex(o, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* Address lines 1-3 joined by newlines; NULL when there are none. */
static json_object *
map_street(json_object *addr)
{
	static const char *const lines[] = { "address_line_1",
	    "address_line_2", "address_line_3" };
	char		*buf = NULL, *nb;
	const char	*s;
	json_object	*o;
	size_t		 i;

	for (i = 0; i < 3; i++) {
		if ((s = map_str(addr, lines[i])) == NULL || *s == '\0')
			continue;
		nb = buf == NULL ? xstrdup(s) : xasprintf("%s\n%s", buf, s);
		free(buf);
		buf = nb;
	}
	if (buf == NULL)
		return NULL;
	o = json_object_new_string(buf);
	free(buf);
	return o;
}

json_object *
map_apply(const struct map *m, json_object *party)
{
	json_object	*out = json_object_new_object(), *addr, *v;
	const char	*s;
	size_t		 i;

	addr = map_primary_address(party);
	for (i = 0; i < m->n; i++) {
		v = NULL;
		switch (m->e[i].src) {
		case MS_FIELD:
			if ((s = map_str(party, m->e[i].field)) != NULL)
				v = json_object_new_string(s);
			break;
		case MS_ADDR_STREET:
			v = map_street(addr);
			break;
		case MS_ADDR_FIELD:
			if ((s = map_str(addr, m->e[i].field)) != NULL)
				v = json_object_new_string(s);
			break;
		default:
			abort();
		}
		json_object_object_add(out, m->e[i].target, v);
	}
	return out;
}
