#!/usr/bin/env python3
"""relay_api_load.py - writes through the real API, for the relay's tests.

  relay_api_load.py --base http://127.0.0.1:PORT --token TOKEN
                    [--writes N] [--rate R] [--threads T] [--deadline S]
                    [--every-kind]

Each thread creates persons and organisations, patches them, links them
with employee-of relationships, patches and deletes relationships and now
and then deletes a person or an organisation (with its relationships), at
R writes/s in total, until N writes are done or S seconds passed; with
--every-kind each thread then makes one write of every kind (so all nine
event types occur).  Every fourth request carries a W3C traceparent.
Prints one summary line; exits 1 when any write got something other than
its 2xx (the API must keep accepting writes whatever Redis does).
"""
import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse


class Client:
    def __init__(self, base, token):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def req(self, method, path, body=None, ctype="application/json"):
        hdrs = {"Authorization": "Bearer " + self.token, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = ctype
        if random.random() < 0.25:
            hdrs["traceparent"] = "00-%032x-%016x-01" % (random.getrandbits(128) | 1,
                                                         random.getrandbits(64) | 1)
        for attempt in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                self.conn.request(method, path, body=data, headers=hdrs)
                r = self.conn.getresponse()
                raw = r.read()
                return r.status, (json.loads(raw) if raw and r.status < 300 else raw)
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 1:
                    return 0, b"connection failed"
        return 0, b""


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.bad = []

    def add(self, what, status, want, body):
        with self.lock:
            if status == want:
                self.ok += 1
            else:
                self.bad.append("%s -> %s (want %s): %r" % (what, status, want, body[:200]
                                                            if isinstance(body, bytes) else body))


def worker(args, stats, budget, t0, idx):
    c = Client(args.base, args.token)
    rnd = random.Random(os.getpid() * 100 + idx)
    persons, orgs, rels = [], [], []
    n = 0
    interval = args.threads / float(args.rate)
    while True:
        with budget["lock"]:
            if budget["left"] <= 0:
                break
            budget["left"] -= 1
        due = t0 + n * interval
        n += 1
        now = time.monotonic()
        if now - t0 > args.deadline:
            break
        if due > now:
            time.sleep(due - now)
        op = rnd.random()
        if not persons or op < 0.2:
            s, b = c.req("POST", "/persons", {"first_name": "Relay%d" % n, "last_name": "Api"})
            stats.add("POST /persons", s, 201, b)
            if s == 201:
                persons.append(b["party_id"])
        elif not orgs or op < 0.25:
            s, b = c.req("POST", "/organisations", {"organisation_name": "Relay Org %d" % n})
            stats.add("POST /organisations", s, 201, b)
            if s == 201:
                orgs.append(b["party_id"])
        elif op < 0.3:
            s, b = c.req("PATCH", "/organisations/" + rnd.choice(orgs),
                         {"website": "https://x%d.example" % n}, "application/merge-patch+json")
            stats.add("PATCH /organisations", s, 200, b)
        elif op < 0.7:
            pid = rnd.choice(persons)
            s, b = c.req("PATCH", "/persons/" + pid, {"middle_names": "M%d" % n},
                         "application/merge-patch+json")
            stats.add("PATCH /persons", s, 200, b)
        elif op < 0.8:
            s, b = c.req("POST", "/relationships",
                         {"relationship_type": "employee-of", "from_party_id": rnd.choice(persons),
                          "to_party_id": rnd.choice(orgs)})
            stats.add("POST /relationships", s, 201, b)
            if s == 201:
                rels.append(b["relationship_id"])
        elif op < 0.88 and rels:
            s, b = c.req("PATCH", "/relationships/" + rnd.choice(rels), {"notes": "n%d" % n},
                         "application/merge-patch+json")
            stats.add("PATCH /relationships", s, 200, b)
        elif op < 0.95 and rels:
            rid = rels.pop(rnd.randrange(len(rels)))
            s, b = c.req("DELETE", "/relationships/" + rid)
            stats.add("DELETE /relationships", s, 204, b)
        elif op < 0.97 and len(orgs) > 2:
            oid = orgs.pop(rnd.randrange(len(orgs)))
            s, b = c.req("DELETE", "/organisations/" + oid)
            stats.add("DELETE /organisations", s, 204, b)
            rels[:] = [r for r in rels if c.req("GET", "/relationships/" + r)[0] == 200]
        elif len(persons) > 3:
            pid = persons.pop(rnd.randrange(len(persons)))
            # its relationships go with it (RelationshipDeleted events)
            s, b = c.req("DELETE", "/persons/" + pid)
            stats.add("DELETE /persons", s, 204, b)
            rels[:] = [r for r in rels if c.req("GET", "/relationships/" + r)[0] == 200]
        else:
            pid = rnd.choice(persons)
            s, b = c.req("PATCH", "/persons/" + pid, {"title": "Dr"}, "application/merge-patch+json")
            stats.add("PATCH /persons", s, 200, b)
    if args.every_kind:
        coda(c, stats, n)


def coda(c, stats, n):
    """One write of every kind, so that every event type occurs."""
    s, p = c.req("POST", "/persons", {"first_name": "Coda%d" % n, "last_name": "Api"})
    stats.add("POST /persons", s, 201, p)
    s, o = c.req("POST", "/organisations", {"organisation_name": "Coda Org %d" % n})
    stats.add("POST /organisations", s, 201, o)
    if not (isinstance(p, dict) and isinstance(o, dict)):
        return
    s, b = c.req("PATCH", "/persons/" + p["party_id"], {"title": "Mx"},
                 "application/merge-patch+json")
    stats.add("PATCH /persons", s, 200, b)
    s, b = c.req("PATCH", "/organisations/" + o["party_id"], {"trading_name": "Coda"},
                 "application/merge-patch+json")
    stats.add("PATCH /organisations", s, 200, b)
    s, r = c.req("POST", "/relationships", {"relationship_type": "employee-of",
                                            "from_party_id": p["party_id"],
                                            "to_party_id": o["party_id"]})
    stats.add("POST /relationships", s, 201, r)
    if isinstance(r, dict):
        s, b = c.req("PATCH", "/relationships/" + r["relationship_id"], {"notes": "coda"},
                     "application/merge-patch+json")
        stats.add("PATCH /relationships", s, 200, b)
        s, b = c.req("DELETE", "/relationships/" + r["relationship_id"])
        stats.add("DELETE /relationships", s, 204, b)
    s, b = c.req("DELETE", "/organisations/" + o["party_id"])
    stats.add("DELETE /organisations", s, 204, b)
    s, b = c.req("DELETE", "/persons/" + p["party_id"])
    stats.add("DELETE /persons", s, 204, b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--writes", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=120.0)
    ap.add_argument("--every-kind", action="store_true",
                    help="each thread ends with one write of every kind")
    args = ap.parse_args()
    stats = Stats()
    budget = {"lock": threading.Lock(), "left": args.writes}
    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(args, stats, budget, t0, i))
          for i in range(args.threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    el = time.monotonic() - t0
    for b in stats.bad[:10]:
        print("  " + b)
    print("api-load: %d writes ok, %d failed, %.1f s, %.0f writes/s"
          % (stats.ok, len(stats.bad), el, stats.ok / el if el else 0))
    return 1 if stats.bad else 0


if __name__ == "__main__":
    sys.exit(main())
