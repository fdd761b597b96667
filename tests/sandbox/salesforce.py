#!/usr/bin/env python3
# tests/sandbox/salesforce.py - a Salesforce stand-in for tests and dev.
#
# Serves, on one port, the parts of the Salesforce platform the Rolodex
# adapter uses, shaped as the Salesforce REST API Developer Guide and the
# OAuth 2.0 flow pages describe them (tests/sandbox/README.md lists the page
# behind each behaviour):
#
#   POST /services/oauth2/token            client credentials and JWT bearer
#   GET  /services/data/                    API versions
#   GET  /services/data/vXX.X/              resources of a version
#   GET  .../sobjects, .../sobjects/{O}, .../sobjects/{O}/describe
#   POST .../sobjects/{O}                   create
#   GET/PATCH/DELETE .../sobjects/{O}/{Id}  by record id
#   GET/PATCH/DELETE .../sobjects/{O}/{ExtIdField}/{value}  (upsert)
#   PATCH  .../composite/sobjects/{O}/{ExtIdField}   collection upsert
#   PATCH  .../composite/sobjects                    collection update by id
#   DELETE .../composite/sobjects?ids=...            collection delete
#   GET    .../query?q=SOQL, .../query/{locator}     a SOQL subset
#   GET    .../limits
#
# Objects: Contact (key prefix 003) and Account (001) with a small schema,
# each with the external-ID field Rolodex_Id__c (--external-id-field).
# Record ids are 18 characters: 15 plus the case-safe suffix computed as
# Salesforce does.  Deleting an Account deletes its Contacts.
#
# Invariants:
#   - One lock (Sandbox.lock) around every read and change of the store; a
#     collection call validates every record first and applies them under
#     the same lock, so allOrNone=true leaves nothing behind on failure.
#   - The external-ID index maps lower-cased values to record ids (external
#     IDs match case-insensitively, the default for the field type) and is
#     updated with every create and delete.
#   - Field names are matched case-insensitively, as Salesforce does, and
#     stored under their canonical spelling.
#
# The control plane and fault injection are in sandbox_base.py.

import atexit
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sandbox_base import (Request, Response, Sandbox, b64url_decode,  # noqa
                          basic_credentials, bearer_token, common_args,
                          const_eq, form_params, json_response, serve)

import base64
import hashlib
import hmac

