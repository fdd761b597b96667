/*
 * Rolodex - schema migrations (see migrate.h).
 *
 * MariaDB commits DDL implicitly, so a migration is not atomic: a file
 * that fails half-way leaves what it did and is not recorded.  Migration
 * files are therefore written to be re-runnable (IF NOT EXISTS) where
 * they can be.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"
#include "xalloc.h"

#define MIGRATE_MAX_FILES	1000
#define MIGRATE_MAX_SIZE	(4 * 1024 * 1024)

struct mfile {
	int64_t	 version;
	char	*name;
	char	*path;
	char	 sum[65];
};

static const char migrate_table[] =
    "CREATE TABLE IF NOT EXISTS schema_migration ("
    "version INT UNSIGNED NOT NULL PRIMARY KEY, "
    "name VARCHAR(255) NOT NULL, checksum CHAR(64) NOT NULL, "
    "applied_at DATETIME(6) NOT NULL) ENGINE=InnoDB";

static int
mfile_cmp(const void *a, const void *b)
{
	const struct mfile	*x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

static int
sha256_hex(const char *buf, size_t len, char out[65])
{
	unsigned char	 md[32];
	unsigned int	 mdlen = 0;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	hex_encode(out, md, 32);
	return 0;
}

/* "0001_schema.sql" -> 1; -1 for names that are not migrations. */
static int64_t
mfile_version(const char *name)
{
	char	 num[16];
	size_t	 n = strspn(name, "0123456789");
	size_t	 len = strlen(name);
	int64_t	 v;

	if (n == 0 || n >= sizeof(num) || name[n] != '_' || len < 5 ||
	    strcmp(name + len - 4, ".sql") != 0)
		return -1;
	memcpy(num, name, n);
	num[n] = '\0';
	if (parse_int64(num, 1, 999999, &v) == -1)
		return -1;
	return v;
}

static void
mfiles_free(struct mfile *f, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].path);
	}
	free(f);
}

/* Read the migration files of dir, sorted, with checksums. */
static int
mfiles_read(const char *dir, struct mfile **out, size_t *np)
{
	DIR		*d;
	struct dirent	*e;
	struct mfile	*f = NULL;
	size_t		 n = 0, len;
	int64_t		 v;
	char		*buf;

	if ((d = opendir(dir)) == NULL) {
		log_warn("migrate: %s", dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL && n < MIGRATE_MAX_FILES) {
		if ((v = mfile_version(e->d_name)) < 0)
			continue;
		f = xreallocarray(f, n + 1, sizeof(*f));
		f[n].version = v;
		f[n].name = xstrdup(e->d_name);
		f[n].path = xasprintf("%s/%s", dir, e->d_name);
		n++;
		if ((buf = file_read(f[n - 1].path, MIGRATE_MAX_SIZE,
		    &len)) == NULL || sha256_hex(buf, len, f[n - 1].sum)) {
			log_warn("migrate: %s", f[n - 1].path);
			free(buf);
			closedir(d);
			mfiles_free(f, n);
			return -1;
		}
		free(buf);
	}
	closedir(d);
	if (n > 0)	/* f is NULL then: qsort(NULL, 0) is undefined */
		qsort(f, n, sizeof(*f), mfile_cmp);
	*out = f;
	*np = n;
	return 0;
}

/* Check recorded migrations against the files; -1 on any mismatch. */
static int
migrate_verify(const struct db_rows *r, const struct mfile *f, size_t n)
{
	size_t	 i, j;

	for (i = 0; i < r->nrows; i++) {
		for (j = 0; j < n; j++)
			if (f[j].version == strtoll(db_cell(r, i, 0), NULL, 10))
				break;
		if (j == n) {
			log_warnx("migrate: applied migration %s (%s) has no "
			    "file", db_cell(r, i, 0), db_cell(r, i, 1));
			return -1;
		}
		if (strcmp(f[j].sum, db_cell(r, i, 2)) != 0) {
			log_warnx("migrate: %s was edited after it was "
			    "applied; write a new migration instead",
			    f[j].name);
			return -1;
		}
	}
	return 0;
}

static bool
is_applied(const struct db_rows *r, int64_t v)
{
	size_t	 i;

	for (i = 0; i < r->nrows; i++)
		if (strtoll(db_cell(r, i, 0), NULL, 10) == v)
			return true;
	return false;
}

static int
migrate_apply(struct db *db, const struct mfile *f, FILE *out)
{
	struct db_arg	 args[3];
	char		*sql;

	if ((sql = file_read(f->path, MIGRATE_MAX_SIZE, NULL)) == NULL) {
		log_warn("migrate: %s", f->path);
		return -1;
	}
	fprintf(out, "applying %s\n", f->name);
	if (db_exec_text(db, sql) != DB_OK) {
		free(sql);
		return -1;
	}
	free(sql);
	args[0] = DB_INT(f->version);
	args[1] = db_str(f->name);
	args[2] = db_str(f->sum);
	return db_exec(db, STMT_MIG_INSERT, args, 3, NULL, NULL) == DB_OK ?
	    0 : -1;
}

int
migrate_run(struct db *db, const char *dir, bool dry_run, FILE *out)
{
	struct mfile	*f = NULL;
	struct db_rows	 r;
	size_t		 n = 0, i;
	int		 count = 0;

	memset(&r, 0, sizeof(r));
	if (mfiles_read(dir, &f, &n) == -1)
		return -1;
	if (db_exec_text(db, migrate_table) != DB_OK ||
	    db_exec(db, STMT_MIG_LIST, NULL, 0, &r, NULL) != DB_OK ||
	    migrate_verify(&r, f, n) == -1) {
		count = -1;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (is_applied(&r, f[i].version))
			continue;
		if (dry_run)
			fprintf(out, "pending %s\n", f[i].name);
		else if (migrate_apply(db, &f[i], out) == -1) {
			count = -1;
			goto out;
		}
		count++;
	}
out:
	db_rows_clear(&r);
	mfiles_free(f, n);
	return count;
}
