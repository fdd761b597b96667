# tests/sandbox/sandbox_base.py - what the SaaS sandboxes share.
#
# The Salesforce and Dataverse sandboxes (salesforce.py, dataverse.py) are
# small HTTP servers that stand in for the vendors' APIs in tests, benchmarks
# and `./dev.sh up`.  This module holds what is not vendor specific:
#
#   - Request / Response: a parsed HTTP exchange.  Vendor code is written as
#     functions from Request to Response, so a Dataverse $batch can run its
#     inner requests through the same code as top-level ones.
#   - Faults: the injectable misbehaviour (added latency, 5xx before or after
#     the change is applied, hangs, rate-limit bursts) and its configuration.
#   - Stats: calls per route and status, tokens issued, records changed.
#   - Tokens: issued access tokens with an expiry; revocable in one go.
#   - Sandbox: the application object (one per process) with the control
#     plane under /__sandbox/ and the store lock.
#   - serve(): argument parsing shared by both CLIs, the threading HTTP server
#     and SIGTERM handling.
#
# Invariants:
#   - Every change to the record store happens with Sandbox.lock held; a
#     vendor handler that changes several records (a collection, a change set)
#     holds it for the whole call, so readers never see half a call.
#   - Faults are decided before the lock is taken and latency is slept outside
#     it: added latency delays each call, not each record, and does not
#     serialise concurrent callers.
#   - The control plane (/__sandbox/...) never sees faults, needs no token and
#     is not counted in the per-route statistics.
#   - The signal handler only sets a flag; the main thread stops the server,
#     saves the state file if one was given and exits 0.
#
# Python 3 standard library only.

import argparse
import base64
import hashlib
import hmac
import json
import os
import random
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024 * 1024
CONTROL_PREFIX = "/__sandbox/"


class Request:
    """One HTTP request: method, decoded path, query dict, headers, body."""

    def __init__(self, method, target, headers, body):
        self.method = method.upper()
        self.target = target
        parts = urllib.parse.urlsplit(target)
        self.raw_path = parts.path
        self.path = urllib.parse.unquote(parts.path)
        self.raw_query = parts.query
        self.query = {}
        for k, v in urllib.parse.parse_qsl(parts.query,
                                           keep_blank_values=True):
            self.query.setdefault(k, v)
        # header names are case-insensitive: keep them lower-cased
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.inner = False      # True for a request inside a $batch
        self.refs = {}          # change set Content-ID -> entity path

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