API_MIN, API_MAX = 20, 62
COLLECTION_MAX = 200
QUERY_BATCH = 2000
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
ID_RE = re.compile(r"^[0-9A-Za-z]{15}([0-9A-Za-z]{3})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def id18(id15):
    """The 18-character form of a 15-character record id: each 5-character
    chunk gives one suffix character whose bits say which of the chunk's
    characters are upper-case letters."""
    out = id15
    for i in range(3):
        bits = 0
        for j, c in enumerate(id15[i * 5:i * 5 + 5]):
            if "A" <= c <= "Z":
                bits |= 1 << j
        out += SUFFIX[bits]
    return out


def norm_id(value):
    """The 18-character id for a 15- or 18-character id string, or None when
    it is not a well-formed id (an 18-character id must carry the right
    suffix)."""
    if not isinstance(value, str) or not ID_RE.match(value):
        return None
    full = id18(value[:15])
    if len(value) == 18 and value[15:].upper() != full[15:]:
        return None
    return full


def base62(n, width):
    s = ""
    while n:
        n, r = divmod(n, 62)
        s = B62[r] + s
    return s.rjust(width, "0")


# Field kinds: str (text of a maximum length), email, phone, url, date,
# ref (an id of another object), ro (read only, set by the platform).
def _f(kind, length=None, label=None, ref=None):
    return {"kind": kind, "length": length, "label": label, "ref": ref}


def schema(ext_field):
    contact = {
        "Id": _f("ro"),
        "Salutation": _f("str", 40, "Salutation"),
        "FirstName": _f("str", 40, "First Name"),
        "MiddleName": _f("str", 40, "Middle Name"),
        "LastName": _f("str", 80, "Last Name"),
        "Name": _f("ro"),
        "Title": _f("str", 128, "Title"),
        "Email": _f("email", 80, "Email"),
        "Phone": _f("phone", 40, "Business Phone"),
        "MobilePhone": _f("phone", 40, "Mobile Phone"),
        "Birthdate": _f("date", None, "Birthdate"),
        "MailingStreet": _f("str", 255, "Mailing Street"),
        "MailingCity": _f("str", 40, "Mailing City"),
        "MailingState": _f("str", 80, "Mailing State/Province"),
        "MailingPostalCode": _f("str", 20, "Mailing Zip/Postal Code"),
        "MailingCountry": _f("str", 80, "Mailing Country"),
        "AccountId": _f("ref", None, "Account ID", "Account"),
        "Description": _f("str", 32000, "Contact Description"),
        ext_field: _f("str", 255, "Rolodex Id"),
        "CreatedDate": _f("ro"),
        "LastModifiedDate": _f("ro"),
        "SystemModstamp": _f("ro"),
        "IsDeleted": _f("ro"),
    }
    account = {
        "Id": _f("ro"),
        "Name": _f("str", 255, "Account Name"),
        "Type": _f("str", 255, "Account Type"),
        "Industry": _f("str", 255, "Industry"),
        "Website": _f("url", 255, "Website"),
        "Phone": _f("phone", 40, "Account Phone"),
        "Fax": _f("phone", 40, "Account Fax"),
        "BillingStreet": _f("str", 255, "Billing Street"),
        "BillingCity": _f("str", 40, "Billing City"),
        "BillingState": _f("str", 80, "Billing State/Province"),
        "BillingPostalCode": _f("str", 20, "Billing Zip/Postal Code"),
        "BillingCountry": _f("str", 80, "Billing Country"),
        "Description": _f("str", 32000, "Account Description"),
        ext_field: _f("str", 255, "Rolodex Id"),
        "CreatedDate": _f("ro"),
        "LastModifiedDate": _f("ro"),
        "SystemModstamp": _f("ro"),
        "IsDeleted": _f("ro"),
    }
    return {
        "Contact": {"prefix": "003", "fields": contact,
                    "required": ["LastName"],
                    "relationships": {"Account": "AccountId"}},
        "Account": {"prefix": "001", "fields": account,
                    "required": ["Name"], "relationships": {}},
    }


class SfError(Exception):
    """A Salesforce error: HTTP status plus one error object."""

    def __init__(self, status, code, message, fields=None):
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields

    def body(self):
        e = {"message": self.message, "errorCode": self.code}
        if self.fields is not None:
            e["fields"] = self.fields
        return [e]

    def record_error(self):
        """The error as a collection result lists it."""
        return {"statusCode": self.code, "message": self.message,
                "fields": self.fields or []}


def sf_error(status, code, message, fields=None):
    return json_response(status, SfError(status, code, message,
                                         fields).body())


def not_found():
    return sf_error(404, "NOT_FOUND", "The requested resource does not "
                    "exist")


def sf_time(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03d+0000" % (int(t * 1000) % 1000)


class Salesforce(Sandbox):
    NAME = "salesforce"

    def __init__(self, args):
        Sandbox.__init__(self, args)
        self.base = "http://%s:%d" % (args.host, args.port)
        self.instance_url = (args.instance_url or self.base).rstrip("/")
        self.ext = args.external_id_field
        self.schema = schema(self.ext)
        self.canon = {o: {f.lower(): f for f in s["fields"]}
                      for o, s in self.schema.items()}
        self.objs_lower = {o.lower(): o for o in self.schema}
        self.rels_lower = {o: {r.lower(): r for r in s["relationships"]}
                           for o, s in self.schema.items()}
        self.client_id = args.client_id or "rolodex-sandbox-client"
        self.client_secret = args.client_secret or "rolodex-sandbox-secret"
        self.jwt_user = args.jwt_username
        self.jwt_aud = args.jwt_audience or [
            "https://login.salesforce.com", "https://test.salesforce.com",
            self.base]
        self.org_id = id18("00D" + "5g" + "0" + base62(
            secrets.randbelow(62 ** 9), 9))
        self.user_id = id18("005" + "5g" + "0" + base62(
            secrets.randbelow(62 ** 9), 9))
        self.tmp = tempfile.mkdtemp(prefix="sf-sandbox-")
        atexit.register(shutil.rmtree, self.tmp, True)
        self.pubkey = None
        if args.jwt_cert:
            self.pubkey = self._load_pubkey(args.jwt_cert)
        self.api_calls = 0
        self.cursors = {}
        self.clear_records()

    # ---- store ---------------------------------------------------------------

    def clear_records(self):
        self.store = {o: {} for o in self.schema}     # obj -> id -> record
        self.index = {o: {} for o in self.schema}     # obj -> ext.lower -> id
        self.deleted = set()
        # ids start at a random point so a restarted sandbox without state
        # never hands out an id it gave out before
        self.seq = secrets.randbelow(62 ** 8)
        self.cursors = {}

    def dump_state(self):
        return {"store": self.store, "deleted": sorted(self.deleted),
                "seq": self.seq}

    def load_state(self, state):
        self.clear_records()
        for o, recs in state.get("store", {}).items():
            if o not in self.store:
                continue
            self.store[o] = recs
            for rid, r in recs.items():
                v = r.get(self.ext)
                if v is not None:
                    self.index[o][v.lower()] = rid
        self.deleted = set(state.get("deleted", []))
        self.seq = state.get("seq", self.seq)

    def new_id(self, obj):
        self.seq += 1
        return id18(self.schema[obj]["prefix"] + "8c" + "0" +
                    base62(self.seq, 9))

    def objects(self):
        return list(self.schema)

    def count(self, obj):
        return len(self.store[self.objs_lower[obj.lower()]])

    def records_view(self, obj):
        o = self.objs_lower.get(obj.lower())
        if o is None:
            return None
        out = []
        for rid, r in self.store[o].items():
            rec = dict(r)
            if o == "Contact":
                acc = self.store["Account"].get(r.get("AccountId"))
                rec["Account"] = None if acc is None else {
                    "Id": acc["Id"], self.ext: acc.get(self.ext),
                    "Name": acc.get("Name")}
            out.append(rec)
        out.sort(key=lambda r: (r["CreatedDate"], r["Id"]))
        return out

    # ---- routing --------------------------------------------------------------

    ROUTES = [
        ("token", re.compile(r"^/services/oauth2/token$")),
        ("versions", re.compile(r"^/services/data/?$")),
        ("resources", re.compile(r"^/services/data/v\d+\.\d/?$")),
        ("collection_upsert",
         re.compile(r"^/services/data/v\d+\.\d/composite/sobjects/[^/]+/"
                    r"[^/]+/?$")),
        ("collection", re.compile(r"^/services/data/v\d+\.\d/composite/"
                                  r"sobjects/?$")),
        ("query", re.compile(r"^/services/data/v\d+\.\d/query(/[^/]+)?/?$")),
        ("limits", re.compile(r"^/services/data/v\d+\.\d/limits/?$")),
        ("sobject_ext", re.compile(r"^/services/data/v\d+\.\d/sobjects/[^/]+/"
                                   r"[^/]+/[^/]+$")),
        ("sobject_row", re.compile(r"^/services/data/v\d+\.\d/sobjects/[^/]+/"
                                   r"[^/]+/?$")),
        ("sobject", re.compile(r"^/services/data/v\d+\.\d/sobjects(/[^/]+)?"
                               r"/?$")),
    ]

    def route_name(self, req):
        for name, rx in self.ROUTES:
            if rx.match(req.raw_path):
                if name in ("sobject_ext", "sobject_row"):
                    return name + "_" + req.method.lower()
                if name == "collection":
                    return "collection_" + req.method.lower()
                return name
        return "other"

    def fault_response(self, action, req):
        if action == "limit":
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED",
                            "TotalRequests Limit exceeded.")
        if action == 503:
            # what a caller sees while an instance is unavailable: not the
            # JSON error array
            return Response(503, "<html><body><h1>Service Unavailable</h1>"
                            "<p>The server is temporarily unable to service "
                            "your request.</p></body></html>",
                            ctype="text/html;charset=UTF-8")
        return sf_error(action, "UNKNOWN_EXCEPTION",
                        "An unexpected error occurred. Please include this "
                        "ErrorId if you contact support: %d-%d (%d)"
                        % (secrets.randbelow(10 ** 9),
                           secrets.randbelow(10 ** 5),
                           -secrets.randbelow(10 ** 9)))

    def handle(self, req):
        p = req.raw_path
        if p == "/services/oauth2/token":
            if req.method != "POST":
                return sf_error(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s'"
                                " not allowed. Allowed are POST" % req.method)
            return self.token(req)
        if p.rstrip("/") == "/services/data":
            if req.method != "GET":
                return not_found()
            return json_response(200, [
                {"label": "Sandbox", "url": "/services/data/v%d.0" % v,
                 "version": "%d.0" % v} for v in range(API_MIN, API_MAX + 1)])
        m = re.match(r"^/services/data/v(\d+)\.(\d)(/.*)?$", p)
        if not m:
            return not_found()
        version = int(m.group(1))
        if version < API_MIN or version > API_MAX:
            return not_found()
        tok = bearer_token(req)
        state, _ = self.tokens.check(tok) if tok else ("invalid", None)
        if state != "ok":
            self.stats.fault("expired_token" if state == "expired"
                             else "invalid_token")
            return sf_error(401, "INVALID_SESSION_ID",
                            "Session expired or invalid")
        with self.lock:
            self.api_calls += 1
            usage = self.api_calls
        resp = self.api(req, version, "/services/data/v%s.%s" %
                        (m.group(1), m.group(2)), m.group(3) or "/")
        resp.headers.append(("Sforce-Limit-Info",
                             "api-usage=%d/5000000" % usage))
        return resp

    def api(self, req, version, root, rest):
        segs = [s for s in rest.split("/") if s != ""]
        segs = [urllib.parse.unquote(s) for s in segs]
        meth = req.method
        try:
            if not segs:
                if meth != "GET":
                    return self.bad_method(meth, "GET")
                return json_response(200, {
                    "sobjects": root + "/sobjects", "query": root + "/query",
                    "composite": root + "/composite",
                    "limits": root + "/limits"})
            if segs[0] == "limits" and len(segs) == 1:
                return json_response(200, {"DailyApiRequests": {
                    "Max": 5000000, "Remaining": 5000000 - self.api_calls}})
            if segs[0] == "query":
                if meth != "GET":
                    return self.bad_method(meth, "GET")
                if len(segs) == 1:
                    return self.query(req, root)
                if len(segs) == 2:
                    return self.query_more(segs[1])
                return not_found()
            if segs[0] == "composite" and len(segs) >= 2 and \
                    segs[1] == "sobjects":
                if version < 42 or (len(segs) == 4 and version < 46):
                    return not_found()
                if len(segs) == 2:
                    if meth == "PATCH":
                        return self.collection_update(req, root)
                    if meth == "DELETE":
                        return self.collection_delete(req)
                    return self.bad_method(meth, "PATCH,DELETE")
                if len(segs) == 4:
                    if meth != "PATCH":
                        return self.bad_method(meth, "PATCH")
                    return self.collection_upsert(req, segs[2], segs[3], root)
                return not_found()
            if segs[0] == "sobjects":
                return self.sobjects(req, version, root, segs[1:])
            return not_found()
        except SfError as e:
            return json_response(e.status, e.body())

    def bad_method(self, meth, allowed):
        return sf_error(405, "METHOD_NOT_ALLOWED", "HTTP Method '%s' not "
                        "allowed. Allowed are %s" % (meth, allowed))

    # ---- OAuth 2.0 token endpoint ------------------------------------------

    def token(self, req):
        params = form_params(req)
        grant = params.get("grant_type")
        if grant == "client_credentials":
            resp = self.token_client_credentials(req, params)
        elif grant == JWT_GRANT:
            resp = self.token_jwt(params)
        else:
            resp = json_response(400, {"error": "unsupported_grant_type",
                                       "error_description":
                                       "grant type not supported"})
        self.stats.token(resp.status == 200)
        return resp

    def _oauth_error(self, error, desc):
        return json_response(400, {"error": error,
                                   "error_description": desc})

    def _issue(self, flow):
        token = "%s!%s" % (self.org_id[:15], secrets.token_urlsafe(72))
        lifetime = self.faults.get("token_lifetime_s")
        if lifetime is None:
            lifetime = 7200         # the default session timeout, 2 hours
        self.tokens.add(token, lifetime, {"flow": flow})
        return token

    def token_client_credentials(self, req, params):
        cid, secret = params.get("client_id"), params.get("client_secret")
        basic = basic_credentials(req)
        if basic is not None:
            cid, secret = basic
        if not cid or not const_eq(cid, self.client_id):
            return self._oauth_error("invalid_client_id",
                                     "client identifier invalid")
        if not secret or not const_eq(secret, self.client_secret):
            return self._oauth_error("invalid_client",
                                     "invalid client credentials")
        token = self._issue("client_credentials")
        issued = str(int(time.time() * 1000))
        ident = "%s/id/%s/%s" % (self.base, self.org_id, self.user_id)
        sig = base64.b64encode(hmac.new(self.client_secret.encode(),
                                        (ident + issued).encode(),
                                        hashlib.sha256).digest()).decode()
        return json_response(200, {
            "access_token": token, "signature": sig, "scope": "api",
            "instance_url": self.instance_url, "id": ident,
            "token_type": "Bearer", "issued_at": issued})

    def _load_pubkey(self, path):
        with open(path, encoding="ascii", errors="replace") as f:
            pem = f.read()
        out = os.path.join(self.tmp, "jwt-pub.pem")
        if "BEGIN CERTIFICATE" in pem:
            cmd = ["openssl", "x509", "-pubkey", "-noout", "-in", path]
        elif "PRIVATE KEY" in pem:
            cmd = ["openssl", "pkey", "-pubout", "-in", path]
        elif "BEGIN PUBLIC KEY" in pem:
            shutil.copyfile(path, out)
            return out
        else:
            raise SystemExit("--jwt-cert %s: not a PEM certificate or key"
                             % path)
        r = subprocess.run(cmd, capture_output=True, timeout=20)
        if r.returncode != 0:
            raise SystemExit("--jwt-cert %s: %s" % (path, r.stderr.decode(
                errors="replace").strip()))
        with open(out, "wb") as f:
            f.write(r.stdout)
        return out

    def _verify_rs256(self, signing_input, sig):
        """True when sig is an RS256 signature of signing_input by the key
        of --jwt-cert (checked by `openssl dgst -verify`)."""
        if self.pubkey is None:
            self.log("JWT bearer request, but no --jwt-cert was given")
            return False
        fd, sigfile = tempfile.mkstemp(dir=self.tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(sig)
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                                self.pubkey, "-signature", sigfile],
                               input=signing_input, capture_output=True,
                               timeout=20)
            return r.returncode == 0
        finally:
            os.unlink(sigfile)

    def token_jwt(self, params):
        bad = self._oauth_error("invalid_grant", "invalid assertion")
        assertion = params.get("assertion") or ""
        parts = assertion.split(".")
        if len(parts) != 3:
            return bad
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, TypeError):
            return bad
        if not isinstance(header, dict) or not isinstance(claims, dict) or \
                header.get("alg") != "RS256":
            return bad
        iss = claims.get("iss")
        if not isinstance(iss, str) or not const_eq(iss, self.client_id):
            return self._oauth_error("invalid_client_id",
                                     "client identifier invalid")
        if not self._verify_rs256((parts[0] + "." + parts[1]).encode(),
                                  sig):
            return bad
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if not any(isinstance(a, str) and a.rstrip("/") in
                   [x.rstrip("/") for x in self.jwt_aud] for a in auds):
            return self._oauth_error("invalid_grant", "audience is invalid")
        exp = claims.get("exp")
        now = time.time()
        # exp must lie in the next 3 minutes (plus 30 s of clock skew)
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or \
                exp <= now - 30 or exp > now + 180 + 30:
            return self._oauth_error("invalid_grant",
                                     "expired authorization code")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or \
                (self.jwt_user is not None and sub != self.jwt_user):
            return self._oauth_error("invalid_grant",
                                     "user hasn't approved this consumer")
        token = self._issue("jwt_bearer")
        return json_response(200, {
            "access_token": token, "scope": "api",
            "instance_url": self.instance_url,
            "id": "%s/id/%s/%s" % (self.base, self.org_id, self.user_id),
            "token_type": "Bearer"})

    # ---- record helpers ---------------------------------------------------------

    def obj_name(self, name):
        o = self.objs_lower.get(name.lower())
        if o is None:
            raise SfError(404, "NOT_FOUND", "The requested resource does not "
                          "exist")
        return o

    def field_name(self, obj, name):
        return self.canon[obj].get(name.lower())

    def parse_json(self, body):
        try:
            return json.loads(body.decode("utf-8") if body else "")
        except (ValueError, UnicodeDecodeError) as e:
            raise SfError(400, "JSON_PARSER_ERROR", "Unexpected character: "
                          "was expecting a JSON value at [line:1, column:%d]"
                          % (getattr(e, "colno", 1) or 1))

    def parse_fields(self, obj, body, allow_ext=True):
        """Checks a record body (a JSON object) against the schema and
        returns {canonical field: value} plus the relationship references
        {field: (object, ext field, value)}.  Problems that make the body
        unreadable raise SfError (the whole request fails)."""
        if not isinstance(body, dict):
            raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize "
                          "instance of %s from %s value" % (obj, type(
                              body).__name__.upper()))
        fields = self.schema[obj]["fields"]
        rels = self.schema[obj]["relationships"]
        out, refs = {}, {}
        for key, value in body.items():
            if key == "attributes":
                continue
            rel = self.rels_lower[obj].get(key.lower())
            if rel is not None:
                refs[rels[rel]] = self.parse_reference(obj, rel, value)
                continue
            f = self.field_name(obj, key)
            if f is None:
                raise SfError(400, "INVALID_FIELD", "No such column '%s' on "
                              "sobject of type %s" % (key, obj))
            spec = fields[f]
            if spec["kind"] == "ro":
                raise SfError(400, "INVALID_FIELD_FOR_INSERT_UPDATE",
                              "Unable to create/update fields: %s. Please "
                              "check the security settings of this field and"
                              " verify that it is read/write for your profile"
                              " or permission set." % f, [f])
            if f == self.ext and not allow_ext:
                continue
            out[f] = self.parse_value(obj, f, spec, value)
        return out, refs

    def parse_value(self, obj, f, spec, value):
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize "
                          "instance of %s from %s value" % (
                              "date" if spec["kind"] == "date" else "string",
                              "START_OBJECT" if isinstance(value, dict)
                              else "START_ARRAY"))
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, (int, float)):
            value = str(value)
        if value == "":
            return None             # an empty string clears the field
        if spec["kind"] == "date" and not DATE_RE.match(value):
            raise SfError(400, "JSON_PARSER_ERROR", "Cannot deserialize "
                          "instance of date from VALUE_STRING value %s or "
                          "request may be missing a required field" % value)
        return value

    def parse_reference(self, obj, rel, value):
        """"Account": {"Rolodex_Id__c": "..."} -> (object, field, value)."""
        target = self.schema[obj]["fields"][self.schema[obj][
            "relationships"][rel]]["ref"]
        if not isinstance(value, dict):
            raise SfError(400, "INVALID_FIELD", "Cannot set the relationship "
                          "%s.%s to a value that is not an object with an "
                          "external ID" % (obj, rel))
        keys = [k for k in value if k != "attributes"]
        if len(keys) != 1:
            raise SfError(400, "INVALID_FIELD", "The relationship %s must "
                          "name exactly one external ID field" % rel)
        f = self.field_name(target, keys[0])
        if f != self.ext:
            raise SfError(400, "INVALID_FIELD", "%s is not an external ID "
                          "field of %s" % (keys[0], target))
        v = value[keys[0]]
        if not isinstance(v, str) or v == "":
            raise SfError(400, "INVALID_FIELD", "Foreign key external ID: %s"
                          " not found for field %s in entity %s" %
                          (v, f, target))
        return (target, f, v)

    def check_record(self, obj, values, refs, existing):
        """Per-record checks (the ones a collection reports record by
        record); returns the values to store or raises SfError (status
        400)."""
        fields = self.schema[obj]["fields"]
        for ref_field, (target, f, v) in refs.items():
            tid = self.index[target].get(v.lower())
            if tid is None:
                raise SfError(400, "INVALID_FIELD", "Foreign key external ID:"
                              " %s not found for field %s in entity %s"
                              % (v, f, target))
            values[ref_field] = tid
        for f, v in values.items():
            spec = fields[f]
            if v is None:
                continue
            if spec["kind"] == "ref":
                rid = norm_id(v)
                if rid is None or not rid.startswith(
                        self.schema[spec["ref"]]["prefix"]):
                    raise SfError(400, "MALFORMED_ID", "%s: id value of "
                                  "incorrect type: %s" % (spec["label"], v),
                                  [f])
                if rid not in self.store[spec["ref"]]:
                    raise SfError(400, "INVALID_CROSS_REFERENCE_KEY",
                                  "invalid cross reference id", [f])
                values[f] = rid
                continue
            if spec["length"] and len(v) > spec["length"]:
                raise SfError(400, "STRING_TOO_LONG", "%s: data value too "
                              "large: %s (max length=%d)" % (
                                  spec["label"], v, spec["length"]), [f])
            if spec["kind"] == "email" and not EMAIL_RE.match(v):
                raise SfError(400, "INVALID_EMAIL_ADDRESS", "%s: invalid "
                              "email address: %s" % (spec["label"], v), [f])
        merged = dict(existing or {})
        merged.update(values)
        missing = [f for f in self.schema[obj]["required"]
                   if merged.get(f) in (None, "")]
        if missing:
            raise SfError(400, "REQUIRED_FIELD_MISSING", "Required fields are"
                          " missing: [%s]" % ", ".join(missing), missing)
        msg = self.faults.rejection(
            obj, merged,
            lambda rec, field: rec.get(self.field_name(obj, field) or ""))
        if msg:
            self.stats.record("rejected")
            raise SfError(400, "FIELD_CUSTOM_VALIDATION_EXCEPTION", msg, [])
        return values

    def apply(self, obj, rid, values):
        """Creates (rid None) or updates a checked record; returns its id."""
        now = sf_time()
        if rid is None:
            rid = self.new_id(obj)
            rec = {f: None for f, s in self.schema[obj]["fields"].items()}
            rec.update({"Id": rid, "CreatedDate": now, "IsDeleted": False})
            self.store[obj][rid] = rec
            self.stats.record("created")
        else:
            rec = self.store[obj][rid]
            old = rec.get(self.ext)
            if old is not None and old.lower() in self.index[obj]:
                del self.index[obj][old.lower()]
            self.stats.record("updated")
        rec.update(values)
        rec["LastModifiedDate"] = rec["SystemModstamp"] = now
        if obj == "Contact":
            rec["Name"] = " ".join(x for x in (rec.get("FirstName"),
                                               rec.get("MiddleName"),
                                               rec.get("LastName")) if x)
        if rec.get(self.ext) is not None:
            self.index[obj][rec[self.ext].lower()] = rid
        return rid

    def delete(self, obj, rid):
        rec = self.store[obj].pop(rid)
        v = rec.get(self.ext)
        if v is not None:
            self.index[obj].pop(v.lower(), None)
        self.deleted.add(rid)
        self.stats.record("deleted")
        if obj == "Account":
            # deleting an Account deletes its Contacts
            for cid in [c for c, r in self.store["Contact"].items()
                        if r.get("AccountId") == rid]:
                crec = self.store["Contact"].pop(cid)
                cv = crec.get(self.ext)
                if cv is not None:
                    self.index["Contact"].pop(cv.lower(), None)
                self.deleted.add(cid)
                self.stats.record("cascade_deleted")

    def find_id(self, obj, value):
        rid = norm_id(value)
        if rid is None or not rid.startswith(self.schema[obj]["prefix"]):
            return None
        return rid

    def render(self, obj, rec, root):
        out = {"attributes": {"type": obj, "url": "%s/sobjects/%s/%s" %
                              (root, obj, rec["Id"])}}
        for f in self.schema[obj]["fields"]:
            out[f] = rec.get(f)
        return out

    # ---- sobject resources ------------------------------------------------------

    def sobjects(self, req, version, root, segs):
        meth = req.method
        if not segs:
            if meth != "GET":
                return self.bad_method(meth, "GET")
            return json_response(200, {"encoding": "UTF-8",
                                       "maxBatchSize": COLLECTION_MAX,
                                       "sobjects": [self.describe_short(o,
                                                                        root)
                                                    for o in self.schema]})
        obj = self.obj_name(segs[0])
        if len(segs) == 1:
            if meth == "GET":
                return json_response(200, {"objectDescribe":
                                           self.describe_short(obj, root),
                                           "recentItems": []})
            if meth == "POST":
                return self.create(req, obj)
            return self.bad_method(meth, "GET,POST")
        if len(segs) == 2 and segs[1] == "describe":
            return json_response(200, self.describe(obj, root))
        if len(segs) == 2:
            return self.by_id(req, version, root, obj, segs[1])
        if len(segs) == 3:
            return self.by_ext(req, version, root, obj, segs[1], segs[2])
        return not_found()

    def describe_short(self, obj, root):
        return {"name": obj, "keyPrefix": self.schema[obj]["prefix"],
                "createable": True, "updateable": True, "deletable": True,
                "urls": {"sobject": "%s/sobjects/%s" % (root, obj),
                         "describe": "%s/sobjects/%s/describe" % (root,
                                                                  obj)}}

    def describe(self, obj, root):
        d = self.describe_short(obj, root)
        d["fields"] = [{
            "name": f, "label": s["label"] or f,
            "type": {"ro": "string", "str": "string", "email": "email",
                     "phone": "phone", "url": "url", "date": "date",
                     "ref": "reference"}[s["kind"]] if f != "Id" else "id",
            "length": s["length"] or 0,
            "createable": s["kind"] != "ro", "updateable": s["kind"] != "ro",
            "nillable": f not in self.schema[obj]["required"],
            "externalId": f == self.ext, "idLookup": f in ("Id", self.ext),
            "referenceTo": [s["ref"]] if s["ref"] else []}
            for f, s in self.schema[obj]["fields"].items()]
        return d

    def create(self, req, obj):
        body = self.parse_json(req.body)
        values, refs = self.parse_fields(obj, body)
        with self.lock:
            ext = values.get(self.ext)
            if ext is not None and ext.lower() in self.index[obj]:
                raise SfError(400, "DUPLICATE_VALUE", "duplicate value found:"
                              " %s duplicates value on record with id: %s" %
                              (self.ext, self.index[obj][ext.lower()]),
                              [self.ext])
            values = self.check_record(obj, values, refs, None)
            rid = self.apply(obj, None, values)
        return json_response(201, {"id": rid, "success": True,
                                   "errors": []})

    def by_id(self, req, version, root, obj, raw):
        meth = req.method
        rid = self.find_id(obj, raw)
        if meth not in ("GET", "PATCH", "DELETE"):
            return self.bad_method(meth, "GET,PATCH,DELETE")
        with self.lock:
            if rid is None or rid not in self.store[obj]:
                if rid is not None and rid in self.deleted:
                    return sf_error(404, "ENTITY_IS_DELETED",
                                    "entity is deleted", [])
                if rid is None and meth != "GET" and \
                        norm_id(raw) is None:
                    return sf_error(400, "MALFORMED_ID", "Invalid id: %s" %
                                    raw)
                return not_found()
            if meth == "GET":
                return json_response(200, self.render(
                    obj, self.store[obj][rid], root))
            if meth == "DELETE":
                self.delete(obj, rid)
                return Response(204)
        body = self.parse_json(req.body)
        values, refs = self.parse_fields(obj, body)
        with self.lock:
            if rid not in self.store[obj]:
                return not_found()
            ext = values.get(self.ext)
            if ext is not None:
                other = self.index[obj].get(ext.lower())
                if other is not None and other != rid:
                    raise SfError(400, "DUPLICATE_VALUE", "duplicate value "
                                  "found: %s duplicates value on record with"
                                  " id: %s" % (self.ext, other), [self.ext])
            values = self.check_record(obj, values, refs,
                                       self.store[obj][rid])
            self.apply(obj, rid, values)
        return Response(204)

    def by_ext(self, req, version, root, obj, field, value):
        meth = req.method
        f = self.field_name(obj, field)
        if f is None or f != self.ext:
            if f == "Id" and meth == "POST":
                return self.create(req, obj)
            return sf_error(404, "NOT_FOUND", "Provided external ID field "
                            "does not exist or is not accessible: %s" % field)
        if meth == "GET":
            with self.lock:
                rid = self.index[obj].get(value.lower())
                if rid is None:
                    return not_found()
                return json_response(200, self.render(
                    obj, self.store[obj][rid], root))
        if meth == "DELETE":
            with self.lock:
                rid = self.index[obj].get(value.lower())
                if rid is None:
                    return not_found()
                self.delete(obj, rid)
            return Response(204)
        if meth != "PATCH":
            return self.bad_method(meth, "GET,PATCH,DELETE")
        body = self.parse_json(req.body)
        values, refs = self.parse_fields(obj, body)
        if self.ext in values and (values[self.ext] or "").lower() != \
                value.lower():
            raise SfError(400, "INVALID_FIELD", "The external ID %s in the "
                          "body does not match the one in the URL" % self.ext,
                          [self.ext])
        values[self.ext] = value
        update_only = req.query.get("updateOnly", "").lower() == "true"
        with self.lock:
            rid = self.index[obj].get(value.lower())
            if rid is None and update_only:
                return not_found()
            existing = self.store[obj][rid] if rid else None
            values = self.check_record(obj, values, refs, existing)
            new_rid = self.apply(obj, rid, values)
        created = rid is None
        if version >= 46:
            return json_response(201 if created else 200, {
                "id": new_rid, "success": True, "errors": [],
                "created": created})
        if created:
            return json_response(201, {"id": new_rid, "success": True,
                                       "errors": []})
        return Response(204)

    # ---- sObject Collections ----------------------------------------------------

    def collection_body(self, req):
        body = self.parse_json(req.body)
        if not isinstance(body, dict) or not isinstance(body.get("records"),
                                                         list):
            raise SfError(400, "JSON_PARSER_ERROR", "The request body must be"
                          " an object with a records array")
        recs = body["records"]
        if len(recs) > COLLECTION_MAX:
            raise SfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. "
                          "cannot submit more than %d records into this call"
                          % COLLECTION_MAX)
        aon = body.get("allOrNone", False)
        if not isinstance(aon, bool):
            raise SfError(400, "JSON_PARSER_ERROR", "allOrNone must be a "
                          "boolean")
        return recs, aon

    def record_type(self, rec, obj=None):
        attrs = rec.get("attributes") if isinstance(rec, dict) else None
        t = attrs.get("type") if isinstance(attrs, dict) else None
        if not isinstance(t, str) or not t:
            raise SfError(400, "INVALID_TYPE", "Must send a concrete entity "
                          "type.")
        o = self.obj_name(t)
        if obj is not None and o != obj:
            raise SfError(400, "INVALID_TYPE", "The record type %s does not "
                          "match the type %s of this request" % (t, obj))
        return o

    def collection_upsert(self, req, objname, field, root):
        obj = self.obj_name(objname)
        f = self.field_name(obj, field)
        if f != self.ext:
            return sf_error(404, "NOT_FOUND", "Provided external ID field "
                            "does not exist or is not accessible: %s" % field)
        recs, aon = self.collection_body(req)
        parsed = []
        for rec in recs:
            self.record_type(rec, obj)
            parsed.append(self.parse_fields(obj, rec))
        counts = {}
        for values, _ in parsed:
            v = values.get(self.ext)
            if isinstance(v, str):
                counts[v.lower()] = counts.get(v.lower(), 0) + 1
        results = [None] * len(parsed)
        plan = []
        with self.lock:
            for i, (values, refs) in enumerate(parsed):
                v = values.get(self.ext)
                try:
                    if not isinstance(v, str):
                        raise SfError(400, "MISSING_ARGUMENT", "%s not "
                                      "specified" % self.ext)
                    if counts[v.lower()] > 1:
                        raise SfError(400, "DUPLICATE_VALUE", "Duplicate "
                                      "external id specified: %s" % v,
                                      [self.ext])
                    rid = self.index[obj].get(v.lower())
                    existing = self.store[obj][rid] if rid else None
                    checked = self.check_record(obj, dict(values), refs,
                                                existing)
                    plan.append((i, rid, checked))
                except SfError as e:
                    results[i] = {"success": False,
                                  "errors": [e.record_error()]}
            failed = any(r is not None for r in results)
            if aon and failed:
                for i, _, _ in plan:
                    results[i] = {"success": False, "errors": [{
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all "
                        "records were valid and the request was using "
                        "AllOrNone header", "fields": []}]}
            else:
                for i, rid, checked in plan:
                    new_rid = self.apply(obj, rid, checked)
                    results[i] = {"id": new_rid, "success": True,
                                  "errors": [], "created": rid is None}
        return json_response(200, results)

    def collection_update(self, req, root):
        """PATCH composite/sobjects: update records by id (each names its
        type in attributes and its id in "id")."""
        recs, aon = self.collection_body(req)
        parsed = []
        for rec in recs:
            obj = self.record_type(rec)
            body = dict(rec)
            raw = body.pop("id", None)
            if raw is None:
                raw = body.pop("Id", None)
            parsed.append((obj, raw, self.parse_fields(obj, body)))
        results = [None] * len(parsed)
        plan = []
        with self.lock:
            for i, (obj, raw, (values, refs)) in enumerate(parsed):
                try:
                    rid = self.find_id(obj, raw) if raw else None
                    if rid is None:
                        raise SfError(400, "MALFORMED_ID", "Id in upsert or "
                                      "update call must be a valid id: %s"
                                      % raw)
                    if rid not in self.store[obj]:
                        if rid in self.deleted:
                            raise SfError(404, "ENTITY_IS_DELETED",
                                          "entity is deleted")
                        raise SfError(404, "INVALID_CROSS_REFERENCE_KEY",
                                      "invalid cross reference id")
                    checked = self.check_record(obj, dict(values), refs,
                                                self.store[obj][rid])
                    plan.append((i, obj, rid, checked))
                except SfError as e:
                    results[i] = {"success": False,
                                  "errors": [e.record_error()]}
            if aon and any(r is not None for r in results):
                for i, _, _, _ in plan:
                    results[i] = {"success": False, "errors": [{
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all "
                        "records were valid and the request was using "
                        "AllOrNone header", "fields": []}]}
            else:
                for i, obj, rid, checked in plan:
                    self.apply(obj, rid, checked)
                    results[i] = {"id": rid, "success": True, "errors": []}
        return json_response(200, results)

    def collection_delete(self, req):
        ids = [x for x in req.query.get("ids", "").split(",") if x]
        if not ids:
            raise SfError(400, "MISSING_ARGUMENT", "ids parameter is "
                          "required")
        if len(ids) > COLLECTION_MAX:
            raise SfError(400, "EXCEEDED_ID_LIMIT", "record limit reached. "
                          "cannot submit more than %d records into this call"
                          % COLLECTION_MAX)
        aon = req.query.get("allOrNone", "false").lower() == "true"
        results = []
        with self.lock:
            plan = []
            for raw in ids:
                rid = norm_id(raw)
                obj = None
                if rid is not None:
                    obj = next((o for o, s in self.schema.items()
                                if rid.startswith(s["prefix"])), None)
                if rid is None or obj is None:
                    results.append({"success": False, "errors": [{
                        "statusCode": "MALFORMED_ID", "message":
                        "malformed id %s" % raw, "fields": []}]})
                elif rid not in self.store[obj]:
                    code = "ENTITY_IS_DELETED" if rid in self.deleted else \
                        "INVALID_CROSS_REFERENCE_KEY"
                    results.append({"id": rid, "success": False, "errors": [{
                        "statusCode": code, "message": "entity is deleted"
                        if rid in self.deleted else
                        "invalid cross reference id", "fields": []}]})
                else:
                    results.append(None)
                    plan.append((len(results) - 1, obj, rid))
            if aon and len(plan) != len(results):
                for i, obj, rid in plan:
                    results[i] = {"id": rid, "success": False, "errors": [{
                        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                        "message": "Record rolled back because not all "
                        "records were valid and the request was using "
                        "AllOrNone header", "fields": []}]}
            else:
                for i, obj, rid in plan:
                    if rid in self.store[obj]:      # not gone by cascade
                        self.delete(obj, rid)
                    results[i] = {"id": rid, "success": True, "errors": []}
        return json_response(200, results)

    # ---- SOQL -------------------------------------------------------------------

    TOKEN_RE = re.compile(r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|"
                          r"(?P<num>-?\d+(?:\.\d+)?)(?![\w.])|"
                          r"(?P<op>!=|<>|<=|>=|=|<|>|\(|\)|,)|"
                          r"(?P<word>[A-Za-z_][A-Za-z0-9_.]*))")

    def tokenize(self, q):
        toks, pos = [], 0
        q = q.strip()
        while pos < len(q):
            m = self.TOKEN_RE.match(q, pos)
            if not m or m.end() == pos:
                raise SfError(400, "MALFORMED_QUERY", "unexpected token: '%s'"
                              % q[pos:pos + 10].strip())
            pos = m.end()
            kind = m.lastgroup
            text = m.group(kind)
            if kind == "str":
                text = re.sub(r"\\(.)", lambda x: {"n": "\n", "t": "\t"}.get(
                    x.group(1), x.group(1)), text[1:-1])
            toks.append((kind, text))
        return toks

    def resolve_path(self, obj, path):
        """A SOQL field path -> (relationship or None, object, field)."""
        parts = path.split(".")
        if len(parts) == 1:
            f = self.field_name(obj, parts[0])
            if f is None:
                raise SfError(400, "INVALID_FIELD", "No such column '%s' on "
                              "entity '%s'. If you are attempting to use a "
                              "custom field, be sure to append the '__c' "
                              "after the custom field name." % (path, obj))
            return (None, obj, f)
        if len(parts) == 2:
            rels = {r.lower(): r for r in self.schema[obj]["relationships"]}
            rel = rels.get(parts[0].lower())
            if rel is not None:
                target = self.schema[obj]["fields"][self.schema[obj][
                    "relationships"][rel]]["ref"]
                f = self.field_name(target, parts[1])
                if f is not None:
                    return (rel, target, f)
        raise SfError(400, "INVALID_FIELD", "Didn't understand relationship "
                      "'%s' in field path." % path)

    def value_of(self, obj, rec, path):
        rel, target, f = path
        if rel is None:
            return rec.get(f)
        ref = rec.get(self.schema[obj]["relationships"][rel])
        trec = self.store[target].get(ref) if ref else None
        return trec.get(f) if trec else None

    def query(self, req, root):
        q = req.query.get("q")
        if not q:
            raise SfError(400, "MALFORMED_QUERY", "A query string has to be "
                          "specified")
        toks = self.tokenize(q)
        i = [0]

        def peek(word=None):
            if i[0] >= len(toks):
                return None
            k, t = toks[i[0]]
            if word is None:
                return (k, t)
            return (k, t) if k == "word" and t.upper() == word else None

        def take(word=None, kind=None):
            t = peek(word)
            if t is None or (kind and t[0] != kind) or \
                    (word is None and kind is None and t is None):
                got = toks[i[0]][1] if i[0] < len(toks) else "<end>"
                raise SfError(400, "MALFORMED_QUERY", "unexpected token: "
                              "'%s'" % got)
            i[0] += 1
            return t

        take("SELECT")
        fields, count = [], False
        if peek("COUNT"):
            take("COUNT")
            take(kind="op")
            take(kind="op")
            count = True
        else:
            while True:
                fields.append(take(kind="word")[1])
                if peek() == ("op", ","):
                    take(kind="op")
                    continue
                break
        take("FROM")
        obj = self.obj_name(take(kind="word")[1])
        paths = [(f, self.resolve_path(obj, f)) for f in fields]
        conds = []
        if peek("WHERE"):
            take("WHERE")
            while True:
                path = self.resolve_path(obj, take(kind="word")[1])
                neg = False
                if peek("NOT"):
                    take("NOT")
                    neg = True
                if peek("IN"):
                    take("IN")
                    if take(kind="op")[1] != "(":
                        raise SfError(400, "MALFORMED_QUERY",
                                      "expecting '('")
                    vals = []
                    while True:
                        vals.append(self.literal(take()))
                        sep = take(kind="op")[1]
                        if sep == ")":
                            break
                        if sep != ",":
                            raise SfError(400, "MALFORMED_QUERY",
                                          "unexpected token: '%s'" % sep)
                    conds.append((path, "NOT IN" if neg else "IN", vals))
                else:
                    if neg:
                        raise SfError(400, "MALFORMED_QUERY",
                                      "unexpected token: 'NOT'")
                    op = take(kind="op")[1]
                    if op not in ("=", "!=", "<>"):
                        raise SfError(400, "MALFORMED_QUERY", "the sandbox "
                                      "supports only =, !=, IN and NOT IN")
                    conds.append((path, op, self.literal(take())))
                if peek("AND"):
                    take("AND")
                    continue
                break
        order = None
        if peek("ORDER"):
            take("ORDER")
            take("BY")
            order = [self.resolve_path(obj, take(kind="word")[1]), False]
            if peek("DESC"):
                take("DESC")
                order[1] = True
            elif peek("ASC"):
                take("ASC")
        limit = None
        if peek("LIMIT"):
            take("LIMIT")
            limit = int(take(kind="num")[1])
        if i[0] != len(toks):
            raise SfError(400, "MALFORMED_QUERY", "unexpected token: '%s'"
                          % toks[i[0]][1])
        with self.lock:
            rows = [r for r in self.store[obj].values()
                    if all(self.match(obj, r, c) for c in conds)]
            if order is not None:
                rows.sort(key=lambda r: (self.value_of(obj, r, order[0])
                                         is None,
                                         str(self.value_of(obj, r,
                                                           order[0]))),
                          reverse=order[1])
            if limit is not None:
                rows = rows[:limit]
            if count:
                return json_response(200, {"totalSize": len(rows),
                                           "done": True, "records": []})
            out = [self.project(obj, r, paths, root) for r in rows]
        return self.page(out, root)

    def literal(self, tok):
        kind, text = tok
        if kind == "str":
            return text
        if kind == "num":
            return text
        if kind == "word" and text.lower() in ("null", "true", "false"):
            return {"null": None, "true": "true", "false": "false"}[
                text.lower()]
        raise SfError(400, "MALFORMED_QUERY", "unexpected token: '%s'" % text)

    def match(self, obj, rec, cond):
        path, op, want = cond
        have = self.value_of(obj, rec, path)
        kind = self.schema[path[1]]["fields"][path[2]]["kind"]

        def same(a, b):
            if a is None or b is None:
                return a is None and b is None
            if kind == "ref" or path[2] == "Id":
                return norm_id(str(a)) == norm_id(str(b)) and \
                    norm_id(str(a)) is not None
            if isinstance(a, bool):
                a = "true" if a else "false"
            return str(a).lower() == str(b).lower()

        if op == "=":
            return same(have, want)
        if op in ("!=", "<>"):
            return not same(have, want)
        if op == "IN":
            return any(same(have, w) for w in want)
        return not any(same(have, w) for w in want)

    def project(self, obj, rec, paths, root):
        out = {"attributes": {"type": obj, "url": "%s/sobjects/%s/%s" % (
            root, obj, rec["Id"])}}
        for name, (rel, target, f) in paths:
            if rel is None:
                out[f] = rec.get(f)
                continue
            ref = rec.get(self.schema[obj]["relationships"][rel])
            trec = self.store[target].get(ref) if ref else None
            if trec is None:
                out[rel] = None
                continue
            sub = out.get(rel) or {"attributes": {
                "type": target, "url": "%s/sobjects/%s/%s" % (
                    root, target, trec["Id"])}}
            sub[f] = trec.get(f)
            out[rel] = sub
        return out

    def page(self, rows, root, total=None):
        total = len(rows) if total is None else total
        if len(rows) <= QUERY_BATCH:
            return json_response(200, {"totalSize": total, "done": True,
                                       "records": rows})
        loc = "01g" + secrets.token_hex(6)
        with self.lock:
            if len(self.cursors) > 100:
                self.cursors.pop(next(iter(self.cursors)))
            self.cursors[loc] = (rows, total, root)
        return json_response(200, {
            "totalSize": total, "done": False,
            "nextRecordsUrl": "%s/query/%s-%d" % (root, loc, QUERY_BATCH),
            "records": rows[:QUERY_BATCH]})

    def query_more(self, seg):
        loc, _, off = seg.rpartition("-")
        with self.lock:
            cur = self.cursors.get(loc)
        if cur is None or not off.isdigit():
            raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query "
                          "locator")
        rows, total, root = cur
        off = int(off)
        rest = rows[off:off + QUERY_BATCH]
        done = off + QUERY_BATCH >= len(rows)
        body = {"totalSize": total, "done": done, "records": rest}
        if not done:
            body["nextRecordsUrl"] = "%s/query/%s-%d" % (root, loc,
                                                         off + QUERY_BATCH)
        return json_response(200, body)


def main():
    p = common_args("Salesforce sandbox: REST API and OAuth 2.0 token "
                    "endpoint stand-in.")
    p.add_argument("--jwt-cert", help="PEM certificate (or public key) that "
                   "verifies JWT bearer assertions")
    p.add_argument("--jwt-username", help="the one user (sub) JWT bearer "
                   "assertions may name (default: any)")
    p.add_argument("--jwt-audience", action="append", help="accepted aud "
                   "(repeatable; default login/test.salesforce.com and this "
                   "sandbox's URL)")
    p.add_argument("--instance-url", help="instance_url of token responses "
                   "(default: this sandbox)")
    p.add_argument("--external-id-field", default="Rolodex_Id__c")
    return serve(Salesforce, p)


if __name__ == "__main__":
    sys.exit(main())
