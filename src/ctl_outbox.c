/*
 * Rolodex - rolodexctl outbox status and rolodexctl resync.
 *
 * outbox status prints what an operator needs to see whether events flow:
 * unpublished rows and the age of the oldest, the relays (which one
 * leads, that is owns every stream, and how fresh each heartbeat is) and,
 * per stream, the newest entry the relay recorded.  The first two lines
 * keep their "key: value" form for scripts.
 *
 * resync publishes the current state of every party (then of every
 * relationship) again, to seed a new adapter: for each, with its row
 * locked (RESYNC_CHUNK rows per short transaction), one ...Updated outbox
 * row carrying the resource as GET returns it and its current version.
 * Locking the row puts the new row after every earlier change of that
 * aggregate and before every later one, so per-aggregate stream order
 * still holds.
 * The versions repeat: consumers that already applied that version skip
 * the event (the contract's version guard), a new adapter applies it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "party.h"
#include "relship.h"
#include "uuid.h"

#define RESYNC_CHUNK	100
#define RESYNC_TRIES	5

/* Columns of STMT_RELAY_NODE_LIST. */
enum ncol {
	NCOL_NAME, NCOL_HOST, NCOL_PID, NCOL_ROLE, NCOL_PUBLISHED, NCOL_AGE,
	NCOL_HOLDS, NCOL_STARTED
};

static void
status_relays(struct ctl *c, struct db *db)
{
	struct db_rows	 r;
	size_t		 i, leaders = 0;
	double		 age;
	bool		 holds;

	if (db_exec(db, STMT_RELAY_NODE_LIST, NULL, 0, &r, NULL) != DB_OK)
		return;
	printf("relays: %zu\n", r.nrows);
	for (i = 0; i < r.nrows; i++) {
		age = strtod(db_cell(&r, i, NCOL_AGE), NULL) / 1e6;
		holds = db_cell(&r, i, NCOL_HOLDS) != NULL &&
		    strcmp(db_cell(&r, i, NCOL_HOLDS), "1") == 0;
		leaders += holds;
		printf("  %s pid %s on %s: %s%s, heartbeat %.1f s ago%s, "
		    "%s events published, up since %s\n",
		    db_cell(&r, i, NCOL_NAME), db_cell(&r, i, NCOL_PID),
		    db_cell(&r, i, NCOL_HOST), holds ? "leader" : "standby",
		    holds ? " (owns every stream)" : "", age,
		    age > (double)c->conf.relay_lease ? " (STALE)" : "",
		    db_cell(&r, i, NCOL_PUBLISHED),
		    db_cell(&r, i, NCOL_STARTED));
	}
	if (leaders == 0)
		printf("  no relay holds the lock: nothing is being "
		    "published\n");
	db_rows_clear(&r);
}

static void
status_streams(struct db *db)
{
	struct db_rows	 r;
	size_t		 i;

	if (db_exec(db, STMT_RELAY_STREAM_LIST, NULL, 0, &r, NULL) != DB_OK)
		return;
	printf("streams: %zu\n", r.nrows);
	for (i = 0; i < r.nrows; i++)
		printf("  %s: newest entry %s, recorded %s\n",
		    db_cell(&r, i, 0), db_cell(&r, i, 1), db_cell(&r, i, 2));
	db_rows_clear(&r);
}

static int
outbox_status(struct ctl *c)
{
	struct db	*db = ctl_db(c, 0);
	struct db_rows	 r;

	if (db_exec(db, STMT_OUTBOX_PENDING, NULL, 0, &r, NULL) != DB_OK)
		return 1;
	printf("unpublished: %s\noldest_age_seconds: %.3f\n",
	    db_cell(&r, 0, 0), strtod(db_cell(&r, 0, 1), NULL) / 1e6);
	db_rows_clear(&r);
	status_relays(c, db);
	status_streams(db);
	return 0;
}

int
ctl_outbox(struct ctl *c, int argc, char **argv)
{
	if (argc < 1 || strcmp(argv[0], "status") != 0) {
		fprintf(stderr, "usage: rolodexctl outbox status\n");
		return 2;
	}
	return outbox_status(c);
}

