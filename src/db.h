/*
 * Rolodex - database access.
 *
 * One struct db per process (per API worker): one MySQL connection and the
 * statements of db_stmt.h, each prepared the first time it is used on the
 * current connection.  SQL never comes from input: every statement is a
 * constant in the table, and values travel as bound parameters.
 *
 * MYSQL_OPT_RECONNECT is never used: a silent reconnect would lose the
 * prepared statements and any open transaction.  Instead a lost
 * connection is reported as DB_DOWN, the connection is closed, and the
 * next db_ensure() opens a new one.
 */
#ifndef ROLODEX_DB_H
#define ROLODEX_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db_stmt.h"

struct conf;
struct db;

enum db_rc {
	DB_OK = 0,
	DB_ERR = -1,	/* a statement failed (bug or constraint) */
	DB_DOWN = -2,	/* server unreachable or connection lost */
	DB_RETRY = -3,	/* deadlock or lock wait timeout: redo the txn */
	DB_DUP = -4	/* duplicate key */
};

enum db_argtype { DBA_NULL, DBA_STR, DBA_BIN, DBA_INT };

/* One bound parameter; the pointed-to bytes are borrowed. */
struct db_arg {
	enum db_argtype	 type;
	const void	*p;
	size_t		 len;
	long long	 i;
};

#define DB_NULL()	((struct db_arg){ DBA_NULL, NULL, 0, 0 })
#define DB_INT(v)	((struct db_arg){ DBA_INT, NULL, 0, (v) })
#define DB_BIN(p, n)	((struct db_arg){ DBA_BIN, (p), (n), 0 })
/* A string, or NULL for SQL NULL. */
struct db_arg	 db_str(const char *);

/*
 * Result rows, every cell as bytes (text for numbers and times, raw for
 * BINARY).  Cells are NUL-terminated; NULL cells have null set.
 */
struct db_rows {
	size_t		  nrows, ncols;
	char		**cell;
	unsigned long	 *len;
	bool		 *null;
};

/* A new handle for conf's runtime user (or migration user); no I/O. */
struct db	*db_new(const struct conf *, bool migrate_user);
void		 db_free(struct db *);		/* NULL ok; closes */

/* Connect if not connected.  DB_OK or DB_DOWN. */
enum db_rc	 db_ensure(struct db *);
bool		 db_connected(const struct db *);
/* Drop the connection (after DB_DOWN, or to simulate one in tests). */
void		 db_disconnect(struct db *);

enum db_rc	 db_begin(struct db *);
enum db_rc	 db_commit(struct db *);
void		 db_rollback(struct db *);
/* Whether a COMMIT was sent since db_begin(): then a failure is ambiguous. */
bool		 db_commit_sent(const struct db *);

/*
 * Execute statement s with n bound args.  When out is not NULL the result
 * set is stored there (free with db_rows_clear()); affected, when not
 * NULL, gets the affected-row count.  Errors are logged here.
 */
enum db_rc	 db_exec(struct db *, enum stmt s, const struct db_arg *args,
		    size_t n, struct db_rows *out, uint64_t *affected);

/* Execute a constant SQL text without parameters (migrations, DDL). */
enum db_rc	 db_exec_text(struct db *, const char *sql);

/* Cell accessor: NULL for SQL NULL. */
const char	*db_cell(const struct db_rows *, size_t row, size_t col);
size_t		 db_cell_len(const struct db_rows *, size_t row, size_t col);
/* A new copy of a cell (free()), or NULL for SQL NULL. */
char		*db_cell_dup(const struct db_rows *, size_t row, size_t col);
/* A BINARY(16) cell into out; all zero when NULL or of another size. */
void		 db_cell_bin16(const struct db_rows *, size_t row, size_t col,
		    unsigned char out[16]);
void		 db_rows_clear(struct db_rows *);

/* Last auto-increment id on this connection. */
uint64_t	 db_insert_id(const struct db *);

/* Test hook: make the next db_commit fail (after all statements ran). */
void		 db_fail_next_commit(struct db *);

#endif
