/*
 * Unit tests: conf.c (file, environment, secret files, the sample).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "tests.h"

static char	 tmpdir[] = "/tmp/rolodex-conf-XXXXXX";

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	 cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return;
	memcpy(tmpdir + strlen(tmpdir) - 6, "XXXXXX", 6);
}

/* Write text to name in the temp dir with mode; returns the path. */
static const char *
put(const char *name, const char *text, mode_t mode)
{
	static char	 path[256];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
	return path;
}

START_TEST(test_conf_file_and_env)
{
	struct conf	 c;
	char		 err[256], conf[512];
	const char	*sec;

	sec = put("db.secret", "s3cret\n", 0600);
	snprintf(conf, sizeof(conf), "# comment\n[database]\nport = 3307\n"
	    "password_file = %s\n[api]\nworkers = \"8\"\n; also a comment\n"
	    "[auth]\nsandbox = yes\n", sec);
	setenv("ROLODEX_API_WORKERS", "3", 1);
	ck_assert_int_eq(conf_load(&c, put("r.conf", conf, 0644), err,
	    sizeof(err)), 0);
	unsetenv("ROLODEX_API_WORKERS");
	ck_assert_int_eq(c.db_port, 3307);
	ck_assert_str_eq(c.db_password, "s3cret");
	ck_assert_int_eq(c.api_workers, 3);	/* environment wins */
	ck_assert(c.auth_sandbox);
	ck_assert_str_eq(c.db_name, "rolodex");	/* default */
	conf_clear(&c);
}
END_TEST

START_TEST(test_conf_bad_input)
{
	static const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "[database]\nprot = 1\n", "r.conf:2: unknown key prot" },
		{ "[nosuch]\n", "r.conf:1: unknown section" },
		{ "port = 1\n", "r.conf:1: syntax error" },
		{ "[database]\nport = 0\n", "port: not an integer" },
		{ "[database]\nport = 3306x\n", "port: not an integer" },
		{ "[auth]\nsandbox = maybe\n", "sandbox: not yes or no" },
		{ "[auth]\nleeway = 61\n", "leeway" },
		{ "[auth]\nhs256_secret = short\n", "at least 32 bytes" },
		{ "[auth]\nsigning_alg = RS256\n", "needs signing_key_file" },
		{ "[database]\nhost_file = /x\n", "unknown key host_file" },
	};
	struct conf	 c;
	char		 err[256];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(conf_load(&c, put("r.conf", bad[i].text,
		    0644), err, sizeof(err)), -1);
		ck_assert_msg(strstr(err, bad[i].want) != NULL,
		    "case %zu: %s", i, err);
		conf_clear(&c);
	}
}
END_TEST

START_TEST(test_conf_bad_secret_file_mode)
{
	struct conf	 c;
	char		 err[256], conf[512];

	snprintf(conf, sizeof(conf), "[database]\npassword_file = %s\n",
	    put("open.secret", "x", 0644));
	ck_assert_int_eq(conf_load(&c, put("r.conf", conf, 0644), err,
	    sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "readable by other users"));
	conf_clear(&c);
	snprintf(conf, sizeof(conf), "[database]\npassword_file = %s/none\n",
	    tmpdir);
	ck_assert_int_eq(conf_load(&c, put("r.conf", conf, 0644), err,
	    sizeof(err)), -1);
	conf_clear(&c);
}
END_TEST

/* The shipped sample is generated from the key table: keep them equal. */
START_TEST(test_conf_sample_matches_table)
{
	const char	*top = getenv("top_srcdir");
	char		 path[512], *want = NULL, *got = NULL;
	size_t		 wlen = 0, glen = 0;
	FILE		*f, *m;
	ssize_t		 n;

	if (top == NULL)
		top = ".";
	snprintf(path, sizeof(path), "%s/rolodex.conf.sample", top);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = getdelim(&want, &wlen, '\0', f);
	fclose(f);
	ck_assert_int_gt(n, 0);
	ck_assert_ptr_nonnull(m = open_memstream(&got, &glen));
	conf_write_sample(m);
	fclose(m);
	ck_assert_msg(strcmp(want, got) == 0, "rolodex.conf.sample is stale: "
	    "regenerate it with rolodexctl config sample");
	free(want);
	free(got);
}
END_TEST

Suite *
make_conf_suite(void)
{
	Suite	*s = suite_create("conf");
	TCase	*tc = tcase_create("valid");
	TCase	*bad = tcase_create("invalid");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(tc, test_conf_file_and_env);
	tcase_add_test(tc, test_conf_sample_matches_table);
	tcase_add_test(bad, test_conf_bad_input);
	tcase_add_test(bad, test_conf_bad_secret_file_mode);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, bad);
	return s;
}