class Response:
    """One HTTP response: status, header list, body bytes."""

    def __init__(self, status, body=b"", headers=None, ctype=None):
        self.status = int(status)
        self.headers = list(headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if ctype is not None:
            self.headers.append(("Content-Type", ctype))

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def json_response(status, obj, headers=None,
                  ctype="application/json;charset=UTF-8"):
    body = json.dumps(obj, separators=(",", ":")).encode("utf-8")
    return Response(status, body, headers, ctype)


def reason(status):
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def utcnow_iso(millis=False):
    t = time.time()
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
    if millis:
        return "%s.%03dZ" % (s, int(t * 1000) % 1000)
    return s + "Z"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    if isinstance(text, str):
        text = text.encode("ascii")
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


class Faults:
    """Injected misbehaviour.  Configuration is a flat dict (see DEFAULTS);
    decide() is called once per vendor API call, before any work."""

    DEFAULTS = {
        "latency_ms": 0,            # added to every vendor API call
        "latency_jitter_ms": 0,     # plus uniform 0..jitter
        "fail_rate": 0.0,           # probability: 5xx, nothing applied
        "fail_after_rate": 0.0,     # probability: applied, then 5xx
        "fail_statuses": [500, 503],
        "hang_rate": 0.0,           # probability: applied, then sleep
        "hang_ms": 0,
        "limit_next": 0,            # the next N calls hit the rate limit
        "limit_period_s": 0,        # every period, the first window
        "limit_window_s": 0,        # seconds are rate limited
        "retry_after_s": 2,         # Retry-After of a 429 (Dataverse)
        "limit_code": "0x80072322",  # which Dataverse limit is reported
        "token_lifetime_s": None,   # None: the vendor's default
        "reject": [],               # [{"object","field","prefix","message"}]
        "fault_routes": None,       # None: all API routes; or a list
    }

    def __init__(self, initial):
        self.lock = threading.Lock()
        self.initial = dict(self.DEFAULTS)
        self.initial.update(initial)
        self.cfg = json.loads(json.dumps(self.initial))
        self.started = time.monotonic()
        self.rng = random.Random()

    def seed(self, n):
        self.rng.seed(n)

    def reset(self):
        with self.lock:
            self.cfg = json.loads(json.dumps(self.initial))
            self.started = time.monotonic()

    def update(self, changes):
        """Merge a dict of changes; returns an error string or None."""
        for k, v in changes.items():
            if k not in self.DEFAULTS:
                return "unknown setting '%s'" % k
            err = self.bad_value(k, v)
            if err:
                return "%s: %s" % (k, err)
        with self.lock:
            if "limit_period_s" in changes:
                self.started = time.monotonic()
            self.cfg.update(changes)
        return None

    @staticmethod
    def bad_value(key, v):
        """Why v cannot be the value of setting key, or None."""
        num = isinstance(v, (int, float)) and not isinstance(v, bool)
        if key in ("token_lifetime_s",):
            return None if v is None or (num and v >= 0) else \
                "want a number >= 0 or null"
        if key == "fault_routes":
            return None if v is None or (isinstance(v, list) and all(
                isinstance(x, str) for x in v)) else \
                "want a list of route names or null"
        if key == "limit_code":
            return None if isinstance(v, str) else "want a string"
        if key == "fail_statuses":
            return None if isinstance(v, list) and v and all(
                isinstance(x, int) and 500 <= x <= 599 for x in v) else \
                "want a list of 5xx statuses"
        if key == "reject":
            ok = isinstance(v, list) and all(
                isinstance(r, dict) and all(isinstance(r.get(f), str) and
                                            r.get(f) for f in
                                            ("object", "field", "prefix"))
                for r in v)
            return None if ok else \
                "want [{\"object\",\"field\",\"prefix\"[,\"message\"]}]"
        if not num or v < 0:
            return "want a number >= 0"
        if key.endswith("_rate") and v > 1:
            return "want a probability 0..1"
        return None

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.cfg))

    def get(self, key):
        with self.lock:
            return self.cfg[key]

    def decide(self, route):
        """Returns (delay_seconds, action) where action is None, "limit",
        ("fail", status), ("fail_after", status) or ("hang", seconds)."""
        with self.lock:
            c = self.cfg
            delay = c["latency_ms"] / 1000.0
            if c["latency_jitter_ms"]:
                delay += self.rng.uniform(0, c["latency_jitter_ms"]) / 1000.0
            routes = c["fault_routes"]
            if routes is not None and route not in routes:
                return delay, None
            if c["limit_next"] > 0:
                c["limit_next"] -= 1
                return delay, "limit"
            if c["limit_period_s"] > 0 and c["limit_window_s"] > 0:
                t = (time.monotonic() - self.started) % c["limit_period_s"]
                if t < c["limit_window_s"]:
                    return delay, "limit"
            r = self.rng.random()
            statuses = c["fail_statuses"] or [500]
            if r < c["fail_rate"]:
                return delay, ("fail", self.rng.choice(statuses))
            r -= c["fail_rate"]
            if r < c["fail_after_rate"]:
                return delay, ("fail_after", self.rng.choice(statuses))
            r -= c["fail_after_rate"]
            if r < c["hang_rate"]:
                return delay, ("hang", c["hang_ms"] / 1000.0)
            return delay, None

    def rejection(self, obj, record, getter=None):
        """The message of the first rule that rejects record (a dict of one
        object type), or None.  getter(record, field) reads a field, for
        vendors whose field names are case-insensitive."""
        with self.lock:
            rules = list(self.cfg["reject"])
        for rule in rules:
            if rule.get("object", "").lower() != obj.lower():
                continue
            field = rule.get("field", "")
            if getter is not None:
                value = getter(record, field)
            else:
                value = record.get(field)
            if isinstance(value, str) and value.startswith(rule["prefix"]):
                return rule.get("message") or (
                    "Rejected by the sandbox validation rule: %s starts "
                    "with '%s'" % (field, rule["prefix"]))
        return None


