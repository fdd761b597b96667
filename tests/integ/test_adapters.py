#!/usr/bin/env python3
"""tests/integ/test_adapters.py - the adapters end to end, under faults.

Started by tests/integ/run-adapters.sh, which starts MariaDB, Redis, the SaaS sandboxes,
the API, the relay and the adapter instances sf-a, sf-b, dv-a, dv-b, and passes:

  ADT_BASE, ADT_TOKEN      the API and an admin token
  ADT_SF, ADT_DV           the Salesforce and Dataverse sandboxes (control plane under
                           /__sandbox/)
  ADT_REDIS_PORT           Redis            ADT_CTL, ADT_CONF   rolodexctl and its config
  ADT_TMP                  the temporary directory (process logs proc-NAME.log)
  ADT_CONTROL              FIFO prefix: "start NAME [FAILPOINT]", "kill NAME", "alive NAME"
  ADT_COUNTS               file that receives "PASSED FAILED"
  ADT_FULL=1               the full matrix (more parties, longer faults)

What happens, in order:
  1. Faults on in both sandboxes: 20% of calls 5xx before anything is applied, 5% applied
     and then 5xx, rate-limit bursts (Salesforce 403 REQUEST_LIMIT_EXCEEDED, Dataverse 429
     with Retry-After), tokens expiring every 30 s (set at start), and a validation rule
     rejecting last names that start with "Reject".
  2. The workload through the API, from several threads: organisations, persons (a few
     rejected), employee-of relationships (some persons with two employers), rapid updates
     (versions racing between two instances), ended and deleted relationships, deleted
     persons, an erased person, deleted organisations that still had employees.  A sampler
     watches both sandboxes for a record going back to an older state.  Meanwhile sf-a dies
     by its failpoint (SIGKILL between write and ack) and is restarted under the same
     consumer name; dv-a dies the same way and stays dead.  Synthetic entries go on the
     stream: a malformed one, a duplicate and an older version of a party.
  3. Faults off (the tokens keep expiring): the rejected records and the malformed entry
     must reach both dead-letter streams with their reasons; dv-a's entries must have been
     claimed by dv-b.  The rule is lifted, the malformed letter dropped, the others replayed
     with rolodexctl; dv-a is started again (two instances of each adapter).
  4. Convergence: every party of the API equals its record in each sandbox, field by field
     through the mapping (Contact.AccountId / parentcustomerid_account from the current
     employee-of relationships), nothing else is there, each party carries its salesforce
     and d365 identifiers, the groups have no lag, nothing pending, no dead letters.

Output: one line per failed check with what differed, then "N passed, M failed".
Python 3 standard library only.
"""

import datetime
import http.client
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor

ENV = os.environ
BASE = ENV.get("ADT_BASE", "http://127.0.0.1:8080")
TOKEN = ENV.get("ADT_TOKEN", "")
SF = ENV.get("ADT_SF", "")
DV = ENV.get("ADT_DV", "")
RPORT = ENV.get("ADT_REDIS_PORT", "6379")
CTL = ENV.get("ADT_CTL", "rolodexctl")
CONF = ENV.get("ADT_CONF", "")
TMP = ENV.get("ADT_TMP", "/tmp")
CONTROL = ENV.get("ADT_CONTROL")
FULL = ENV.get("ADT_FULL") == "1"
PARTITIONS = int(ENV.get("ADT_PARTITIONS", "1"))
STREAMS = ["rolodex:events"] if PARTITIONS <= 1 else \
    ["rolodex:events:%d" % k for k in range(PARTITIONS)]

N_ORGS = 30 if FULL else 12
N_PERSONS = 240 if FULL else 80
N_REJECTED = 6 if FULL else 3
UPDATES = 4 if FULL else 3
WORKERS = 6
CONVERGE_S = 240 if FULL else 120

RESULTS = {"pass": 0, "fail": 0}
TAG = "Ad" + uuid.uuid4().hex[:6]


def log(msg):
    sys.stdout.write("[adapters] %s\n" % msg)
    sys.stdout.flush()


