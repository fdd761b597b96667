/*
 * Rolodex unit tests: one suite per module, all run by check_main.c.
 */
#ifndef ROLODEX_TESTS_H
#define ROLODEX_TESTS_H

#include <check.h>

Suite	*make_util_suite(void);
Suite	*make_conf_suite(void);
Suite	*make_valid_suite(void);
Suite	*make_jsonx_suite(void);
Suite	*make_party_suite(void);
Suite	*make_cursor_suite(void);
Suite	*make_query_suite(void);
Suite	*make_route_suite(void);
Suite	*make_auth_jwt_suite(void);
Suite	*make_auth_pw_suite(void);
Suite	*make_adapter_suite(void);

#endif
