/*
 * Rolodex - rolodexctl: migrations, accounts, clients, tokens, status.
 *
 * Each sub-command is a function taking the words after its name.
 * Options are "--name value" pairs; secrets are read from files or
 * standard input, never from the command line (which other users can
 * see in the process list).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "xalloc.h"

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr,
	    "usage: rolodexctl [-v] [-f config] command ...\n"
	    "  migrate [--dry-run] [--dir DIR]\n"
	    "  user add NAME --role ROLES [--password-file F]\n"
	    "  user passwd NAME [--password-file F]\n"
	    "  user list | user disable NAME | user enable NAME\n"
	    "  client create NAME --role ROLES\n"
	    "  client list | client revoke CLIENT_ID\n"
	    "  token --sub SUBJECT --role ROLES [--ttl SECONDS]\n"
	    "  outbox status\n"
	    "  resync [--parties-only]\n"
	    "  dlq list|replay|drop ADAPTER [ENTRY-ID...|--all] [--count N]\n"
	    "  adapter status [ADAPTER]   (ADAPTER: salesforce, d365)\n"
	    "  config check | config sample\n"
	    "ROLES is a comma-separated list of reader, writer, admin.\n"
	    "Passwords are read from --password-file or standard input.\n");
	exit(2);
}

struct db *
ctl_db(struct ctl *c, int migrate_user)
{
	if (c->db == NULL)
		c->db = db_new(&c->conf, migrate_user != 0);
	if (db_ensure(c->db) != DB_OK)
		fatalx("cannot connect to the database");
	return c->db;
}

const char *
ctl_opt(int argc, char **argv, const char *name)
{
	int	 i;

	for (i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

int
ctl_has(int argc, char **argv, const char *name)
{
	int	 i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

static int
ctl_migrate(struct ctl *c, int argc, char **argv)
{
	const char	*dir = ctl_opt(argc, argv, "--dir");
	int		 n, dry = ctl_has(argc, argv, "--dry-run");

	n = migrate_run(ctl_db(c, 1), dir != NULL ? dir : c->conf.sql_dir,
	    dry != 0, stdout);
	if (n < 0)
		return 1;
	printf("%d migration%s %s\n", n, n == 1 ? "" : "s",
	    dry ? "pending" : "applied");
	return 0;
}

static int
ctl_config(struct ctl *c, int argc, char **argv)
{
	(void)c;
	if (argc >= 1 && strcmp(argv[0], "check") == 0) {
		printf("configuration OK\n");
		return 0;
	}
	if (argc >= 1 && strcmp(argv[0], "sample") == 0) {
		conf_write_sample(stdout);
		return 0;
	}
	usage();
	return 2;
}

int
main(int argc, char *argv[])
{
	struct ctl	 c;
	const char	*cfile = NULL;
	char		 err[512];
	int		 ch, rc, verbose = 0;

	memset(&c, 0, sizeof(c));
	log_init("rolodexctl", 0);
	while ((ch = getopt(argc, argv, "+f:v")) != -1) {
		switch (ch) {
		case 'f':
			cfile = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (strcmp(argv[0], "config") == 0 && argc > 1 &&
	    strcmp(argv[1], "sample") == 0) {
		conf_write_sample(stdout);
		return 0;
	}
	if (conf_load(&c.conf, cfile, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	log_set_verbose(verbose || c.conf.log_verbose);
	if (strcmp(argv[0], "migrate") == 0)
		rc = ctl_migrate(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "user") == 0)
		rc = ctl_user(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "client") == 0)
		rc = ctl_client(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "token") == 0)
		rc = ctl_token(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "outbox") == 0)
		rc = ctl_outbox(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "resync") == 0)
		rc = ctl_resync(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "dlq") == 0)
		rc = ctl_dlq(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "adapter") == 0)
		rc = ctl_adapter(&c, argc - 1, argv + 1);
	else if (strcmp(argv[0], "config") == 0)
		rc = ctl_config(&c, argc - 1, argv + 1);
	else
		usage();
	db_free(c.db);
	conf_clear(&c.conf);
	return rc;
}
