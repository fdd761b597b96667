/*
 * Fuzz target: request bodies of persons, organisations and addresses.
 *
 * The input is a request body.  It goes through the strict JSON parser
 * and, whatever the outcome, through the validating converters for both
 * party types and for an address, then the accepted ones through the
 * serialisers GET uses.  Invariant checked: no crash, no leak, no
 * undefined behaviour, and every accepted party serialises.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

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

/* Validate o as a party of type t and serialise what was accepted. */
static void
one_party(json_object *o, enum party_type t)
{
	struct party	 p;
	struct problem	 pb;
	json_object	*out;

	problem_init(&pb);
	if (party_from_json(o, t, &p, &pb) == 0) {
		party_resolve_addresses(&p, NULL);
		party_derive(&p);
		if (!party_same(&p, &p))
			abort();
		out = party_to_json(&p);
		if (jsonx_str(out) == NULL)
			abort();
		json_object_put(out);
		json_object_put(party_input_json(&p));
	} else if (pb.err == RLX_OK)
		abort();	/* refused without a reason */
	json_object_put(problem_json(&pb));
	party_clear(&p);
	problem_clear(&pb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct address	 a;
	struct problem	 pb;
	json_object	*o;
	char		 err[256];

	o = jsonx_parse((const char *)data, size, err, sizeof(err));
	one_party(o, PARTY_PERSON);
	one_party(o, PARTY_ORG);
	problem_init(&pb);
	if (address_from_json(o, "/addresses/0", &a, &pb) == 0)
		json_object_put(address_to_json(&a));
	address_clear(&a);
	problem_clear(&pb);
	json_object_put(o);
	return 0;
}