class Stats:
    """Counters shown by GET /__sandbox/stats."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with getattr(self, "lock", threading.Lock()):
            self.calls = {}
            self.faults = {"latency": 0, "fail": 0, "fail_after": 0,
                           "hang": 0, "limit": 0, "expired_token": 0,
                           "invalid_token": 0}
            self.tokens_issued = 0
            self.token_errors = 0
            self.records = {"created": 0, "updated": 0, "deleted": 0,
                            "cascade_deleted": 0, "rejected": 0}
            self.started = time.time()

    def call(self, route, status):
        with self.lock:
            by = self.calls.setdefault(route, {})
            by[str(status)] = by.get(str(status), 0) + 1

    def fault(self, kind):
        with self.lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def record(self, kind, n=1):
        with self.lock:
            self.records[kind] = self.records.get(kind, 0) + n

    def token(self, ok):
        with self.lock:
            if ok:
                self.tokens_issued += 1
            else:
                self.token_errors += 1

    def snapshot(self):
        with self.lock:
            return {
                "uptime_s": round(time.time() - self.started, 3),
                "calls": json.loads(json.dumps(self.calls)),
                "faults": dict(self.faults),
                "tokens_issued": self.tokens_issued,
                "token_errors": self.token_errors,
                "records": dict(self.records),
            }


class Tokens:
    """Access tokens issued by a sandbox's token endpoint."""

    def __init__(self):
        self.lock = threading.Lock()
        self.tokens = {}        # token -> (expires_at epoch, info dict)

    def add(self, token, lifetime_s, info):
        with self.lock:
            now = time.time()
            # forget long-expired tokens so the table stays small
            if len(self.tokens) > 10000:
                self.tokens = {t: v for t, v in self.tokens.items()
                               if v[0] > now - 3600}
            self.tokens[token] = (now + lifetime_s, info)

    def check(self, token):
        """Returns ("ok", info), ("expired", info) or ("invalid", None)."""
        with self.lock:
            v = self.tokens.get(token)
        if v is None:
            return "invalid", None
        if time.time() >= v[0]:
            return "expired", v[1]
        return "ok", v[1]

    def expire_all(self):
        with self.lock:
            n = 0
            for t, (exp, info) in list(self.tokens.items()):
                if exp > 0:
                    self.tokens[t] = (0, info)
                    n += 1
            return n


def bearer_token(req):
    """The token of an `Authorization: Bearer x` header, or None."""
    h = req.header("authorization")
    if not h:
        return None
    parts = h.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return None
    return parts[1].strip()


def basic_credentials(req):
    """(user, password) of an `Authorization: Basic` header, or None."""
    h = req.header("authorization")
    if not h:
        return None
    parts = h.split(None, 1)
    if len(parts) != 2 or parts[0].lower() != "basic":
        return None
    try:
        raw = base64.b64decode(parts[1].strip(), validate=True)
        user, _, pw = raw.decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(pw))


def form_params(req):
    """The fields of an application/x-www-form-urlencoded body (first value
    of each), merged over the query string, as OAuth token endpoints read
    them."""
    params = dict(req.query)
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        return params
    for k, v in urllib.parse.parse_qsl(text, keep_blank_values=True):
        params[k] = v
    return params


def const_eq(a, b):
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def random_token(nbytes=32):
    return b64url(secrets.token_bytes(nbytes))


