/*
 * Rolodex - relay-load: write load for the relay's tests and benchmark.
 *
 *   relay-load -f CONF [-n WRITES] [-r RATE] [-c PROCS] [-p PARTIES]
 *              [-x ROLLBACK_PCT] [-d MAX_DELAY_MS] [-L LONG_PERMILLE]
 *              [-s PAYLOAD_BYTES] [-B BACKLOG_ROWS]
 *
 * Writes go straight to MariaDB through the same statements and in the
 * same shape as the API's transactions: lock the party row, bump its
 * version, append the outbox row (outbox_add), commit.  The parent
 * creates PARTIES persons, then PROCS children share WRITES updates at
 * RATE writes/s in total, on parties picked at random (so writers of one
 * party queue on its row lock, as API requests do).  What makes it hard
 * for a relay:
 *   -d  each transaction sleeps 0..MAX_DELAY_MS between its outbox insert
 *       and its commit, so rows commit out of id order;
 *   -L  that many transactions per thousand stay open 1.5 s;
 *   -x  that percentage rolls back after writing its outbox row; their
 *       data carries "rolledback": true, which no stream entry may show.
 * Database failures are counted and the schedule goes on (a restart of
 * MariaDB mid-load is a test scenario).
 *
 * -B N instead writes N outbox rows as fast as it can, 1,000 per
 * transaction (a backlog for the drain benchmark); no party rows.
 *
 * The last line of output is "committed N rolledback N failed N
 * ambiguous N" (ambiguous: the connection died after COMMIT was sent).
 */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "db.h"
#include "jsonx.h"
#include "log.h"
#include "outbox.h"
#include "util.h"
#include "uuid.h"
#include "xalloc.h"

struct load {
	struct conf	 conf;
	struct db	*db;
	struct uuid	*parties;
	int64_t		 nparties, writes, rate, procs, rollback_pct;
	int64_t		 delay_ms, long_permille, payload, backlog;
	int64_t		 committed, rolledback, failed, ambiguous;
	char		*filler;
};

static volatile sig_atomic_t	 load_stop;

static void
on_term(int sig)
{
	(void)sig;
	load_stop = 1;
}

static json_object *
load_data(struct load *l, const struct uuid *id, long long version,
    bool rolledback)
{
	json_object	*o = json_object_new_object();
	char		 s[UUID_STRLEN + 1], name[64];

	uuid_fmt(id, s);
	snprintf(name, sizeof(name), "Load%lld", version);
	jsonx_add_str(o, "party_id", s);
	jsonx_add_str(o, "party_type", "person");
	jsonx_add_str(o, "first_name", "Relay");
	jsonx_add_str(o, "last_name", name);
	jsonx_add_int(o, "version", version);
	jsonx_add_str(o, "notes", l->filler);
	if (rolledback)
		jsonx_add_bool(o, "rolledback", true);
	return o;
}

static const char *
load_traceparent(char *buf, size_t sz)
{
	if (random() % 10 != 0)
		return NULL;
	snprintf(buf, sz, "00-%08lx%08lx%08lx%08lx-%08lx%08lx-01",
	    random(), random(), random(), random(), random(), random());
	return buf;
}

/* Finish a transaction as the outcome says; count it. */
static void
load_finish(struct load *l, enum db_rc rc, bool rollback)
{
	if (rc == DB_OK && rollback) {
		db_rollback(l->db);
		l->rolledback++;
		return;
	}
	if (rc == DB_OK && (rc = db_commit(l->db)) == DB_OK) {
		l->committed++;
		return;
	}
	if (rc == DB_DOWN && db_commit_sent(l->db))
		l->ambiguous++;
	else
		l->failed++;
	db_rollback(l->db);
}

