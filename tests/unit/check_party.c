#include "config.h"
#include "tests.h"
Suite *
make_party_suite(void)
{
	return suite_create("party");
}