def hs256_jwt(claims, key):
    """A compact HS256 JWT (for tokens the sandbox issues; clients must treat
    access tokens as opaque anyway)."""
    header = b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing = (header + "." + payload).encode("ascii")
    sig = hmac.new(key, signing, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(sig)


class Sandbox:
    """The application: vendor routes (subclass) plus the control plane.

    Subclasses set NAME and implement:
      route_name(req) -> a short name of the vendor route, for statistics
        and fault targeting;
      handle(req) -> Response (vendor API; token checks are the subclass's);
      fault_response(action, req) -> Response for "limit" and 5xx faults;
      records_view(obj) -> list or None; objects() -> list of names;
      count(obj) -> number of records (optional, faster than the view);
      dump_state() / load_state(dict); clear_records().
    """

    NAME = "sandbox"

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        initial = {}
        if args.latency_ms:
            initial["latency_ms"] = args.latency_ms
        if args.latency_jitter_ms:
            initial["latency_jitter_ms"] = args.latency_jitter_ms
        if args.fail_rate:
            initial["fail_rate"] = args.fail_rate
        if args.fail_after_rate:
            initial["fail_after_rate"] = args.fail_after_rate
        if args.limit_period_s:
            initial["limit_period_s"] = args.limit_period_s
            initial["limit_window_s"] = args.limit_window_s
        if args.retry_after_s is not None:
            initial["retry_after_s"] = args.retry_after_s
        if args.token_lifetime is not None:
            initial["token_lifetime_s"] = args.token_lifetime
        rules = []
        for spec in args.reject or []:
            obj_field, sep, prefix = spec.partition("=")
            obj, dot, field = obj_field.partition(".")
            if not sep or not dot or not prefix:
                raise SystemExit("--reject wants OBJECT.FIELD=PREFIX, got %r"
                                 % spec)
            rules.append({"object": obj, "field": field, "prefix": prefix})
        if rules:
            initial["reject"] = rules
        self.faults = Faults(initial)
        if args.seed is not None:
            self.faults.seed(args.seed)
        self.stats = Stats()
        self.tokens = Tokens()
        self.verbose = args.verbose

    # ---- to override -----------------------------------------------------

    def route_name(self, req):
        return "other"

    def handle(self, req):
        return json_response(404, {"error": "not found"})

    def fault_response(self, action, req):
        return Response(500, b"")

    def objects(self):
        return []

    def records_view(self, obj):
        return None

    def count(self, obj):
        return len(self.records_view(obj) or [])

    def dump_state(self):
        return {}

    def load_state(self, state):
        pass

    def clear_records(self):
        pass

    # ---- dispatch ----------------------------------------------------------

    def dispatch(self, req):
        """Top-level entry: the control plane, or a vendor call with faults
        and statistics."""
        if req.path.startswith(CONTROL_PREFIX) or \
                req.path == CONTROL_PREFIX.rstrip("/"):
            return self.control(req)
        route = self.route_name(req)
        delay, action = self.faults.decide(route)
        if delay > 0:
            self.stats.fault("latency")
            time.sleep(delay)
        if action == "limit":
            self.stats.fault("limit")
            resp = self.fault_response("limit", req)
        elif isinstance(action, tuple) and action[0] == "fail":
            self.stats.fault("fail")
            resp = self.fault_response(action[1], req)
        else:
            resp = self.handle(req)
            if isinstance(action, tuple) and action[0] == "fail_after":
                # the change (if any) stays applied; the caller cannot know
                self.stats.fault("fail_after")
                resp = self.fault_response(action[1], req)
            elif isinstance(action, tuple) and action[0] == "hang":
                self.stats.fault("hang")
                time.sleep(action[1])
        self.stats.call(route, resp.status)
        return resp

    # ---- control plane -------------------------------------------------------

    def control(self, req):
        sub = req.path[len(CONTROL_PREFIX):].strip("/")
        m = req.method
        if sub == "health" and m == "GET":
            return json_response(200, {"ok": True, "sandbox": self.NAME,
                                       "pid": os.getpid()})
        if sub == "stats" and m == "GET":
            st = self.stats.snapshot()
            with self.lock:
                st["objects"] = {o: self.count(o) for o in self.objects()}
            return json_response(200, st)
        if sub == "config" and m == "GET":
            return json_response(200, self.faults.snapshot())
        if sub == "config" and m in ("POST", "PATCH", "PUT"):
            try:
                changes = json.loads(req.body or b"{}")
            except ValueError as e:
                return json_response(400, {"error": "bad JSON: %s" % e})
            if not isinstance(changes, dict):
                return json_response(400, {"error": "want a JSON object"})
            err = self.faults.update(changes)
            if err:
                return json_response(400, {"error": err})
            return json_response(200, self.faults.snapshot())
        if sub == "reset" and m == "POST":
            what = {"records": True, "stats": True, "config": True,
                    "tokens": False}
            if req.body:
                try:
                    what.update(json.loads(req.body))
                except ValueError as e:
                    return json_response(400, {"error": "bad JSON: %s" % e})
            with self.lock:
                if what.get("records"):
                    self.clear_records()
            if what.get("stats"):
                self.stats.reset()
            if what.get("config"):
                self.faults.reset()
            if what.get("tokens"):
                self.tokens.expire_all()
            return json_response(200, {"reset": what})
        if sub == "expire-tokens" and m == "POST":
            return json_response(200, {"expired": self.tokens.expire_all()})
        if sub == "save" and m == "POST":
            return json_response(200, {"saved": self.save_state()})
        if sub == "records" and m == "GET":
            with self.lock:
                return json_response(200, {o: self.records_view(o)
                                           for o in self.objects()})
        if sub.startswith("records/") and m == "GET":
            obj = sub[len("records/"):]
            with self.lock:
                view = self.records_view(obj)
            if view is None:
                return json_response(404, {"error": "no object '%s'" % obj,
                                           "objects": self.objects()})
            return json_response(200, view)
        return json_response(404, {"error": "no control route %s %s"
                                   % (m, req.path)})

    # ---- state file ----------------------------------------------------------

    def save_state(self):
        path = self.args.state
        if not path:
            return None
        with self.lock:
            data = json.dumps(self.dump_state())
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, path)
        return path

    def restore_state(self):
        path = self.args.state
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.load_state(json.load(f))

    def log(self, msg):
        sys.stderr.write("%s %s[%d] %s\n" % (utcnow_iso(True), self.NAME,
                                             os.getpid(), msg))