/* One outbox row with the current state of party id; *n counts it. */
static enum db_rc
resync_party(struct db *db, const struct uuid *id, unsigned long *n)
{
	struct party	 p;
	json_object	*data;
	enum db_rc	 rc;
	bool		 found;

	if ((rc = db_party_load(db, id, true, &p, &found)) == DB_OK &&
	    found) {
		data = party_to_json(&p);
		rc = outbox_add(db, EV_UPDATED, party_type_name(p.type), &p.id,
		    p.version, data, NULL);
		json_object_put(data);
		*n += rc == DB_OK;
	}
	party_clear(&p);
	return rc;
}

static enum db_rc
resync_relship(struct db *db, const struct uuid *id, unsigned long *n)
{
	struct relship	 rel;
	json_object	*data;
	enum db_rc	 rc;
	bool		 found;

	if ((rc = db_relship_load(db, id, true, &rel, &found)) == DB_OK &&
	    found) {
		data = relship_to_json(&rel);
		rc = outbox_add(db, EV_UPDATED, "relationship", &rel.id,
		    rel.version, data, NULL);
		json_object_put(data);
		*n += rc == DB_OK;
	}
	relship_clear(&rel);
	return rc;
}

/* Resync the ids in r (column 0) in one transaction; redo on deadlock. */
static enum db_rc
resync_chunk(struct db *db, const struct db_rows *r, bool parties,
    unsigned long *n)
{
	struct uuid	 id;
	unsigned long	 done;
	enum db_rc	 rc = DB_OK;
	size_t		 i;
	int		 tries;

	for (tries = 0; tries < RESYNC_TRIES; tries++) {
		done = 0;
		rc = db_begin(db);
		for (i = 0; i < r->nrows && rc == DB_OK; i++) {
			memcpy(id.b, db_cell(r, i, 0), 16);
			rc = parties ? resync_party(db, &id, &done) :
			    resync_relship(db, &id, &done);
		}
		if (rc == DB_OK && (rc = db_commit(db)) == DB_OK) {
			*n += done;
			return DB_OK;
		}
		db_rollback(db);
		if (rc != DB_RETRY)
			break;
	}
	return rc;
}

/* Walk parties or relationships by id, RESYNC_CHUNK at a time. */
static int
resync_all(struct db *db, bool parties, unsigned long *n)
{
	struct db_rows	 r;
	struct db_arg	 a[2];
	unsigned char	 after[16];
	enum db_rc	 rc;

	memset(after, 0, sizeof(after));
	for (;;) {
		a[0] = DB_BIN(after, 16);
		a[1] = DB_INT(RESYNC_CHUNK);
		if (db_exec(db, parties ? STMT_RESYNC_PARTIES :
		    STMT_RESYNC_RELSHIPS, a, 2, &r, NULL) != DB_OK)
			return -1;
		if (r.nrows == 0) {
			db_rows_clear(&r);
			return 0;
		}
		rc = resync_chunk(db, &r, parties, n);
		memcpy(after, db_cell(&r, r.nrows - 1, 0), 16);
		db_rows_clear(&r);
		if (rc != DB_OK)
			return -1;
	}
}

int
ctl_resync(struct ctl *c, int argc, char **argv)
{
	struct db	*db = ctl_db(c, 0);
	unsigned long	 np = 0, nr = 0;
	bool		 rels = !ctl_has(argc, argv, "--parties-only");

	if (argc > 1 || (argc == 1 && rels)) {
		fprintf(stderr, "usage: rolodexctl resync [--parties-only]\n");
		return 2;
	}
	if (resync_all(db, true, &np) == -1 ||
	    (rels && resync_all(db, false, &nr) == -1)) {
		log_warnx("resync stopped after %lu parties and %lu "
		    "relationships; run it again", np, nr);
		return 1;
	}
	printf("resync: %lu parties and %lu relationships queued for "
	    "publication\n", np, nr);
	return 0;
}
