/*
 * Rolodex unit tests: runs every module's suite (check's own layout).
 */
#include "config.h"

#include <stdlib.h>

#include "log.h"
#include "tests.h"

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init("check", 0);
	sr = srunner_create(make_util_suite());
	srunner_add_suite(sr, make_conf_suite());
	srunner_add_suite(sr, make_valid_suite());
	srunner_add_suite(sr, make_jsonx_suite());
	srunner_add_suite(sr, make_party_suite());
	srunner_add_suite(sr, make_cursor_suite());
	srunner_add_suite(sr, make_query_suite());
	srunner_add_suite(sr, make_route_suite());
	srunner_add_suite(sr, make_auth_jwt_suite());
	srunner_add_suite(sr, make_auth_pw_suite());
	srunner_add_suite(sr, make_adapter_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
