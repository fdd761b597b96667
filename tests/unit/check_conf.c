#include "config.h"
#include "tests.h"
Suite *
make_conf_suite(void)
{
	return suite_create("conf");
}