class Handler(BaseHTTPRequestHandler):
    """Reads one request, runs Sandbox.dispatch, writes the response.
    HTTP/1.1 with keep-alive: clients reuse connections."""

    protocol_version = "HTTP/1.1"
    server_version = "rolodex-sandbox"
    sys_version = ""
    # a socket read (request line, headers, body) waits at most this long,
    # so a stalled client cannot hold a thread forever; idle keep-alive
    # connections are closed after it
    timeout = 120

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n",
                                                             b""):
                        pass
                    break
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(n) if n else b""

    def _handle(self):
        app = self.server.app
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._write(Response(413, b"request body too large",
                                 ctype="text/plain"))
            return
        req = Request(self.command, self.path, self.headers.items(), body)
        try:
            resp = app.dispatch(req)
        except Exception as e:      # a sandbox bug: say so, keep serving
            app.log("internal error on %s %s: %r" % (req.method, req.path, e))
            resp = Response(500, "sandbox internal error: %r" % (e,),
                            ctype="text/plain")
        self._write(resp)
        if app.verbose:
            app.log("%s %s -> %d" % (req.method, req.target, resp.status))

    def _write(self, resp):
        self.send_response_only(resp.status, reason(resp.status))
        self.send_header("Date", self.date_time_string())
        for k, v in resp.headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and resp.body:
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _handle

    def log_message(self, fmt, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


def common_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True,
                   help="TCP port (0: any free port; see --port-file)")
    p.add_argument("--port-file", help="write the port listened on here")
    p.add_argument("--client-id", help="the one accepted client id")
    p.add_argument("--client-secret", help="its secret")
    p.add_argument("--latency-ms", type=int, default=0,
                   help="added to every vendor API call")
    p.add_argument("--latency-jitter-ms", type=int, default=0)
    p.add_argument("--fail-rate", type=float, default=0.0,
                   help="probability of a 500/503 before anything is applied")
    p.add_argument("--fail-after-rate", type=float, default=0.0,
                   help="probability of a 500/503 after the change applied")
    p.add_argument("--limit-period-s", type=float, default=0,
                   help="rate-limit bursts: every PERIOD seconds ...")
    p.add_argument("--limit-window-s", type=float, default=0,
                   help="... the first WINDOW seconds are rate limited")
    p.add_argument("--retry-after-s", type=int, default=None)
    p.add_argument("--token-lifetime", type=int, default=None,
                   help="seconds an issued access token is valid")
    p.add_argument("--reject", action="append", metavar="OBJ.FIELD=PREFIX",
                   help="validation rule: reject records whose FIELD starts "
                   "with PREFIX (repeatable)")
    p.add_argument("--state", help="JSON file: records loaded at start and "
                   "saved at shutdown")
    p.add_argument("--seed", type=int, help="random seed of the faults")
    p.add_argument("--verbose", action="store_true",
                   help="log every request on stderr")
    return p


def serve(app_class, parser):
    """Parse arguments, build the app, serve until SIGTERM/SIGINT."""
    args = parser.parse_args()
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    srv = Server((args.host, args.port), Handler)
    args.port = srv.server_address[1]
    app = app_class(args)
    app.restore_state()
    srv.app = app
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % args.port)
        os.replace(tmp, args.port_file)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval":
                                                           0.2}, daemon=True)
    t.start()
    app.log("listening on http://%s:%d" % (args.host, args.port))
    while not stop.wait(0.5):
        pass
    srv.shutdown()
    srv.server_close()
    saved = app.save_state()
    app.log("stopped%s" % (" (state saved to %s)" % saved if saved else ""))
    return 0