/* One update of party id in the API's shape. */
static void
load_update(struct load *l, const struct uuid *id)
{
	struct db_rows	 r;
	struct db_arg	 a = DB_BIN(id->b, 16);
	json_object	*data = NULL;
	char		 tp[64];
	long long	 v = 0;
	enum db_rc	 rc;
	bool		 rb = random() % 100 < l->rollback_pct;
	int64_t		 delay = 0;

	if ((rc = db_begin(l->db)) != DB_OK)
		goto out;
	if ((rc = db_exec(l->db, STMT_PARTY_GET_LOCK, &a, 1, &r, NULL)) !=
	    DB_OK)
		goto out;
	if (r.nrows == 1)
		v = strtoll(db_cell(&r, 0, PCOL_VERSION), NULL, 10);
	db_rows_clear(&r);
	if (v == 0) {
		rc = DB_ERR;	/* its create failed */
		goto out;
	}
	if ((rc = db_exec(l->db, STMT_PARTY_BUMP, &a, 1, NULL, NULL)) !=
	    DB_OK)
		goto out;
	data = load_data(l, id, v + 1, rb);
	rc = outbox_add(l->db, EV_UPDATED, "person", id, v + 1, data,
	    load_traceparent(tp, sizeof(tp)));
	if (l->delay_ms > 0)
		delay = random() % (l->delay_ms + 1);
	if (l->long_permille > 0 && random() % 1000 < l->long_permille)
		delay = 1500;
	if (rc == DB_OK && delay > 0)
		sleep_ms(delay, NULL);
out:
	if (data != NULL)
		json_object_put(data);
	load_finish(l, rc, rb);
}

/* Create party id (person row and its Created event). */
static void
load_create(struct load *l, const struct uuid *id)
{
	struct db_arg	 p[6] = { DB_BIN(id->b, 16), db_str("person"),
	    db_str("Relay Load"), DB_NULL(), DB_NULL(), DB_NULL() };
	struct db_arg	 pe[7] = { DB_BIN(id->b, 16), DB_NULL(),
	    db_str("Relay"), DB_NULL(), db_str("Load1"), DB_NULL(),
	    DB_NULL() };
	json_object	*data = load_data(l, id, 1, false);
	enum db_rc	 rc;

	if ((rc = db_begin(l->db)) == DB_OK &&
	    (rc = db_exec(l->db, STMT_PARTY_INSERT, p, 6, NULL, NULL)) ==
	    DB_OK &&
	    (rc = db_exec(l->db, STMT_PERSON_INSERT, pe, 7, NULL, NULL)) ==
	    DB_OK)
		rc = outbox_add(l->db, EV_CREATED, "person", id, 1, data, NULL);
	json_object_put(data);
	load_finish(l, rc, false);
}

/* A child's share of the updates, paced. */
static void
load_child(struct load *l, int64_t n, int64_t rate)
{
	int64_t	 t0 = time_mono_ms(), i, due;

	for (i = 0; i < n && !load_stop; i++) {
		due = t0 + i * 1000 / (rate > 0 ? rate : 1);
		if (rate > 0 && due > time_mono_ms())
			sleep_ms(due - time_mono_ms(), NULL);
		if (rate > 0 && time_mono_ms() - due > 1000)
			t0 += time_mono_ms() - due;	/* fell behind */
		if (db_ensure(l->db) != DB_OK) {
			l->failed++;
			sleep_ms(200, NULL);
			continue;
		}
		load_update(l, &l->parties[random() % l->nparties]);
	}
}

/* Backlog mode: n outbox rows, 1,000 per transaction. */
static void
load_backlog(struct load *l, int64_t n)
{
	struct uuid	 id;
	json_object	*data;
	enum db_rc	 rc;
	int64_t		 i, j;

	for (i = 0; i < n && !load_stop; i += 1000) {
		if ((rc = db_begin(l->db)) != DB_OK) {
			l->failed++;
			continue;
		}
		for (j = 0; j < 1000 && i + j < n && rc == DB_OK; j++) {
			if ((i + j) % 5 == 0)
				uuid_v7(&id);
			data = load_data(l, &id, (i + j) % 5 + 1, false);
			rc = outbox_add(l->db, (i + j) % 5 == 0 ? EV_CREATED :
			    EV_UPDATED, "person", &id, (i + j) % 5 + 1, data,
			    NULL);
			json_object_put(data);
		}
		if (rc == DB_OK && (rc = db_commit(l->db)) == DB_OK)
			l->committed += j;
		else {
			db_rollback(l->db);
			l->failed += j;
		}
	}
}

