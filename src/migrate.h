/*
 * Rolodex - schema migrations.
 *
 * Migrations are files "NNNN_description.sql" in one directory, applied
 * in number order.  Each applied file is recorded in schema_migration
 * with its SHA-256, so running again applies only new files, and a file
 * edited after it was applied is refused rather than silently skipped.
 */
#ifndef ROLODEX_MIGRATE_H
#define ROLODEX_MIGRATE_H

#include <stdbool.h>
#include <stdio.h>

struct db;

/*
 * Apply pending migrations from dir (or only list them when dry_run),
 * reporting progress on out.  Returns the number applied (or pending),
 * or -1 on error (logged).
 */
int	migrate_run(struct db *, const char *dir, bool dry_run, FILE *out);

#endif
