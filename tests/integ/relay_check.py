#!/usr/bin/env python3
"""relay_check.py - an independent checker of the relay's guarantees.

Reads the WHOLE event stream (every partition) with XRANGE over a plain
RESP socket, and every outbox row with the mariadb client, then checks
(contract, Guarantees 1-3):

  lost         a committed outbox row whose event id is in no stream entry
  unexpected   a stream entry whose id is no committed outbox row (e.g. a
               rolled-back transaction's), or whose data says "rolledback"
  order        per stream and subject, after dropping repeated ids (the
               first occurrence counts), versions that do not strictly
               increase
  fields       entries whose CloudEvents fields (names, order, values,
               data byte for byte) differ from their outbox row; entries
               in the wrong partition, or one subject in two partitions
  duplicates   repeated ids (allowed: delivery is at least once; reported,
               and limited by --max-dups)

--wait S polls (bounded) until no committed row is missing or S seconds
passed, then checks.  --latency prints commit-to-stream percentiles (the
entry's XADD time, from its stream id, minus its "time" field).
Exit 0 when every check passes; the last line is a summary.
"""
import argparse
import datetime
import json
import re
import shlex
import socket
import subprocess
import sys
import time

FIELDS = ["id", "type", "source", "specversion", "subject", "aggregate_type",
          "aggregate_version", "time", "datacontenttype", "data"]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class RespError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: enough for XRANGE, XLEN, PING."""

    def __init__(self, port, host="127.0.0.1", timeout=10.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def close(self):
        self.f.close()
        self.s.close()

    def cmd(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.s.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.f.readline()
        if not line.endswith(b"\r\n"):
            raise RespError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)
            return data[:-2].decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RespError("bad reply %r" % line)


def read_stream(r, name):
    """Every entry of stream name as (id, [(field, value), ...])."""
    out, start = [], "-"
    while True:
        try:
            page = r.cmd("XRANGE", name, start, "+", "COUNT", 5000)
        except RespError as e:
            if "WRONGTYPE" in str(e):
                raise
            return out
        for eid, flat in page:
            out.append((eid, list(zip(flat[0::2], flat[1::2]))))
        if len(page) < 5000:
            return out
        start = "(" + page[-1][0]


def uuid_text(hexs):
    h = hexs.lower()
    return "%s-%s-%s-%s-%s" % (h[0:8], h[8:12], h[12:16], h[16:20], h[20:32])


def outbox_rows(mysql):
    q = ("SELECT HEX(event_id), event_type, aggregate_type, HEX(aggregate_id), "
         "aggregate_version, IFNULL(traceparent, '-'), HEX(payload) FROM outbox")
    res = subprocess.run(shlex.split(mysql) + ["-N", "-B", "-e", q], check=True,
                         stdout=subprocess.PIPE, timeout=120)
    rows = {}
    for line in res.stdout.decode().splitlines():
        ev, et, at, agg, ver, tp, payload = line.split("\t")
        rows[uuid_text(ev)] = {"type": et, "aggregate_type": at,
                               "subject": uuid_text(agg), "version": int(ver),
                               "traceparent": None if tp == "-" else tp,
                               "data": bytes.fromhex(payload).decode("utf-8")}
    return rows


def stream_names(base, partitions):
    return [base] if partitions == 1 else ["%s:%d" % (base, k) for k in range(partitions)]


def partition_of(owner, partitions):
    b = bytes.fromhex(owner.replace("-", ""))
    return int.from_bytes(b[8:16], "big") % partitions


def check_entry(eid, fields, row, args, k, problems):
    """Field names/order/values against the outbox row; partition."""
    names = [f for f, _ in fields]
    d = dict(fields)
    want = FIELDS + (["traceparent"] if row["traceparent"] else [])
    bad = []
    if names != want:
        bad.append("fields %s" % names)
    expect = {"type": row["type"], "source": args.source, "specversion": "1.0",
              "data": row["data"], "subject": row["subject"],
              "aggregate_type": row["aggregate_type"],
              "aggregate_version": str(row["version"]),
              "datacontenttype": "application/json"}
    if row["traceparent"]:
        expect["traceparent"] = row["traceparent"]
    for f, v in expect.items():
        if d.get(f) != v:
            bad.append("%s=%.80r (want %.80r)" % (f, d.get(f), v))
    if not TIME_RE.match(d.get("time", "")):
        bad.append("time %r" % d.get("time"))
    try:
        data = json.loads(d.get("data", ""))
    except ValueError:
        data = None
        bad.append("data is not JSON")
    if args.partitions > 1 and isinstance(data, dict):
        owner = data.get("from_party_id") if row["aggregate_type"] == "relationship" \
            else row["subject"]
        if owner and partition_of(owner, args.partitions) != k:
            bad.append("in partition %d, owner %s belongs in %d"
                       % (k, owner, partition_of(owner, args.partitions)))
    if bad:
        problems.append("entry %s (event %s): %s" % (eid, d.get("id"), "; ".join(bad)))


def entry_ms(eid):
    return int(eid.split("-")[0])


def time_ms(t):
    dt = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
    return dt.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000.0


def analyse(args, rows, streams):
    res = {"committed": len(rows), "entries": 0, "unique": 0, "lost": 0,
           "unexpected": 0, "rolledback_seen": 0, "dups": 0, "order": 0,
           "fields": 0, "equal_versions": 0}
    problems, seen_all, home = [], set(), {}
    for k, (name, entries) in enumerate(streams):
        last, seen = {}, set()
        res["entries"] += len(entries)
        for eid, fields in entries:
            d = dict(fields)
            ev = d.get("id")
            if ev in seen:
                res["dups"] += 1
                continue
            seen.add(ev)
            if ev in seen_all:
                res["dups"] += 1
                continue
            seen_all.add(ev)
            if '"rolledback":true' in d.get("data", ""):
                res["rolledback_seen"] += 1
                problems.append("entry %s: data of a rolled-back transaction" % eid)
            row = rows.get(ev)
            if row is None:
                res["unexpected"] += 1
                problems.append("entry %s: event %s is no committed outbox row" % (eid, ev))
                continue
            n = len(problems)
            check_entry(eid, fields, row, args, k, problems)
            if home.setdefault(row["subject"], k) != k:
                problems.append("subject %s in partitions %d and %d (entry %s)"
                                % (row["subject"], home[row["subject"]], k, eid))
            res["fields"] += len(problems) - n
            subj, ver = row["subject"], row["version"]
            if subj in last and ver <= last[subj]:
                if ver == last[subj] and args.allow_equal:
                    res["equal_versions"] += 1
                else:
                    res["order"] += 1
                    problems.append("stream %s subject %s: version %d after %d (entry %s)"
                                    % (name, subj, ver, last[subj], eid))
            last[subj] = max(ver, last.get(subj, 0))
    res["unique"] = len(seen_all)
    missing = [ev for ev in rows if ev not in seen_all]
    res["lost"] = len(missing)
    for ev in missing[:10]:
        problems.append("lost: event %s (%s v%d of %s)" % (ev, rows[ev]["type"],
                        rows[ev]["version"], rows[ev]["subject"]))
    return res, problems


def latency(streams):
    lat = []
    for _, entries in streams:
        for eid, fields in entries:
            d = dict(fields)
            if "time" in d:
                lat.append(entry_ms(eid) - time_ms(d["time"]))
    lat.sort()
    if not lat:
        return None

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p / 100.0))]
    return {"n": len(lat), "p50_ms": pct(50), "p99_ms": pct(99), "max_ms": lat[-1]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--mysql", required=True, help="mariadb client command line")
    ap.add_argument("--stream", default="rolodex:events")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--source", default="rolodex")
    ap.add_argument("--wait", type=float, default=0.0)
    ap.add_argument("--max-dups", type=int, default=-1, help="-1: any number")
    ap.add_argument("--min-committed", type=int, default=1)
    ap.add_argument("--allow-equal", action="store_true",
                    help="equal versions allowed (after rolodexctl resync)")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--label", default="check")
    args = ap.parse_args()

    deadline = time.monotonic() + args.wait
    while True:
        rows = outbox_rows(args.mysql)
        r = Resp(args.redis_port)
        try:
            streams = [(n, read_stream(r, n)) for n in stream_names(args.stream, args.partitions)]
        finally:
            r.close()
        res, problems = analyse(args, rows, streams)
        if res["lost"] == 0 or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    for p in problems[:30]:
        print("  " + p)
    if len(problems) > 30:
        print("  ... %d more" % (len(problems) - 30))
    fail = (res["lost"] or res["unexpected"] or res["order"] or res["fields"] or
            res["rolledback_seen"] or res["committed"] < args.min_committed or
            (args.max_dups >= 0 and res["dups"] > args.max_dups))
    if args.latency:
        res["latency"] = latency(streams)
    print("%s: %s %s" % (args.label, "FAIL" if fail else "ok",
                         " ".join("%s=%s" % kv for kv in res.items())))
    return 1 if fail else 0


if __name__ == "__main__":
    sys.exit(main())
