/*
 * Rolodex - rolodexctl user and client commands.
 *
 * Passwords come from --password-file or one line of standard input;
 * client secrets are generated here, printed once, and only their slow
 * hash is stored.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_jwt.h"
#include "auth_pw.h"
#include "ctl.h"
#include "db.h"
#include "log.h"
#include "util.h"
#include "uuid.h"
#include "valid.h"
#include "xalloc.h"

/* The password from --password-file or stdin; a new string. */
static char *
read_password(int argc, char **argv)
{
	const char	*file = ctl_opt(argc, argv, "--password-file");
	char		 line[1100];
	char		*p;
	size_t		 n;

	if (file != NULL) {
		if ((p = file_read(file, 1024, NULL)) == NULL)
			fatal("%s", file);
		return p;
	}
	if (fgets(line, sizeof(line), stdin) == NULL)
		fatalx("no password on standard input");
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	p = xstrdup(line);
	explicit_bzero(line, sizeof(line));
	return p;
}

static char *
hash_password(int argc, char **argv)
{
	char	*pw = read_password(argc, argv), *h;

	if (strlen(pw) < 8 || strlen(pw) > 1024)
		fatalx("a password must be 8 to 1024 bytes");
	if ((h = auth_pw_hash(pw)) == NULL)
		fatalx("cannot hash the password");
	explicit_bzero(pw, strlen(pw));
	free(pw);
	return h;
}

static const char *
need_roles(int argc, char **argv)
{
	const char	*roles = ctl_opt(argc, argv, "--role");
	unsigned	 bits;

	if (roles == NULL || auth_roles_parse(roles, &bits) == -1)
		fatalx("--role must be reader, writer and/or admin");
	return roles;
}

static int
exec_or_fail(struct ctl *c, enum stmt s, struct db_arg *a, size_t n,
    const char *what)
{
	uint64_t	 affected = 0;
	enum db_rc	 rc = db_exec(ctl_db(c, 0), s, a, n, NULL, &affected);

	if (rc == DB_DUP)
		fatalx("%s already exists", what);
	if (rc != DB_OK)
		return 1;
	if (affected == 0) {
		fprintf(stderr, "rolodexctl: no such %s\n", what);
		return 1;
	}
	return 0;
}

static int
user_add(struct ctl *c, const char *name, int argc, char **argv)
{
	const char	*roles = need_roles(argc, argv);
	char		*hash;
	struct uuid	 id;
	int		 rc;

	if (!valid_text(name, 1, 128))
		fatalx("a user name is 1 to 128 characters");
	hash = hash_password(argc, argv);
	uuid_v7(&id);
	struct db_arg a[] = { DB_BIN(id.b, 16), db_str(name), db_str(hash),
	    db_str(roles) };
	rc = exec_or_fail(c, STMT_USER_INSERT, a, 4, "user");
	free(hash);
	if (rc == 0)
		printf("user %s created with roles %s\n", name, roles);
	return rc;
}

static int
user_list(struct ctl *c)
{
	struct db_rows	 r;
	size_t		 i;

	if (db_exec(ctl_db(c, 0), STMT_USER_LIST, NULL, 0, &r, NULL) != DB_OK)
		return 1;
	printf("%-32s %-24s %-9s %s\n", "USER", "ROLES", "STATE", "CREATED");
	for (i = 0; i < r.nrows; i++)
		printf("%-32s %-24s %-9s %s\n", db_cell(&r, i, 0),
		    db_cell(&r, i, 1), strcmp(db_cell(&r, i, 2), "0") == 0 ?
		    "active" : "disabled", db_cell(&r, i, 3));
	db_rows_clear(&r);
	return 0;
}

int
ctl_user(struct ctl *c, int argc, char **argv)
{
	struct db_arg	 a[2];
	char		*hash;
	int		 rc;

	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return user_list(c);
	if (argc < 2) {
		fprintf(stderr, "usage: rolodexctl user add|passwd|disable|"
		    "enable NAME ...\n");
		return 2;
	}
	if (strcmp(argv[0], "add") == 0)
		return user_add(c, argv[1], argc - 2, argv + 2);
	if (strcmp(argv[0], "passwd") == 0) {
		hash = hash_password(argc - 2, argv + 2);
		a[0] = db_str(hash);
		a[1] = db_str(argv[1]);
		rc = exec_or_fail(c, STMT_USER_SET_PASSWORD, a, 2, "user");
		free(hash);
		return rc;
	}
	if (strcmp(argv[0], "disable") == 0 || strcmp(argv[0], "enable") == 0) {
		a[0] = DB_INT(strcmp(argv[0], "disable") == 0);
		a[1] = db_str(argv[1]);
		return exec_or_fail(c, STMT_USER_SET_DISABLED, a, 2, "user");
	}
	fprintf(stderr, "rolodexctl: unknown user command %s\n", argv[0]);
	return 2;
}

static int
client_create(struct ctl *c, const char *name, int argc, char **argv)
{
	const char	*roles = need_roles(argc, argv);
	char		*rnd, *id, *secret, *hash;
	int		 rc;

	if (!valid_text(name, 1, 128))
		fatalx("a client name is 1 to 128 characters");
	rnd = auth_random_token(12);
	secret = auth_random_token(32);
	if (rnd == NULL || secret == NULL ||
	    (hash = auth_pw_hash(secret)) == NULL)
		fatalx("cannot generate client credentials");
	id = xasprintf("rlx_%s", rnd);
	struct db_arg a[] = { db_str(id), db_str(name), db_str(hash),
	    db_str(roles) };
	rc = exec_or_fail(c, STMT_CLIENT_INSERT, a, 4, "client");
	if (rc == 0)
		printf("client_id: %s\nclient_secret: %s\n"
		    "(the secret is shown only now)\n", id, secret);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	free(hash);
	free(rnd);
	free(id);
	return rc;
}

static int
client_list(struct ctl *c)
{
	struct db_rows	 r;
	size_t		 i;

	if (db_exec(ctl_db(c, 0), STMT_CLIENT_LIST, NULL, 0, &r, NULL) !=
	    DB_OK)
		return 1;
	printf("%-24s %-24s %-20s %-21s %s\n", "CLIENT_ID", "NAME", "ROLES",
	    "CREATED", "REVOKED");
	for (i = 0; i < r.nrows; i++)
		printf("%-24s %-24s %-20s %-21s %s\n", db_cell(&r, i, 0),
		    db_cell(&r, i, 1), db_cell(&r, i, 2), db_cell(&r, i, 3),
		    db_cell(&r, i, 4) != NULL ? db_cell(&r, i, 4) : "-");
	db_rows_clear(&r);
	return 0;
}

int
ctl_client(struct ctl *c, int argc, char **argv)
{
	struct db_arg	 a;

	if (argc >= 1 && strcmp(argv[0], "list") == 0)
		return client_list(c);
	if (argc >= 2 && strcmp(argv[0], "create") == 0)
		return client_create(c, argv[1], argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[0], "revoke") == 0) {
		a = db_str(argv[1]);
		return exec_or_fail(c, STMT_CLIENT_REVOKE, &a, 1,
		    "active client");
	}
	fprintf(stderr, "usage: rolodexctl client create NAME --role ROLES | "
	    "list | revoke CLIENT_ID\n");
	return 2;
}
