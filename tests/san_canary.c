/*
 * Rolodex sanitizer self-test: a program with deliberate bugs.
 *
 * Built only in a --enable-sanitizers build.  tests/san-selftest.sh runs
 * it through tests/san-wrap.sh the way a web server runs rolodex-api (its
 * exit status ignored, as another user) and checks that each report
 * fails the test: proof that a sanitizer finding anywhere in an
 * integration test cannot pass unnoticed.
 *
 *   san_canary none|heap|uaf|leak|ubsan
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char *argv[])
{
	volatile int	 big = INT_MAX;
	char *volatile	 p;	/* volatile: kept by the optimiser */
	const char	*mode = argc > 1 ? argv[1] : "none";

	if (strcmp(mode, "heap") == 0) {
		p = malloc(8);
		p[8] = 'x';			/* one past the end */
		free(p);
	} else if (strcmp(mode, "uaf") == 0) {
		p = malloc(8);
		free(p);
		p[0] = 'x';			/* use after free */
	} else if (strcmp(mode, "leak") == 0) {
		p = malloc(64);
		memset(p, 1, 64);
		p = NULL;			/* lost */
	} else if (strcmp(mode, "ubsan") == 0)
		printf("%d\n", big + argc);	/* signed overflow */
	return 0;
}