def check(name, ok, detail=""):
    if ok:
        RESULTS["pass"] += 1
        log("ok   %s" % name)
    else:
        RESULTS["fail"] += 1
        log("FAIL %s: %s" % (name, detail))


# ------------------------------------------------------------------------------------------
# HTTP, Redis, rolodexctl, the control FIFO

def call(base, method, path, body=None, headers=None, timeout=20):
    u = urllib.parse.urlsplit(base)
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    for attempt in range(5):
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=hdrs)
            r = c.getresponse()
            raw = r.read()
            status = r.status
        except (OSError, http.client.HTTPException):
            time.sleep(0.2 * (attempt + 1))
            continue
        finally:
            c.close()
        if status == 503 and attempt < 4:
            time.sleep(0.3 * (attempt + 1))
            continue
        try:
            return status, json.loads(raw) if raw else None
        except ValueError:
            return status, raw
    raise RuntimeError("%s %s: no answer" % (method, path))


def api(method, path, body=None, want=(200, 201, 204)):
    st, js = call(BASE, method, path, body, {"Authorization": "Bearer " + TOKEN,
                                             "Accept": "application/json"})
    if st not in want:
        raise RuntimeError("%s %s -> %d %s" % (method, path, st, js))
    return st, js


def sbx(base, method, sub, body=None):
    st, js = call(base, method, "/__sandbox/" + sub, body)
    if st != 200:
        raise RuntimeError("sandbox %s %s -> %d %s" % (method, sub, st, js))
    return js


def redis(*args):
    out = subprocess.run(["redis-cli", "-p", RPORT, "--raw"] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=20)
    return out.stdout