static void
usage(void)
{
	fprintf(stderr, "usage: relay-load -f conf [-n writes] [-r rate] "
	    "[-c procs] [-p parties] [-x rollback%%] [-d delay_ms] "
	    "[-L long_permille] [-s payload_bytes] [-B backlog_rows]\n");
	exit(2);
}

static void
load_args(struct load *l, int argc, char **argv)
{
	const char	*cfile = NULL;
	char		 err[512];
	int64_t		*v;
	int		 ch;

	while ((ch = getopt(argc, argv, "B:c:d:f:L:n:p:r:s:x:")) != -1) {
		switch (ch) {
		case 'f':
			cfile = optarg;
			continue;
		case 'B': v = &l->backlog; break;
		case 'c': v = &l->procs; break;
		case 'd': v = &l->delay_ms; break;
		case 'L': v = &l->long_permille; break;
		case 'n': v = &l->writes; break;
		case 'p': v = &l->nparties; break;
		case 'r': v = &l->rate; break;
		case 's': v = &l->payload; break;
		case 'x': v = &l->rollback_pct; break;
		default:
			usage();
		}
		if (parse_int64(optarg, 0, 100000000, v) == -1)
			usage();
	}
	if (cfile == NULL || l->procs < 1 || l->nparties < 1 ||
	    l->payload > 100000)
		usage();
	if (conf_load(&l->conf, cfile, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
}

/* Fork the writers; add up their counts (each prints one line). */
static void
load_run_children(struct load *l)
{
	FILE	*f;
	int	 fds[2];
	pid_t	 pid;
	int64_t	 k, c, r, fl, a;

	if (pipe(fds) == -1)
		fatal("pipe");
	for (k = 0; k < l->procs; k++) {
		if ((pid = fork()) == -1)
			fatal("fork");
		if (pid != 0)
			continue;
		close(fds[0]);
		srandom((unsigned)(getpid() ^ time_mono_ms()));
		db_disconnect(l->db);	/* the parent's connection */
		l->committed = l->rolledback = l->failed = l->ambiguous = 0;
		load_child(l, l->writes / l->procs + (k < l->writes %
		    l->procs), l->rate / l->procs);
		dprintf(fds[1], "%lld %lld %lld %lld\n", (long long)
		    l->committed, (long long)l->rolledback, (long long)
		    l->failed, (long long)l->ambiguous);
		_exit(0);
	}
	close(fds[1]);
	if ((f = fdopen(fds[0], "r")) == NULL)
		fatal("fdopen");
	while (fscanf(f, "%ld %ld %ld %ld", &c, &r, &fl, &a) == 4) {
		l->committed += c;
		l->rolledback += r;
		l->failed += fl;
		l->ambiguous += a;
	}
	fclose(f);
	while (wait(NULL) > 0)
		;
}

int
main(int argc, char *argv[])
{
	struct load	 l;
	int64_t		 i;

	memset(&l, 0, sizeof(l));
	l.writes = 1000;
	l.procs = 4;
	l.nparties = 200;
	l.payload = 300;
	log_init("relay-load", 0);
	load_args(&l, argc, argv);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	srandom((unsigned)getpid());
	l.filler = xmalloc((size_t)l.payload + 1);
	memset(l.filler, 'x', (size_t)l.payload);
	l.filler[l.payload] = '\0';
	l.db = db_new(&l.conf, false);
	if (db_ensure(l.db) != DB_OK)
		fatalx("cannot connect to the database");
	if (l.backlog > 0)
		load_backlog(&l, l.backlog);
	else {
		l.parties = xcalloc((size_t)l.nparties, sizeof(*l.parties));
		for (i = 0; i < l.nparties; i++) {
			uuid_v7(&l.parties[i]);
			load_create(&l, &l.parties[i]);
		}
		load_run_children(&l);
	}
	printf("committed %lld rolledback %lld failed %lld ambiguous %lld\n",
	    (long long)l.committed, (long long)l.rolledback,
	    (long long)l.failed, (long long)l.ambiguous);
	db_free(l.db);
	free(l.parties);
	free(l.filler);
	conf_clear(&l.conf);
	return 0;
}
