/*
 * Fuzz target: JSON merge patch (RFC 7396) as PATCH applies it.
 *
 * The input is two JSON documents separated by the first NUL byte: the
 * stored state and the patch (no NUL: an empty target).  A target that
 * validates as a party is turned into its writable representation first,
 * as the API does; the merged result is validated again and compared
 * with the original.  Invariants: no crash or leak; merging a document
 * into itself (an idempotent patch) keeps it equal.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "party.h"
#include "problem.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 0);
	return 0;
}

/* A deep copy of o (NULL stays NULL): merging works in place. */
static json_object *
jdup(json_object *o)
{
	json_object	*c = NULL;

	if (o != NULL && json_object_deep_copy(o, &c, NULL) != 0)
		abort();
	return c;
}

/* Patch the party prev (or the raw target) with patch and validate. */
static void
apply(json_object *target, json_object *patch, enum party_type t)
{
	struct party	 prev, next;
	struct problem	 pb;
	json_object	*base, *merged;
	bool		 valid;

	problem_init(&pb);
	valid = party_from_json(target, t, &prev, &pb) == 0;
	problem_clear(&pb);
	problem_init(&pb);
	base = valid ? party_input_json(&prev) : jdup(target);
	merged = jsonx_merge_patch(base, patch);
	if (party_from_json(merged, t, &next, &pb) == 0 && valid) {
		party_resolve_addresses(&next, &prev);
		party_derive(&next);
		(void)party_same(&prev, &next);
		json_object_put(party_to_json(&next));
	}
	json_object_put(merged);
	party_clear(&prev);
	party_clear(&next);
	problem_clear(&pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, '\0', size);
	json_object	*target = NULL, *patch, *copy, *again;
	char		 err[256];
	size_t		 tlen = nul != NULL ? (size_t)(nul - data) : 0;
	size_t		 poff = nul != NULL ? tlen + 1 : 0;

	if (nul != NULL)
		target = jsonx_parse((const char *)data, tlen, err,
		    sizeof(err));
	patch = jsonx_parse((const char *)data + poff, size - poff, err,
	    sizeof(err));
	apply(target, patch, PARTY_PERSON);
	apply(target, patch, PARTY_ORG);
	/* A patch merged into its own result changes nothing more. */
	if (json_object_is_type(patch, json_type_object)) {
		copy = jsonx_merge_patch(jdup(target), patch);
		again = jsonx_merge_patch(jdup(copy), patch);
		if (!jsonx_equal(copy, again))
			abort();
		json_object_put(again);
		json_object_put(copy);
	}
	json_object_put(target);
	json_object_put(patch);
	return 0;
}