def ctl(*args):
    p = subprocess.run([CTL, "-f", CONF] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout + p.stderr


_ctl_lock = threading.Lock()


def control(line):
    """Ask run-adapters.sh to do something with a process; True on success."""
    if not CONTROL:
        raise RuntimeError("no control FIFO")
    with _ctl_lock:
        with open(CONTROL + ".in", "w") as f:
            f.write(line + "\n")
        with open(CONTROL + ".out") as f:
            reply = f.readline().split()
    return len(reply) == 2 and reply[1] == "0"


def proc_log(name):
    try:
        with open(os.path.join(TMP, "proc-%s.log" % name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def wait_for(pred, seconds, step=0.5):
    end = time.time() + seconds
    while True:
        v = pred()
        if v:
            return v
        if time.time() >= end:
            return v
        time.sleep(step)


# ------------------------------------------------------------------------------------------
# The mapping, as configured by run-adapters.sh (the defaults plus Description=updated_at)

SF_CONTACT = [("FirstName", "first_name"), ("LastName", "last_name"), ("Email", "email"),
              ("Phone", "phone_primary"), ("MobilePhone", "phone_secondary"),
              ("Birthdate", "date_of_birth"), ("Salutation", "title"),
              ("MailingStreet", "address.street"), ("MailingCity", "address.city"),
              ("MailingState", "address.region"),
              ("MailingPostalCode", "address.postal_code"),
              ("MailingCountry", "address.country"), ("Description", "updated_at")]
SF_ACCOUNT = [("Name", "organisation_name"), ("Website", "website"),
              ("Phone", "phone_primary"), ("BillingStreet", "address.street"),
              ("BillingCity", "address.city"), ("BillingState", "address.region"),
              ("BillingPostalCode", "address.postal_code"),
              ("BillingCountry", "address.country")]
DV_ADDR = [("address1_line1", "address.address_line_1"),
           ("address1_line2", "address.address_line_2"),
           ("address1_line3", "address.address_line_3"),
           ("address1_city", "address.city"),
           ("address1_stateorprovince", "address.region"),
           ("address1_postalcode", "address.postal_code"),
           ("address1_country", "address.country")]
DV_CONTACT = [("firstname", "first_name"), ("lastname", "last_name"),
              ("emailaddress1", "email"), ("telephone1", "phone_primary"),
              ("telephone2", "phone_secondary"), ("birthdate", "date_of_birth")] + \
    DV_ADDR + [("description", "updated_at")]
DV_ACCOUNT = [("name", "organisation_name"), ("websiteurl", "website"),
              ("telephone1", "phone_primary"), ("emailaddress1", "email")] + DV_ADDR


def primary(p):
    for a in p.get("addresses") or []:
        if a.get("is_primary") is True:
            return a
    return None


def source(p, src):
    if not src.startswith("address."):
        v = p.get(src)
        return v if isinstance(v, str) else None
    a = primary(p)
    if a is None:
        return None
    f = src[len("address."):]
    if f == "street":
        lines = [a.get("address_line_%d" % i) for i in (1, 2, 3)]
        lines = [x for x in lines if isinstance(x, str) and x != ""]
        return "\n".join(lines) if lines else None
    v = a.get(f)
    return v if isinstance(v, str) else None


def diff_record(mapping, party, rec):
    out = []
    for target, src in mapping:
        want = source(party, src)
        got = rec.get(target)
        if got == "":
            got = None
        if want != got:
            out.append("%s: want %r got %r" % (target, want, got))
    return out


# ------------------------------------------------------------------------------------------
# The workload

class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.orgs = []
        self.persons = []
        self.rejected = []
        self.rels = []            # (rid, person, org)
        self.errors = []

    def add(self, what, x):
        with self.lock:
            getattr(self, what).append(x)


def rnd_phone():
    return "+4411%08d" % random.randrange(10 ** 8)


def address(i, primary_flag=True):
    a = {"address_type": random.choice(["home", "work", "postal"]),
         "address_line_1": "%d %s Street" % (i, random.choice(["Oak", "Elm", "High"])),
         "city": random.choice(["Leeds", "York", "Bath", "Ely"]),
         "country": random.choice(["GB", "IE", "FR"]), "is_primary": primary_flag}
    if i % 2:
        a["address_line_2"] = "Flat %d" % (i % 9 + 1)
    if i % 3 == 0:
        a["address_line_3"] = "Building %s" % "ABC"[i % 3]
        a["postal_code"] = "LS%d 1AA" % (i % 9)
    if i % 4 == 0:
        a["region"] = "West Yorkshire"
    return a


def make_org(w, i):
    body = {"organisation_name": "%s Org %d" % (TAG, i),
            "website": "https://org%d.example.com" % i, "phone_primary": rnd_phone(),
            "email": "office%d@org.example.com" % i, "addresses": [address(i)]}
    _, js = api("POST", "/organisations", body)
    w.add("orgs", js["party_id"])


def make_person(w, i, rejected=False):
    body = {"first_name": "First%d" % i,
            "last_name": ("Reject-%s-%d" if rejected else "%s-Last%d") % (TAG, i),
            "title": random.choice(["Dr", "Ms", "Mr", None]),
            "email": "p%d.%s@example.com" % (i, TAG.lower()),
            "phone_primary": rnd_phone(),
            "date_of_birth": "19%02d-0%d-1%d" % (50 + i % 40, 1 + i % 9, i % 10)}
    if i % 5:
        body["addresses"] = [address(i, i % 7 != 0)]
    if i % 3 == 0:
        body["phone_secondary"] = rnd_phone()
    _, js = api("POST", "/persons", body)
    w.add("rejected" if rejected else "persons", js["party_id"])


def relate(w, person, org, start):
    _, js = api("POST", "/relationships", {"relationship_type": "employee-of",
                                           "from_party_id": person, "to_party_id": org,
                                           "start_date": start})
    w.add("rels", (js["relationship_id"], person, org))


def update_person(pid, n):
    patch = {"email": "u%d.%s@example.com" % (n, pid[-6:]), "phone_primary": rnd_phone()}
    if n % 2:
        patch["addresses"] = [address(n + 3)]
    if n == 2:
        patch["title"] = None
    api("PATCH", "/persons/%s" % pid, patch, want=(200,))


def run_pool(fn, items):
    errs = []
    with ThreadPoolExecutor(WORKERS) as ex:
        for f in [ex.submit(fn, *it) for it in items]:
            try:
                f.result()
            except Exception as e:     # noqa: BLE001 - reported, counted
                errs.append(str(e))
    return errs


def workload(w):
    errs = []
    errs += run_pool(lambda i: make_org(w, i), [(i,) for i in range(N_ORGS)])
    errs += run_pool(lambda i: make_person(w, i), [(i,) for i in range(N_PERSONS)])
    errs += run_pool(lambda i: make_person(w, 1000 + i, True),
                     [(i,) for i in range(N_REJECTED)])
    persons, orgs = list(w.persons), list(w.orgs)
    # employee-of: two thirds of the persons; every fifth has two employers
    items = []
    for i, p in enumerate(persons):
        if i % 3 == 2:
            continue
        items.append((w, p, orgs[i % len(orgs)], "2019-0%d-01" % (1 + i % 9)))
        if i % 5 == 0:
            items.append((w, p, orgs[(i + 1) % len(orgs)], "2021-0%d-15" % (1 + i % 9)))
    errs += run_pool(relate, items)
    # rapid updates: each person several versions, spread over the workers
    items = [(p, n) for n in range(UPDATES) for p in persons]
    random.shuffle(items)
    errs += run_pool(update_person, items)
    rels = list(w.rels)
    # end some relationships, delete others
    errs += run_pool(lambda rid: api("PATCH", "/relationships/%s" % rid,
                                     {"end_date": "2024-06-30"}, want=(200,)),
                     [(r[0],) for r in rels[0::7]])
    errs += run_pool(lambda rid: api("DELETE", "/relationships/%s" % rid, want=(204,)),
                     [(r[0],) for r in rels[3::11]])
    # delete persons, erase one, delete organisations that still have employees
    errs += run_pool(lambda p: api("DELETE", "/persons/%s" % p, want=(204,)),
                     [(p,) for p in persons[5::13]])
    erased = persons[6]
    errs += run_pool(lambda p: api("DELETE", "/persons/%s?erase=true" % p, want=(204,)),
                     [(erased,)])
    errs += run_pool(lambda o: api("DELETE", "/organisations/%s" % o, want=(204,)),
                     [(o,) for o in orgs[1::5]])
    return errs


# ------------------------------------------------------------------------------------------
# Monotonicity sampler: a record's Description (the party's updated_at) never goes back

class Sampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.seen = {}
        self.violations = []
        self.samples = 0

    def look(self, name, recs, key, field):
        for r in recs or []:
            k = (name, (r.get(key) or "").lower())
            v = r.get(field)
            if not isinstance(v, str):
                continue
            old = self.seen.get(k)
            if old is not None and v < old:
                self.violations.append("%s %s: %s after %s" % (name, k[1], v, old))
            if old is None or v > old:
                self.seen[k] = v

    def run(self):
        while not self.stop.wait(0.3):
            try:
                self.look("salesforce", sbx(SF, "GET", "records/Contact"),
                          "Rolodex_Id__c", "Description")
                self.look("d365", sbx(DV, "GET", "records/contacts"),
                          "new_rolodexid", "description")
                self.samples += 1
            except Exception:           # noqa: BLE001 - a missed sample is harmless
                pass


# ------------------------------------------------------------------------------------------
# Synthetic stream entries

def stream_entries(subject=None, count=100000):
    """Entries of the event stream(s) as [(stream, entry id, {field: value})]."""
    res = []
    for st in STREAMS:
        out = subprocess.run(["redis-cli", "-p", RPORT, "--json", "XRANGE", st, "-", "+",
                              "COUNT", str(count)], capture_output=True, text=True,
                             timeout=30).stdout
        for eid, kv in json.loads(out or "[]"):
            f = dict(zip(kv[0::2], kv[1::2]))
            if subject is None or f.get("subject") == subject:
                res.append((st, eid, f))
    return res


def xadd(stream, fields):
    args = ["XADD", stream, "*"]
    for k, v in fields.items():
        args += [k, v]
    return redis(*args).strip()


def pending_of(group, consumer):
    n = 0
    for st in STREAMS:
        out = redis("XPENDING", st, group, "-", "+", "1000", consumer).strip()
        n += len([l for l in out.splitlines() if l.strip()]) // 4
    return n


# ------------------------------------------------------------------------------------------
# The API's current state and the comparison

def api_state():
    parties, cursor = [], None
    while True:
        q = "/parties?limit=200" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        _, js = api("GET", q)
        parties += [x["party_id"] for x in js["items"]]
        cursor = js.get("next_cursor")
        if not cursor:
            break
    full = {}
    for pid in parties:
        _, js = api("GET", "/parties/%s" % pid)
        full[pid] = js
    rels = {}
    for pid, p in full.items():
        if p["party_type"] != "person":
            continue
        _, js = api("GET", "/parties/%s/relationships?limit=200" % pid)
        rels[pid] = [r for r in js["items"] if r["from_party_id"] == pid]
    return full, rels


def expected_org(person, rels, parties, today):
    best = None
    for r in rels.get(person, []):
        if r["relationship_type"] != "employee-of" or r["to_party_id"] not in parties:
            continue
        if r.get("end_date") and r["end_date"] < today:
            continue
        key = (r.get("start_date") or "", r["relationship_id"])
        if best is None or key > best[0]:
            best = (key, r["to_party_id"])
    return best[1] if best else None


def compare(parties, rels, sf, dv):
    """Differences between the API and the two sandboxes, as text lines."""
    today = datetime.datetime.utcnow().strftime("%Y-%m-%d")
    diffs = []
    sfc = {(r.get("Rolodex_Id__c") or "").lower(): r for r in sf["Contact"]}
    sfa = {(r.get("Rolodex_Id__c") or "").lower(): r for r in sf["Account"]}
    dvc = {(r.get("new_rolodexid") or "").lower(): r for r in dv["contacts"]}
    dva = {(r.get("new_rolodexid") or "").lower(): r for r in dv["accounts"]}
    for pid, p in parties.items():
        person = p["party_type"] == "person"
        ids = {e["system_name"]: e["identifier"] for e in p.get("external_identifiers", [])}
        for system, recs, mapping, idcol, link in (
                ("salesforce", sfc if person else sfa, SF_CONTACT if person else SF_ACCOUNT,
                 "Id", lambda r: (r.get("Account") or {}).get("Rolodex_Id__c")),
                ("d365", dvc if person else dva, DV_CONTACT if person else DV_ACCOUNT,
                 "contactid" if person else "accountid",
                 lambda r: (r.get("parentcustomerid_account") or {}).get("new_rolodexid"))):
            rec = recs.get(pid)
            if rec is None:
                diffs.append("%s: %s %s missing" % (system, p["party_type"], pid))
                continue
            for d in diff_record(mapping, p, rec):
                diffs.append("%s: %s %s" % (system, pid, d))
            if person:
                want = expected_org(pid, rels, parties, today)
                got = link(rec)
                if (got or "").lower() != (want or ""):
                    diffs.append("%s: %s organisation want %s got %s"
                                 % (system, pid, want, got))
            if ids.get(system) != rec.get(idcol):
                diffs.append("%s: %s identifier on the party %r, record id %r"
                             % (system, pid, ids.get(system), rec.get(idcol)))
    for system, recs in (("salesforce", list(sfc) + list(sfa)),
                         ("d365", list(dvc) + list(dva))):
        for k in recs:
            if k not in parties:
                diffs.append("%s: record %s has no party in the API" % (system, k))
    return diffs


def group_status():
    rc, out = ctl("adapter", "status")
    st = {}
    for line in out.splitlines():
        m = re.match(r"^stream: \S+ lag=(\S+) pending=(\S+)", line)
        if m and "adapter" in st:
            st[st["adapter"]] = (m.group(1), m.group(2))
        m = re.match(r"^adapter: (\S+)", line)
        if m:
            st["adapter"] = m.group(1)
        m = re.match(r"^dead_letters: (\S+)", line)
        if m:
            st[st["adapter"] + "_dlq"] = m.group(1)
    return rc, st, out


# ------------------------------------------------------------------------------------------

def faults_on():
    sf_rule = [{"object": "Contact", "field": "LastName", "prefix": "Reject"}]
    dv_rule = [{"object": "contact", "field": "lastname", "prefix": "Reject"}]
    period, window = (15, 3) if FULL else (8, 1.5)
    for base, rule in ((SF, sf_rule), (DV, dv_rule)):
        cfg = {"fail_rate": 0.2, "fail_after_rate": 0.05, "limit_period_s": period,
               "limit_window_s": window, "retry_after_s": 1, "reject": rule,
               "fault_routes": None}
        if FULL:
            # applied, then no answer within the adapters' 5 s timeout
            cfg.update({"hang_rate": 0.02, "hang_ms": 6000})
        sbx(base, "POST", "config", cfg)


def faults_off():
    for base in (SF, DV):
        sbx(base, "POST", "config", {"fail_rate": 0.0, "fail_after_rate": 0.0,
                                     "limit_period_s": 0, "limit_window_s": 0,
                                     "hang_rate": 0.0})


def chaos(stop):
    """Full matrix: SIGKILL sf-b and dv-b now and then (restarted under the same
    name), and kill Redis once (restarted from its AOF)."""
    done_redis = False
    while not stop.wait(random.uniform(3, 6)):
        victim = random.choice(["sf-b", "dv-b"])
        control("kill " + victim)
        time.sleep(random.uniform(0.5, 2))
        control("start " + victim)
        if not done_redis:
            control("redis-kill")
            time.sleep(2)
            control("redis-start")
            done_redis = True


def written(system_stats):
    r = system_stats["records"]
    return r.get("created", 0) + r.get("updated", 0) + r.get("deleted", 0)


def restart_sf_a():
    """sf-a dies by its failpoint; start it again under the same consumer name."""
    if not wait_for(lambda: not control("alive sf-a"), 90, 0.5):
        return "sf-a did not die by its failpoint"
    time.sleep(0.5)
    if not control("start sf-a"):
        return "cannot restart sf-a"
    return None


def main():
    random.seed(1234)
    w = World()
    sampler = Sampler()
    t0 = time.time()

    faults_on()
    sampler.start()
    log("workload: %d organisations, %d persons (%d rejected), %d updates each"
        % (N_ORGS, N_PERSONS, N_REJECTED, UPDATES))
    restarter = ThreadPoolExecutor(2)
    sf_restart = restarter.submit(restart_sf_a)
    stop_chaos = threading.Event()
    if FULL:
        restarter.submit(chaos, stop_chaos)
    errs = workload(w)
    if FULL:
        # a second wave under the same faults and kills: more versions of
        # everyone, more relationships ended, more persons deleted
        live = [p for i, p in enumerate(w.persons) if i % 13 != 5 and i != 6]
        items = [(p, 10 + n) for n in range(UPDATES) for p in live]
        random.shuffle(items)
        errs += run_pool(update_person, items)
        errs += run_pool(lambda rid: api("PATCH", "/relationships/%s" % rid,
                                         {"end_date": "2025-01-31"}, want=(200, 404)),
                         [(r[0],) for r in w.rels[1::9]])
        errs += run_pool(lambda p: api("DELETE", "/persons/%s" % p, want=(204,)),
                         [(p,) for p in live[2::17]])
    check("workload through the API", not errs, "; ".join(errs[:5]))
    log("workload done in %.1f s" % (time.time() - t0))

    # Synthetic entries: malformed; a duplicate and an older version of a party.
    bad = xadd(STREAMS[0], {"id": "not-a-uuid", "type": "PersonCreated",
                            "specversion": "1.0", "subject": "nobody"})
    victim = w.persons[1]
    evs = wait_for(lambda: len(stream_entries(victim)) >= 3 and stream_entries(victim), 30)
    if evs:
        xadd(evs[0][0], evs[0][2])      # version 1 again, same event id
        xadd(evs[-1][0], evs[-1][2])    # the newest again
    check("synthetic duplicate and stale entries published", bool(evs),
          "no 3 versions of %s on the stream" % victim)

    # Let the faults run a while longer (tokens expire, bursts come and go);
    # expire every token now too, so both adapters meet a 401 mid-run.
    time.sleep(4)
    for base in (SF, DV):
        sbx(base, "POST", "expire-tokens")
    time.sleep(16 if FULL else 4)
    stop_chaos.set()
    faults_off()
    log("faults off after %.1f s" % (time.time() - t0))

    err = sf_restart.result(timeout=120)
    restarter.shutdown()
    check("sf-a killed mid-batch by its failpoint and restarted", err is None, err or "")
    check("dv-a killed mid-batch by its failpoint",
          wait_for(lambda: not control("alive dv-a"), 60), "dv-a still alive")

    # Dead letters: the rejected persons and the malformed entry, with reasons.
    want_dlq = N_REJECTED + 1
    for adapter, marker in (("salesforce", "FIELD_CUSTOM_VALIDATION_EXCEPTION"),
                            ("d365", "0x80040265")):
        n = wait_for(lambda: int(redis("XLEN", "rolodex:dlq:" + adapter).strip() or 0)
                     >= want_dlq, 90)
        rc, out = ctl("dlq", "list", adapter)
        missing = [p for p in w.rejected if p not in out]
        check("%s: rejected records dead-lettered with their reason" % adapter,
              n and rc == 0 and not missing and out.count(marker) >= N_REJECTED,
              "dlq list:\n%s\nmissing: %s" % (out, missing))
        check("%s: malformed entry dead-lettered at once" % adapter,
              re.search(r"deliveries=1 .*entry=%s" % re.escape(bad), out) and
              "not a UUID" in out, out)
        ids = [l.split()[0] for l in out.splitlines() if "event=not-a-uuid" in l]
        rc2, out2 = ctl("dlq", "drop", adapter, *ids) if ids else (1, "no id")
        check("%s: malformed dead letter dropped" % adapter, rc2 == 0 and ids, out2)

    # dv-b must have taken over dv-a's pending entries.
    pend = wait_for(lambda: pending_of("rolodex-adapter-d365", "dv-a") == 0, 60)
    check("dv-a's pending entries claimed by dv-b",
          pend and "claimed" in proc_log("dv-b"),
          "dv-a still holds %d entries" % pending_of("rolodex-adapter-d365", "dv-a"))
    check("sf-a re-read its own pending entries after the restart",
          "failpoint after_write" in proc_log("sf-a") and
          ("re-read" in proc_log("sf-a") or "claimed" in proc_log("sf-b")),
          proc_log("sf-a")[-600:])

    # Fix the rule, replay, and run two instances of each adapter again.  The
    # tokens are expired right before, so the replay meets a 401 (Dataverse
    # tokens are otherwise renewed before they expire).
    for base in (SF, DV):
        sbx(base, "POST", "config", {"reject": []})
        sbx(base, "POST", "expire-tokens")
    for adapter in ("salesforce", "d365"):
        rc, out = ctl("dlq", "replay", adapter, "--all")
        check("%s: dead letters replayed" % adapter,
              rc == 0 and ("%d dead letters replayed" % N_REJECTED) in out, out)
    check("dv-a started again", control("start dv-a"))

    # Convergence.
    log("waiting for convergence")
    last = ["not compared yet"]

    def converged():
        try:
            parties, rels = api_state()
            d = compare(parties, rels, sbx(SF, "GET", "records"), sbx(DV, "GET", "records"))
        except Exception as e:          # noqa: BLE001
            d = ["compare failed: %s" % e]
        last[0] = d
        return not d and (parties, rels)

    res = wait_for(converged, CONVERGE_S, 2.0)
    sampler.stop.set()
    sampler.join(5)
    diffs = last[0]
    check("every party equals its Salesforce and Dataverse records, with identifiers",
          bool(res), "%d differences, first ones:\n  %s"
          % (len(diffs), "\n  ".join(diffs[:25])))
    if res:
        parties, _ = res
        log("converged after %.1f s: %d parties" % (time.time() - t0, len(parties)))
        check("deleted and erased persons are gone from the API",
              w.persons[6] not in parties and w.persons[5] not in parties)
    check("no record ever went back to an older state (%d samples)" % sampler.samples,
          not sampler.violations and sampler.samples > 5,
          "; ".join(sampler.violations[:10]))

    # NOGROUP: the Salesforce group vanishes (as after a Redis flush); the
    # instances recreate it at 0 and read the whole stream again, and the
    # guard must keep every one of those events from the sandbox.  sf-b is
    # stopped with SIGTERM in the middle: it finishes its batch and acks it.
    before = written(sbx(SF, "GET", "stats"))
    created = proc_log("sf-a").count("created consumer group") + \
        proc_log("sf-b").count("created consumer group")
    for st in STREAMS:
        redis("XGROUP", "DESTROY", st, "rolodex-adapter-salesforce")
    time.sleep(0.3)
    t_term = time.time()
    control("term sf-b")
    check("sf-b stopped cleanly on SIGTERM within the bound",
          not control("alive sf-b") and "stopped cleanly" in proc_log("sf-b")[-400:] and
          time.time() - t_term < 15 and
          pending_of("rolodex-adapter-salesforce", "sf-b") == 0,
          "alive=%s pending=%d log: %s" % (control("alive sf-b"),
                                          pending_of("rolodex-adapter-salesforce", "sf-b"),
                                          proc_log("sf-b")[-300:]))
    control("start sf-b")
    again = wait_for(lambda: (lambda r: r[0] == 0 and r[1].get("salesforce") == ("0", "0"))(
        group_status()), 60, 1.0)
    after = written(sbx(SF, "GET", "stats"))
    check("group recreated after NOGROUP; the re-read stream wrote nothing twice",
          again and after == before and
          proc_log("sf-a").count("created consumer group") +
          proc_log("sf-b").count("created consumer group") > created,
          "lag/pending back to 0: %s; sandbox writes %d -> %d" % (bool(again), before, after))

    # The re-read met the malformed entry again: dead-lettered again, once.
    n = wait_for(lambda: redis("XLEN", "rolodex:dlq:salesforce").strip() == "1", 30)
    rc, out = ctl("dlq", "list", "salesforce")
    ids = [l.split()[0] for l in out.splitlines() if "event=not-a-uuid" in l]
    check("after the re-read only the malformed entry is a dead letter again",
          n and len(ids) == 1 and ctl("dlq", "drop", "salesforce", ids[0])[0] == 0, out)

    rc, st, out = group_status()
    ok = rc == 0 and all(st.get(a) == ("0", "0") and st.get(a + "_dlq") == "0"
                         for a in ("salesforce", "d365"))
    check("rolodexctl adapter status: no lag, nothing pending, no dead letters", ok, out)
    instances = re.findall(r"^instance: (\S+) .*?applied=(\d+) skipped=(\d+)", out, re.M)
    names = {n for n, a, s in instances}
    check("two instances of each adapter running and reporting",
          {"sf-a", "sf-b", "dv-a", "dv-b"} <= names, out)
    check("sf-a (JWT bearer flow) fetched tokens and wrote",
          "token:" not in proc_log("sf-a") and
          any(n == "sf-a" and int(a) + int(k) > 0 for n, a, k in instances),
          proc_log("sf-a")[-400:])
    skipped = sum(int(s) for _, _, s in instances)
    check("duplicates and older events dropped by the guard", skipped > 0,
          "no instance skipped anything: %s" % instances)

    stats = {"salesforce": sbx(SF, "GET", "stats"), "d365": sbx(DV, "GET", "stats")}
    for system, s in stats.items():
        f = s["faults"]
        check("%s: faults were injected (5xx, limits, expired tokens)" % system,
              f.get("fail", 0) > 0 and f.get("limit", 0) > 0 and
              f.get("expired_token", 0) > 0 and s["tokens_issued"] >= 2,
              json.dumps(f) + " tokens_issued=%s" % s["tokens_issued"])
    log("sandbox faults: %s" % {k: v["faults"] for k, v in stats.items()})


if __name__ == "__main__":
    try:
        main()
    except Exception:                   # noqa: BLE001 - a crash is a failure, not a hang
        RESULTS["fail"] += 1
        traceback.print_exc()
    if ENV.get("ADT_COUNTS"):
        with open(ENV["ADT_COUNTS"], "w") as f:
            f.write("%d %d\n" % (RESULTS["pass"], RESULTS["fail"]))
    print("%d passed, %d failed" % (RESULTS["pass"], RESULTS["fail"]))
    sys.exit(1 if RESULTS["fail"] else 0)
