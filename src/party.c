/*
 * Rolodex - the party model: construction, copying, derived fields
 * (see party.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "party.h"
#include "xalloc.h"

static const char *const party_type_names[PARTY__MAX] = {
	[PARTY_PERSON] = "person",
	[PARTY_ORG] = "organisation",
};

const char *
party_type_name(enum party_type t)
{
	if (t >= PARTY__MAX)
		abort();
	return party_type_names[t];
}

int
party_type_parse(const char *s, enum party_type *t)
{
	size_t	 i;

	for (i = 0; i < PARTY__MAX; i++)
		if (strcmp(s, party_type_names[i]) == 0) {
			*t = (enum party_type)i;
			return 0;
		}
	return -1;
}

void
party_init(struct party *p, enum party_type t)
{
	memset(p, 0, sizeof(*p));
	p->type = t;
}

void
address_clear(struct address *a)
{
	size_t	 i;

	for (i = 0; i < AF__MAX; i++)
		free(a->f[i]);
	memset(a, 0, sizeof(*a));
}

void
address_copy(struct address *dst, const struct address *src)
{
	size_t	 i;

	*dst = *src;
	for (i = 0; i < AF__MAX; i++)
		dst->f[i] = src->f[i] == NULL ? NULL : xstrdup(src->f[i]);
}

static void
extid_clear(struct extid *e)
{
	free(e->system);
	free(e->identifier);
	free(e->last_synced);
	memset(e, 0, sizeof(*e));
}

void
party_clear(struct party *p)
{
	size_t	 i;

	for (i = 0; i < PF__MAX; i++)
		free(p->v[i]);
	free(p->display_name);
	for (i = 0; i < p->naddr; i++)
		address_clear(&p->addr[i]);
	free(p->addr);
	for (i = 0; i < p->next; i++)
		extid_clear(&p->ext[i]);
	free(p->ext);
	memset(p, 0, sizeof(*p));
}

void
party_add_address(struct party *p, const struct address *a)
{
	p->addr = xreallocarray(p->addr, p->naddr + 1, sizeof(*p->addr));
	address_copy(&p->addr[p->naddr++], a);
}

void
party_remove_address(struct party *p, size_t i)
{
	if (i >= p->naddr)
		abort();
	address_clear(&p->addr[i]);
	memmove(&p->addr[i], &p->addr[i + 1],
	    (p->naddr - i - 1) * sizeof(*p->addr));
	p->naddr--;
}

void
party_set_extid(struct party *p, const char *system, const char *ident)
{
	size_t	 i;

	for (i = 0; i < p->next; i++)
		if (strcmp(p->ext[i].system, system) == 0)
			break;
	if (i == p->next) {
		p->ext = xreallocarray(p->ext, p->next + 1, sizeof(*p->ext));
		memset(&p->ext[p->next], 0, sizeof(*p->ext));
		p->ext[p->next++].system = xstrdup(system);
	} else if (strcmp(p->ext[i].identifier, ident) == 0)
		return;
	free(p->ext[i].identifier);
	free(p->ext[i].last_synced);
	p->ext[i].identifier = xstrdup(ident);
	p->ext[i].last_synced = NULL;
}

int
party_remove_extid(struct party *p, const char *system)
{
	size_t	 i;

	for (i = 0; i < p->next; i++)
		if (strcmp(p->ext[i].system, system) == 0)
			break;
	if (i == p->next)
		return -1;
	extid_clear(&p->ext[i]);
	memmove(&p->ext[i], &p->ext[i + 1],
	    (p->next - i - 1) * sizeof(*p->ext));
	p->next--;
	return 0;
}

void
party_derive(struct party *p)
{
	const char	*given;

	free(p->display_name);
	if (p->type == PARTY_ORG) {
		p->display_name = xstrdup(p->v[PF_ORG_NAME] != NULL ?
		    p->v[PF_ORG_NAME] : "");
		return;
	}
	given = p->v[PF_PREFERRED_NAME] != NULL ? p->v[PF_PREFERRED_NAME] :
	    p->v[PF_FIRST_NAME];
	p->display_name = xasprintf("%s %s", given != NULL ? given : "",
	    p->v[PF_LAST_NAME] != NULL ? p->v[PF_LAST_NAME] : "");
}

static bool
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
address_same_content(const struct address *a, const struct address *b)
{
	size_t	 i;

	for (i = 0; i < AF__MAX; i++)
		if (!str_eq(a->f[i], b->f[i]))
			return false;
	return true;
}

void
party_resolve_addresses(struct party *next, const struct party *prev)
{
	bool	 used[PARTY_MAX_ADDRESSES] = { false };
	size_t	 i, j;

	/* Ids given explicitly are taken first. */
	for (i = 0; i < next->naddr; i++)
		for (j = 0; prev != NULL && j < prev->naddr &&
		    j < PARTY_MAX_ADDRESSES; j++)
			if (next->addr[i].has_id && memcmp(&next->addr[i].id,
			    &prev->addr[j].id, sizeof(struct uuid)) == 0)
				used[j] = true;
	for (i = 0; i < next->naddr; i++) {
		if (next->addr[i].has_id)
			continue;
		for (j = 0; prev != NULL && j < prev->naddr &&
		    j < PARTY_MAX_ADDRESSES; j++) {
			if (used[j] || !address_same_content(&next->addr[i],
			    &prev->addr[j]))
				continue;
			used[j] = true;
			next->addr[i].id = prev->addr[j].id;
			next->addr[i].has_id = true;
			break;
		}
		if (!next->addr[i].has_id) {
			uuid_v7(&next->addr[i].id);
			next->addr[i].has_id = true;
			next->addr[i].is_new = true;
		}
	}
}

const struct address *
party_find_address(const struct party *p, const struct uuid *id)
{
	size_t	 i;

	for (i = 0; i < p->naddr; i++)
		if (memcmp(&p->addr[i].id, id, sizeof(*id)) == 0)
			return &p->addr[i];
	return NULL;
}

const char *
party_extid(const struct party *p, const char *system)
{
	size_t	 i;

	for (i = 0; i < p->next; i++)
		if (strcmp(p->ext[i].system, system) == 0)
			return p->ext[i].identifier;
	return NULL;
}

bool
party_same(const struct party *prev, const struct party *next)
{
	const struct address	*a;
	size_t			 i;

	if (prev->type != next->type || prev->naddr != next->naddr ||
	    prev->next != next->next)
		return false;
	for (i = 0; i < PF__MAX; i++)
		if (!str_eq(prev->v[i], next->v[i]))
			return false;
	for (i = 0; i < next->naddr; i++) {
		a = party_find_address(prev, &next->addr[i].id);
		if (a == NULL || !address_same_content(a, &next->addr[i]) ||
		    a->is_primary != next->addr[i].is_primary)
			return false;
	}
	for (i = 0; i < next->next; i++)
		if (!str_eq(party_extid(prev, next->ext[i].system),
		    next->ext[i].identifier))
			return false;
	return true;
}
