#!/usr/bin/env python3
# tests/sandbox/dataverse.py - a Dataverse (Dynamics 365) stand-in.
#
# Serves, on one port, the Microsoft identity platform client credentials
# token endpoint and the parts of the Dataverse Web API the Rolodex adapter
# uses, shaped as Microsoft's documentation describes them
# (tests/sandbox/README.md lists the page behind each behaviour):
#
#   POST /{tenant}/oauth2/v2.0/token        client credentials grant
#   GET  /api/data/v9.x/WhoAmI
#   GET  /api/data/v9.x/{set}?$select&$filter&$top    (a $filter subset)
#   POST /api/data/v9.x/{set}                          create
#   GET/PATCH/DELETE /api/data/v9.x/{set}({key})       key: GUID or
#        alternate key (new_rolodexid='...'); PATCH is an upsert honouring
#        If-Match / If-None-Match and Prefer: return=representation
#   PUT/DELETE .../contacts({key})/parentcustomerid_account/$ref
#   GET .../accounts({key})/contact_customer_accounts
#   POST /api/data/v9.x/$batch              multipart/mixed, change sets
#
# Entity sets: contacts and accounts, a small schema each, GUID primary keys
# and the alternate key column new_rolodexid (--alternate-key).  Deleting an
# account deletes the contacts whose parentcustomerid is that account (the
# parental relationship cascades).
#
# Invariants:
#   - Sandbox.lock (re-entrant) is held for every read and change of the
#     store; a $batch holds it for the whole batch, so a change set is
#     atomic: every change inside one is recorded in an undo log and rolled
#     back when one of its requests fails.
#   - The alternate-key index maps lower-cased key values to primary keys
#     (Dataverse compares text case-insensitively) and changes with every
#     create, update of the key column and delete.
#   - Attribute names are case-sensitive, as in the Web API.
#
# The control plane and fault injection are in sandbox_base.py.

import json
import os
import re
import secrets
import sys
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sandbox_base import (Request, Response, Sandbox, basic_credentials,  # noqa
                          bearer_token, common_args, const_eq, form_params,
                          hs256_jwt, json_response, reason, serve)

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BATCH_MAX = 1000
ODATA_CT = "application/json; odata.metadata=minimal"
PAGE_MAX = 5000


def s(length):
    return {"kind": "str", "length": length}


ADDRESS = {
    "address1_line1": s(250), "address1_line2": s(250),
    "address1_line3": s(250), "address1_city": s(80),
    "address1_stateorprovince": s(50), "address1_postalcode": s(20),
    "address1_country": s(80),
}


def entities(altkey):
    contact = {
        "contactid": {"kind": "pk"},
        "salutation": s(100), "firstname": s(50), "middlename": s(50),
        "lastname": s(50), "fullname": {"kind": "ro"},
        "jobtitle": s(100), "emailaddress1": s(100), "telephone1": s(50),
        "telephone2": s(50), "mobilephone": s(50),
        "birthdate": {"kind": "date"}, "description": s(2000),
        altkey: s(100),
        "_parentcustomerid_value": {"kind": "ro"},
        "createdon": {"kind": "ro"}, "modifiedon": {"kind": "ro"},
        "versionnumber": {"kind": "ro"},
    }
    contact.update(ADDRESS)
    account = {
        "accountid": {"kind": "pk"},
        "name": s(160), "accountnumber": s(20), "websiteurl": s(200),
        "telephone1": s(50), "telephone2": s(50), "emailaddress1": s(100),
        "description": s(2000), altkey: s(100),
        "createdon": {"kind": "ro"}, "modifiedon": {"kind": "ro"},
        "versionnumber": {"kind": "ro"},
    }
    account.update(ADDRESS)
    return {
        "contact": {"set": "contacts", "pk": "contactid", "attrs": contact,
                    "nav": {"parentcustomerid_account":
                            ("account", "_parentcustomerid_value")},
                    "collections": {}},
        "account": {"set": "accounts", "pk": "accountid", "attrs": account,
                    "nav": {},
                    "collections": {"contact_customer_accounts":
                                    ("contact", "_parentcustomerid_value")}},
    }


class DvError(Exception):
    """An OData error: status, Dataverse hex code, message."""

    def __init__(self, status, code, message):
        Exception.__init__(self, message)
        self.status = status
        self.code = code
        self.message = message

    def response(self):
        return json_response(self.status, {"error": {
            "code": self.code, "message": self.message}},
            [("OData-Version", "4.0")], ODATA_CT)


def payload_error(entity_set, inner):
    return DvError(400, "0x80048d19", "Error identified in Payload provided "
                   "by the user for Entity :'%s', For more information on "
                   "this error please follow this help link "
                   "https://go.microsoft.com/fwlink/?linkid=2195293  ---->  "
                   "InnerException : %s" % (entity_set, inner))


def split_path(path):
    """Splits an OData resource path on '/' outside quoted key values."""
    segs, cur, quoted = [], "", False
    i = 0
    while i < len(path):
        c = path[i]
        if c == "'":
            quoted = not quoted
        if c == "/" and not quoted:
            segs.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    segs.append(cur)
    return [x for x in segs if x != ""]


def parse_key(text):
    """The inside of a key segment: a GUID, or name=value pairs.  Returns
    ("pk", guid) or ("alt", {name: value}); raises ValueError."""
    text = text.strip()
    if GUID_RE.match(text):
        return ("pk", text.lower())
    pairs, i = {}, 0
    while i < len(text):
        m = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*", text[i:])
        if not m:
            raise ValueError("bad key")
        name = m.group(1)
        i += m.end()
        if i < len(text) and text[i] == "'":
            j, val = i + 1, ""
            while True:
                if j >= len(text):
                    raise ValueError("unterminated string")
                if text[j] == "'":
                    if j + 1 < len(text) and text[j + 1] == "'":
                        val += "'"
                        j += 2
                        continue
                    break
                val += text[j]
                j += 1
            i = j + 1
        else:
            m = re.match(r"[^,]+", text[i:])
            if not m:
                raise ValueError("bad key value")
            val = m.group(0).strip()
            i += m.end()
        pairs[name] = val
        m = re.match(r"\s*,\s*", text[i:])
        if m:
            i += m.end()
        elif text[i:].strip():
            raise ValueError("bad key")
    if not pairs:
        raise ValueError("empty key")
    return ("alt", pairs)


def odata_time(t=None):
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Dataverse(Sandbox):
    NAME = "dataverse"

    def __init__(self, args):
        Sandbox.__init__(self, args)
        self.base = "http://%s:%d" % (args.host, args.port)
        self.org = (args.org_url or self.base).rstrip("/")
        self.altkey = args.alternate_key
        self.ent = entities(self.altkey)
        self.by_set = {e["set"]: name for name, e in self.ent.items()}
        self.client_id = args.client_id or \
            "00000000-0000-0000-0000-00000000c11e"
        self.client_secret = args.client_secret or "rolodex-sandbox-secret"
        self.tenant = args.tenant
        self.tenant_id = args.tenant or str(uuid.uuid4())
        self.org_id = str(uuid.uuid4())
        self.user_id = str(uuid.uuid4())
        self.bu_id = str(uuid.uuid4())
        self.sign_key = secrets.token_bytes(32)
        self.undo, self.undo_seen = None, None
        self.clear_records()

    # ---- store -------------------------------------------------------------------

    def clear_records(self):
        self.store = {e: {} for e in self.ent}
        self.index = {e: {} for e in self.ent}
        self.version = 1000000 + secrets.randbelow(1000000)

    def dump_state(self):
        return {"store": self.store, "version": self.version}

    def load_state(self, state):
        self.clear_records()
        for e, recs in state.get("store", {}).items():
            if e in self.store:
                self.store[e] = recs
                for pk, r in recs.items():
                    if r.get(self.altkey) is not None:
                        self.index[e][r[self.altkey].lower()] = pk
        self.version = state.get("version", self.version)

    def objects(self):
        return [e["set"] for e in self.ent.values()]

    def count(self, obj):
        return len(self.store[self.by_set[obj]])

    def records_view(self, obj):
        e = self.by_set.get(obj) or (obj if obj in self.ent else None)
        if e is None:
            return None
        out = []
        for pk, r in self.store[e].items():
            rec = dict(r)
            if e == "contact":
                acc = self.store["account"].get(r.get(
                    "_parentcustomerid_value"))
                rec["parentcustomerid_account"] = None if acc is None else {
                    "accountid": acc["accountid"],
                    self.altkey: acc.get(self.altkey),
                    "name": acc.get("name")}
            out.append(rec)
        out.sort(key=lambda r: (r["createdon"], r["versionnumber"]))
        return out

    def remember(self, e, pk):
        """Records the current state of one row in the change set's undo
        log before it changes (once per row and change set)."""
        if self.undo is None:
            return
        key = (e, pk)
        if key in self.undo_seen:
            return
        self.undo_seen.add(key)
        old = self.store[e].get(pk)
        self.undo.append((e, pk, dict(old) if old is not None else None))

    def rollback(self, log):
        for e, pk, old in reversed(log):
            cur = self.store[e].pop(pk, None)
            if cur is not None and cur.get(self.altkey) is not None:
                self.index[e].pop(cur[self.altkey].lower(), None)
            if old is not None:
                self.store[e][pk] = old
                if old.get(self.altkey) is not None:
                    self.index[e][old[self.altkey].lower()] = pk

    def write(self, e, pk, values, create):
        """Creates or updates one checked row; returns its primary key."""
        self.remember(e, pk)
        self.version += 1
        now = odata_time()
        attrs = self.ent[e]["attrs"]
        if create:
            rec = {a: None for a in attrs}
            rec[self.ent[e]["pk"]] = pk
            rec["createdon"] = now
            self.store[e][pk] = rec
            self.stats.record("created")
        else:
            rec = self.store[e][pk]
            self.stats.record("updated")
        old_key = rec.get(self.altkey)
        rec.update(values)
        rec["modifiedon"] = now
        rec["versionnumber"] = self.version
        if e == "contact":
            rec["fullname"] = " ".join(x for x in (rec.get("firstname"),
                                                   rec.get("lastname")) if x)
        new_key = rec.get(self.altkey)
        if old_key is not None and old_key != new_key:
            self.index[e].pop(old_key.lower(), None)
        if new_key is not None:
            self.index[e][new_key.lower()] = pk
        return pk

    def remove(self, e, pk):
        self.remember(e, pk)
        rec = self.store[e].pop(pk)
        if rec.get(self.altkey) is not None:
            self.index[e].pop(rec[self.altkey].lower(), None)
        self.stats.record("deleted")
        if e == "account":
            # the parental relationship: the account's contacts go with it
            for cpk in [c for c, r in self.store["contact"].items()
                        if r.get("_parentcustomerid_value") == pk]:
                self.remember("contact", cpk)
                crec = self.store["contact"].pop(cpk)
                if crec.get(self.altkey) is not None:
                    self.index["contact"].pop(crec[self.altkey].lower(),
                                              None)
                self.stats.record("cascade_deleted")

    # ---- routing -----------------------------------------------------------------

    def route_name(self, req):
        p = req.raw_path
        if re.match(r"^/[^/]+/oauth2/v2\.0/token$", p):
            return "token"
        m = re.match(r"^/api/data/v9\.\d/(.*)$", p)
        if not m:
            return "other"
        rest = m.group(1)
        if rest.startswith("$batch"):
            return "batch"
        if rest.startswith("WhoAmI"):
            return "whoami"
        if "/$ref" in rest:
            return "ref_" + req.method.lower()
        if "(" in rest.split("/")[0]:
            return "entity_" + req.method.lower()
        return "set_" + req.method.lower()

    def fault_response(self, action, req):
        if action == "limit":
            code = self.faults.get("limit_code")
            msg = {
                "0x80072321": "Combined execution time of incoming requests"
                " exceeded limit of 1,200,000 milliseconds over time window"
                " of 300 seconds. Decrease number of concurrent requests or"
                " reduce the duration of requests and try again later.",
                "0x80072326": "Number of concurrent requests exceeded the "
                "limit of 52.",
            }.get(code, "Number of requests exceeded the limit of 6000 over"
                  " time window of 300 seconds.")
            return json_response(429, {"error": {"code": code,
                                                 "message": msg}},
                                 [("Retry-After",
                                   str(self.faults.get("retry_after_s"))),
                                  ("OData-Version", "4.0")], ODATA_CT)
        if action == 503:
            return Response(503, "<html><body><h2>Service Unavailable</h2>"
                            "<p>HTTP Error 503. The service is unavailable."
                            "</p></body></html>",
                            ctype="text/html; charset=us-ascii")
        return DvError(action, "0x80040216", "An unexpected error occurred."
                       ).response()

    def handle(self, req):
        p = req.raw_path
        m = re.match(r"^/([^/]+)/oauth2/v2\.0/token$", p)
        if m:
            return self.token(req, urllib.parse.unquote(m.group(1)))
        m = re.match(r"^/api/data/(v9\.\d)(/.*)?$", p)
        if not m:
            return DvError(404, "", "No HTTP resource was found that "
                           "matches the request URI '%s%s'." % (self.org, p)
                           ).response()
        if not req.inner:
            tok = bearer_token(req)
            state, info = self.tokens.check(tok) if tok else ("invalid",
                                                              None)
            if state != "ok":
                self.stats.fault("expired_token" if state == "expired"
                                 else "invalid_token")
                return self.unauthorized(state)
        try:
            return self.api(req, m.group(1), req.path[len(
                "/api/data/" + m.group(1)):])
        except DvError as e:
            return e.response()

    def unauthorized(self, state):
        chal = "Bearer authorization_uri=%s/%s/oauth2/authorize, " \
            "resource_id=%s/" % (self.base, self.tenant_id, self.org)
        if state == "expired":
            chal += ', error="invalid_token", error_description="The access' \
                ' token is expired"'
        return Response(401, b"", [("WWW-Authenticate", chal)])

    # ---- Microsoft identity platform token endpoint ---------------------------

    def aad_error(self, status, error, code, text):
        trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
        ts = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        return json_response(status, {
            "error": error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\n"
            "Correlation ID: %s\r\nTimestamp: %s" % (code, text, trace,
                                                     corr, ts),
            "error_codes": [code], "timestamp": ts, "trace_id": trace,
            "correlation_id": corr,
            "error_uri": "%s/error?code=%d" % (self.base, code)},
            ctype="application/json; charset=utf-8")

    def token(self, req, tenant):
        resp = self.token_inner(req, tenant)
        self.stats.token(resp.status == 200)
        return resp

    def token_inner(self, req, tenant):
        if req.method != "POST":
            return self.aad_error(400, "invalid_request", 900561, "The "
                                  "endpoint only accepts POST requests. "
                                  "Received a %s request." % req.method)
        if self.tenant and tenant.lower() not in (self.tenant.lower(),):
            return self.aad_error(400, "invalid_request", 90002, "Tenant '%s'"
                                  " not found. Check to make sure you have "
                                  "the correct tenant ID and are signing into"
                                  " the correct cloud." % tenant)
        params = form_params(req)
        basic = basic_credentials(req)
        if basic is not None:
            params.setdefault("client_id", basic[0])
            params.setdefault("client_secret", basic[1])
        for need in ("grant_type", "client_id", "scope"):
            if not params.get(need):
                return self.aad_error(400, "invalid_request", 900144, "The "
                                      "request body must contain the "
                                      "following parameter: '%s'." % need)
        if params["grant_type"] != "client_credentials":
            return self.aad_error(400, "unsupported_grant_type", 70003,
                                  "The app requested an unsupported grant "
                                  "type '%s'." % params["grant_type"])
        cid = params["client_id"]
        if not const_eq(cid, self.client_id):
            return self.aad_error(400, "unauthorized_client", 700016,
                                  "Application with identifier '%s' was not "
                                  "found in the directory '%s'. This can "
                                  "happen if the application has not been "
                                  "installed by the administrator of the "
                                  "tenant or consented to by any user in the"
                                  " tenant. You may have sent your "
                                  "authentication request to the wrong "
                                  "tenant." % (cid, tenant))
        secret = params.get("client_secret")
        if not secret:
            return self.aad_error(401, "invalid_client", 7000216, "'client_"
                                  "assertion', 'client_secret' or 'request' "
                                  "is required for the 'client_credentials' "
                                  "grant type.")
        if not const_eq(secret, self.client_secret):
            return self.aad_error(401, "invalid_client", 7000215, "Invalid "
                                  "client secret provided. Ensure the secret "
                                  "being sent in the request is the client "
                                  "secret value, not the client secret ID, "
                                  "for a secret added to app '%s'." % cid)
        scope = params["scope"].strip()
        if not scope.endswith("/.default") or " " in scope:
            return self.aad_error(400, "invalid_scope", 1002012, "The "
                                  "provided value for scope %s is not valid. "
                                  "Client credential flows must have a scope "
                                  "value with /.default suffixed to the "
                                  "resource identifier (application ID URI)."
                                  % scope)
        resource = scope[:-len("/.default")].rstrip("/")
        if resource.lower() != self.org.lower():
            return self.aad_error(400, "invalid_resource", 500011, "The "
                                  "resource principal named %s was not found"
                                  " in the tenant named %s. This can happen "
                                  "if the application has not been installed"
                                  " by the administrator of the tenant or "
                                  "consented to by any user in the tenant. "
                                  "You might have sent your authentication "
                                  "request to the wrong tenant."
                                  % (resource, tenant))
        lifetime = self.faults.get("token_lifetime_s")
        if lifetime is None:
            lifetime = 3599
        now = int(time.time())
        token = hs256_jwt({
            "aud": self.org, "iss": "https://sts.windows.net/%s/" %
            self.tenant_id, "iat": now, "nbf": now, "exp": now + lifetime,
            "appid": cid, "tid": self.tenant_id, "oid": self.user_id,
            "jti": secrets.token_hex(8)}, self.sign_key)
        self.tokens.add(token, lifetime, {"client_id": cid})
        return json_response(200, {"token_type": "Bearer",
                                   "expires_in": lifetime,
                                   "ext_expires_in": lifetime,
                                   "access_token": token},
                             ctype="application/json; charset=utf-8")

    # ---- Web API -----------------------------------------------------------------

    def api(self, req, ver, rest):
        root = "%s/api/data/%s" % (self.org, ver)
        segs = split_path(rest)
        if not segs:
            if req.method != "GET":
                raise DvError(405, "", "The requested resource does not "
                              "support http method '%s'." % req.method)
            return self.ok({"@odata.context": root + "/$metadata",
                            "value": [{"name": e["set"], "kind": "EntitySet",
                                       "url": e["set"]}
                                      for e in self.ent.values()]})
        head = segs[0]
        if head == "$batch":
            if req.method != "POST" or len(segs) != 1:
                raise DvError(405, "", "The requested resource does not "
                              "support http method '%s'." % req.method)
            if req.inner:
                raise DvError(400, "0x0", "A batch cannot contain a batch")
            return self.batch(req, ver)
        if head in ("WhoAmI", "WhoAmI()"):
            if req.method != "GET":
                raise DvError(404, "", "No HTTP resource was found that "
                              "matches the request URI '%s/%s'." % (root,
                                                                     head))
            return self.ok({"@odata.context": root +
                            "/$metadata#Microsoft.Dynamics.CRM."
                            "WhoAmIResponse",
                            "BusinessUnitId": self.bu_id,
                            "UserId": self.user_id,
                            "OrganizationId": self.org_id})
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\((.*)\))?$", head)
        if not m or m.group(1) not in self.by_set:
            raise DvError(404, "0x8006088a", "Resource not found for the "
                          "segment '%s'." % (m.group(1) if m else head))
        e = self.by_set[m.group(1)]
        if m.group(2) is None:
            if len(segs) != 1:
                raise DvError(404, "0x8006088a", "Resource not found for the"
                              " segment '%s'." % segs[1])
            if req.method == "GET":
                return self.query(req, e, root, None)
            if req.method == "POST":
                return self.create(req, e, root)
            raise DvError(405, "", "The requested resource does not support "
                          "http method '%s'." % req.method)
        try:
            key = parse_key(m.group(2))
        except ValueError:
            raise DvError(400, "0x80060888", "Bad Request - Error in query "
                          "syntax.")
        if len(segs) == 1:
            if req.method == "GET":
                return self.get(req, e, key, root)
            if req.method == "PATCH":
                return self.upsert(req, e, key, root)
            if req.method == "DELETE":
                return self.delete(req, e, key)
            raise DvError(405, "", "The requested resource does not support "
                          "http method '%s'." % req.method)
        nav = segs[1]
        if nav in self.ent[e]["nav"] and len(segs) == 3 and \
                segs[2] == "$ref":
            return self.ref(req, e, key, nav, root)
        if nav in self.ent[e]["collections"] and len(segs) == 2 and \
                req.method == "GET":
            with self.lock:
                pk = self.lookup(e, key)
            return self.query(req, self.ent[e]["collections"][nav][0], root,
                              (self.ent[e]["collections"][nav][1], pk))
        raise DvError(404, "0x8006088a", "Resource not found for the segment"
                      " '%s'." % nav)

    def ok(self, obj, status=200, headers=None):
        return json_response(status, obj, [("OData-Version", "4.0")] +
                             list(headers or []), ODATA_CT)

    def entity_url(self, e, pk, root):
        return "%s/%s(%s)" % (root, self.ent[e]["set"], pk)

    def key_text(self, key):
        if key[0] == "pk":
            return key[1]
        return ",".join("%s='%s'" % (k, v) for k, v in key[1].items())

    def find(self, e, key):
        """The primary key of the row a key names, or None if none."""
        if key[0] == "pk":
            return key[1] if key[1] in self.store[e] else None
        pairs = key[1]
        pk_name = self.ent[e]["pk"]
        if list(pairs) == [pk_name]:
            v = pairs[pk_name].lower()
            return v if v in self.store[e] else None
        if list(pairs) != [self.altkey]:
            raise DvError(400, "0x80060888", "The key %s is not a valid key"
                          " of entity '%s'." % (",".join(pairs), e))
        return self.index[e].get(pairs[self.altkey].lower())

    def not_exist(self, e, key):
        if key[0] == "pk" or list(key[1]) == [self.ent[e]["pk"]]:
            pk = key[1] if key[0] == "pk" else key[1][self.ent[e]["pk"]]
            return DvError(404, "0x80040217", "%s With Id = %s Does Not "
                           "Exist" % (e, pk))
        return DvError(404, "0x80040217", "A record with the specified key "
                       "values does not exist in %s entity" % e)

    def lookup(self, e, key):
        pk = self.find(e, key)
        if pk is None:
            raise self.not_exist(e, key)
        return pk

    def etag(self, rec):
        return 'W/"%d"' % rec["versionnumber"]

    def select(self, req, e):
        sel = req.query.get("$select")
        if not sel:
            return None
        out = []
        for name in sel.split(","):
            name = name.strip()
            if name not in self.ent[e]["attrs"]:
                raise DvError(400, "0x0", "Could not find a property named "
                              "'%s' on type 'Microsoft.Dynamics.CRM.%s'." %
                              (name, e))
            out.append(name)
        return out

    def represent(self, e, rec, root, sel, entity=True):
        body = {}
        if entity:
            body["@odata.context"] = "%s/$metadata#%s/$entity" % (
                root, self.ent[e]["set"])
        body["@odata.etag"] = self.etag(rec)
        names = sel if sel is not None else list(self.ent[e]["attrs"])
        for a in names:
            body[a] = rec.get(a)
        body[self.ent[e]["pk"]] = rec[self.ent[e]["pk"]]
        return body

    def get(self, req, e, key, root):
        sel = self.select(req, e)
        with self.lock:
            pk = self.lookup(e, key)
            rec = self.store[e][pk]
            inm = req.header("if-none-match")
            if inm and inm.strip() == self.etag(rec):
                return Response(304, b"", [("OData-Version", "4.0")])
            return self.ok(self.represent(e, rec, root, sel))

    # -- parsing bodies --

    def parse_body(self, req, e):
        try:
            body = json.loads(req.body.decode("utf-8")) if req.body else {}
        except (ValueError, UnicodeDecodeError) as ex:
            raise payload_error(self.ent[e]["set"], "Newtonsoft.Json."
                                "JsonReaderException: %s" % ex)
        if not isinstance(body, dict):
            raise payload_error(self.ent[e]["set"], "Microsoft.OData."
                                "ODataException: An object was expected.")
        return body

    def parse_values(self, e, body, root, refs=None):
        """Checks a body against the entity's schema; returns (values,
        binds) where binds maps a lookup column to a key or None."""
        attrs = self.ent[e]["attrs"]
        navs = self.ent[e]["nav"]
        values, binds = {}, {}
        for k, v in body.items():
            if k.startswith("@odata."):
                continue
            if k.endswith("@odata.bind"):
                nav = k[:-len("@odata.bind")]
                if nav not in navs:
                    raise payload_error(self.ent[e]["set"], "Microsoft.OData."
                                        "ODataException: An undeclared "
                                        "property '%s' which only has "
                                        "property annotations in the payload"
                                        " but no property value was found in "
                                        "the payload. In OData, only declared"
                                        " navigation properties and declared "
                                        "named streams can be represented as "
                                        "properties without values." % nav)
                target, column = navs[nav]
                binds[column] = (target, None if v is None else
                                 self.parse_ref(v, target, nav, refs))
                continue
            if k not in attrs:
                raise DvError(400, "0x0", "An error occurred while validating"
                              " input parameters: Microsoft.Crm.CrmException:"
                              " Invalid property '%s' was found in entity "
                              "'Microsoft.Dynamics.CRM.%s'. ---> Microsoft."
                              "OData.ODataException: Does not support untyped"
                              " value in non-open type." % (k, e))
            kind = attrs[k]["kind"]
            if kind in ("ro", "pk"):
                raise DvError(400, "0x80040203", "The attribute '%s' of "
                              "entity '%s' cannot be set: it is read-only."
                              % (k, e))
            if v is not None and not isinstance(v, str):
                raise payload_error(self.ent[e]["set"], "Microsoft.OData."
                                    "ODataException: Cannot convert a "
                                    "primitive value to the expected type "
                                    "'Edm.%s'." % ("Date" if kind == "date"
                                                   else "String"))
            if kind == "date" and v is not None and not DATE_RE.match(v):
                raise payload_error(self.ent[e]["set"], "Microsoft.OData."
                                    "ODataException: Cannot convert the "
                                    "literal '%s' to the expected type "
                                    "'Edm.Date'." % v)
            values[k] = v
        return values, binds

    def parse_ref(self, text, target, nav, refs=None):
        """"/accounts(key)", "accounts(key)", an absolute URL or, in a change
        set, "$n" (the entity the request with Content-ID n wrote) -> key."""
        if not isinstance(text, str):
            raise payload_error(self.ent[target]["set"], "Microsoft.OData."
                                "ODataException: The value of an @odata.bind"
                                " annotation must be a string.")
        t = text
        if t.startswith("$") and t[1:].isdigit():
            if not refs or t[1:] not in refs:
                raise DvError(400, "0x0", "Content-ID Reference: '%s' does "
                              "not exist in the batch context." % t)
            t = refs[t[1:]]
        if "://" in t:
            t = urllib.parse.urlsplit(t).path
        t = urllib.parse.unquote(t)
        t = re.sub(r"^/?(api/data/v9\.\d/)?", "", t.lstrip("/"))
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$", t)
        if not m or m.group(1) != self.ent[target]["set"]:
            raise DvError(400, "0x80060888", "The URI '%s' in the @odata.bind"
                          " of '%s' does not name a %s record." % (text, nav,
                                                                   target))
        try:
            return parse_key(m.group(2))
        except ValueError:
            raise DvError(400, "0x80060888", "Bad Request - Error in query "
                          "syntax.")

    def check(self, e, values, binds, existing):
        """Per-record checks against the store; returns the values to write
        (lookups resolved to primary keys).  Caller holds the lock."""
        attrs = self.ent[e]["attrs"]
        for column, (target, key) in binds.items():
            values[column] = None if key is None else self.lookup(target,
                                                                  key)
        for k, v in values.items():
            spec = attrs[k]
            if v is not None and spec.get("length") and \
                    len(v) > spec["length"]:
                raise DvError(400, "0x80044331", "A validation error "
                              "occurred.  The length of the '%s' attribute of"
                              " the '%s' entity exceeded the maximum allowed "
                              "length of '%d'." % (k, e, spec["length"]))
        merged = dict(existing or {})
        merged.update(values)
        msg = self.faults.rejection(e, merged) or \
            self.faults.rejection(self.ent[e]["set"], merged)
        if msg:
            self.stats.record("rejected")
            raise DvError(400, "0x80040265", msg)
        return values

    # -- operations --

    def prefer(self, req, what):
        return any(p.strip().split(";")[0].strip() == what for p in
                   (req.header("prefer") or "").split(","))

    def written(self, req, e, pk, root, created):
        url = self.entity_url(e, pk, root)
        if self.prefer(req, "return=representation"):
            sel = self.select(req, e)
            return self.ok(self.represent(e, self.store[e][pk], root, sel),
                           201 if created else 200,
                           [("Preference-Applied", "return=representation"),
                            ("OData-EntityId", url)])
        headers = [("OData-Version", "4.0"), ("OData-EntityId", url)]
        if created and req.method == "POST":
            headers.append(("Location", url))
        return Response(204, b"", headers)

    def create(self, req, e, root):
        body = self.parse_body(req, e)
        values, binds = self.parse_values(e, body, root, req.refs)
        with self.lock:
            kv = values.get(self.altkey)
            if kv is not None and kv.lower() in self.index[e]:
                raise DvError(412, "0x80040237", "A record with matching key "
                              "values already exists.")
            values = self.check(e, values, binds, None)
            pk = self.write(e, str(uuid.uuid4()), values, True)
            return self.written(req, e, pk, root, True)

    def upsert(self, req, e, key, root):
        body = self.parse_body(req, e)
        values, binds = self.parse_values(e, body, root, req.refs)
        if key[0] == "alt" and self.altkey in key[1]:
            kv = key[1][self.altkey]
            if self.altkey in values and values[self.altkey] is not None and \
                    values[self.altkey].lower() != kv.lower():
                raise DvError(400, "0x80040203", "The value of '%s' in the "
                              "body differs from the one in the key." %
                              self.altkey)
        if_match = (req.header("if-match") or "").strip()
        if_none = (req.header("if-none-match") or "").strip()
        with self.lock:
            pk = self.find(e, key)
            if pk is None:
                if if_match:
                    raise self.not_exist(e, key)
                if key[0] == "alt":
                    values[self.altkey] = key[1][self.altkey]
                    new_pk = str(uuid.uuid4())
                else:
                    new_pk = key[1]
                values = self.check(e, values, binds, None)
                self.write(e, new_pk, values, True)
                return self.written(req, e, new_pk, root, True)
            rec = self.store[e][pk]
            if if_none == "*":
                raise DvError(412, "0x80040237", "A record with matching key"
                              " values already exists.")
            if if_match and if_match != "*" and if_match != self.etag(rec):
                raise DvError(412, "0x80060882", "The version of the "
                              "existing record doesn't match the RowVersion "
                              "property provided.")
            if self.altkey in values and values[self.altkey] is not None:
                other = self.index[e].get(values[self.altkey].lower())
                if other is not None and other != pk:
                    raise DvError(412, "0x80040237", "A record with matching"
                                  " key values already exists.")
            values = self.check(e, values, binds, rec)
            self.write(e, pk, values, False)
            return self.written(req, e, pk, root, False)

    def delete(self, req, e, key):
        if_match = (req.header("if-match") or "").strip()
        with self.lock:
            pk = self.lookup(e, key)
            if if_match and if_match != "*" and \
                    if_match != self.etag(self.store[e][pk]):
                raise DvError(412, "0x80060882", "The version of the "
                              "existing record doesn't match the RowVersion "
                              "property provided.")
            self.remove(e, pk)
        return Response(204, b"", [("OData-Version", "4.0")])

    def ref(self, req, e, key, nav, root):
        target, column = self.ent[e]["nav"][nav]
        if req.method == "DELETE":
            with self.lock:
                pk = self.lookup(e, key)
                if self.store[e][pk].get(column) is not None:
                    self.write(e, pk, {column: None}, False)
            return Response(204, b"", [("OData-Version", "4.0")])
        if req.method == "PUT":
            body = self.parse_body(req, e)
            ref = body.get("@odata.id")
            tkey = self.parse_ref(ref, target, nav, req.refs)
            with self.lock:
                pk = self.lookup(e, key)
                values = self.check(e, {}, {column: (target, tkey)},
                                    self.store[e][pk])
                self.write(e, pk, values, False)
            return Response(204, b"", [("OData-Version", "4.0")])
        raise DvError(405, "", "The requested resource does not support http"
                      " method '%s'." % req.method)

    # -- queries --

    FILTER_RE = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|"
                           r"(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-"
                           r"[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})|"
                           r"(?P<num>-?\d+(?:\.\d+)?)(?![\w-])|"
                           r"(?P<word>[A-Za-z_][A-Za-z0-9_/]*))")

    def parse_filter(self, e, text):
        toks, pos = [], 0
        while pos < len(text.rstrip()):
            m = self.FILTER_RE.match(text, pos)
            if not m or m.end() == pos:
                raise DvError(400, "0x80060888", "Syntax error at position "
                              "%d in '%s'." % (pos, text))
            kind = m.lastgroup
            toks.append((kind, m.group(kind), pos))
            pos = m.end()
        conds, i = [], 0
        while True:
            if i + 3 > len(toks):
                raise DvError(400, "0x80060888", "Syntax error at position "
                              "%d in '%s'." % (len(text), text))
            (k1, path, p1), (k2, op, p2), (k3, val, p3) = toks[i:i + 3]
            if k1 != "word" or k2 != "word" or op not in ("eq", "ne"):
                raise DvError(400, "0x80060888", "Syntax error at position "
                              "%d in '%s'. The sandbox supports only 'eq' and"
                              " 'ne' joined by 'and'." % (p2, text))
            conds.append((self.filter_path(e, path), op,
                          self.filter_value(k3, val)))
            i += 3
            if i == len(toks):
                return conds
            if toks[i][0] != "word" or toks[i][1] != "and":
                raise DvError(400, "0x80060888", "Syntax error at position "
                              "%d in '%s'." % (toks[i][2], text))
            i += 1

    def filter_path(self, e, path):
        parts = path.split("/")
        if len(parts) == 1:
            if parts[0] not in self.ent[e]["attrs"]:
                raise DvError(400, "0x0", "Could not find a property named "
                              "'%s' on type 'Microsoft.Dynamics.CRM.%s'." %
                              (parts[0], e))
            return (None, parts[0])
        if len(parts) == 2 and parts[0] in self.ent[e]["nav"]:
            target, column = self.ent[e]["nav"][parts[0]]
            if parts[1] in self.ent[target]["attrs"]:
                return ((column, target), parts[1])
        raise DvError(400, "0x0", "Could not find a property named '%s' on "
                      "type 'Microsoft.Dynamics.CRM.%s'." % (path, e))

    def filter_value(self, kind, val):
        if kind == "str":
            return val[1:-1].replace("''", "'")
        if kind == "guid":
            return val.lower()
        if kind == "word" and val in ("null", "true", "false"):
            return None if val == "null" else val
        if kind == "num":
            return val
        raise DvError(400, "0x80060888", "Syntax error: unexpected '%s'." %
                      val)

    def matches(self, e, rec, conds):
        for (nav, attr), op, want in conds:
            if nav is None:
                have = rec.get(attr)
            else:
                column, target = nav
                trec = self.store[target].get(rec.get(column)) \
                    if rec.get(column) else None
                have = trec.get(attr) if trec else None
            if have is not None and not isinstance(have, str):
                have = str(have)
            same = (have is None and want is None) or (
                have is not None and want is not None and
                have.lower() == want.lower())
            if same != (op == "eq"):
                return False
        return True

    def query(self, req, e, root, parent):
        sel = self.select(req, e)
        conds = self.parse_filter(e, req.query["$filter"]) \
            if req.query.get("$filter") else []
        top = req.query.get("$top")
        if top is not None and not top.isdigit():
            raise DvError(400, "0x80060888", "Invalid value for $top.")
        page = PAGE_MAX
        for p in (req.header("prefer") or "").split(","):
            p = p.strip()
            if p.startswith("odata.maxpagesize="):
                try:
                    page = max(1, min(PAGE_MAX, int(p.split("=", 1)[1])))
                except ValueError:
                    pass
        skip = req.query.get("$skiptoken", "0")
        skip = int(skip) if skip.isdigit() else 0
        with self.lock:
            rows = [r for r in self.store[e].values()
                    if (parent is None or r.get(parent[0]) == parent[1])
                    and self.matches(e, r, conds)]
            rows.sort(key=lambda r: r["versionnumber"])
            if top is not None:
                rows = rows[:int(top)]
            chunk = rows[skip:skip + page]
            body = {"@odata.context": "%s/$metadata#%s" % (
                root, self.ent[e]["set"]),
                "value": [self.represent(e, r, root, sel, False)
                          for r in chunk]}
        headers = []
        if skip + page < len(rows):
            q = dict(req.query)
            q["$skiptoken"] = str(skip + page)
            body["@odata.nextLink"] = "%s%s?%s" % (
                self.org, req.raw_path, urllib.parse.urlencode(q))
            headers.append(("Preference-Applied",
                            "odata.maxpagesize=%d" % page))
        return self.ok(body, 200, headers)

    # ---- $batch ---------------------------------------------------------------

    def boundary(self, ctype):
        if not ctype or not ctype.lower().startswith("multipart/mixed"):
            return None
        m = re.search(r'boundary="?([^";]+)"?', ctype, re.I)
        return m.group(1) if m else None

    def split_multipart(self, body, bnd):
        """The parts of a multipart body as (headers dict, content)."""
        delim = b"--" + bnd.encode("latin-1")
        chunks = body.split(delim)
        parts = []
        for chunk in chunks[1:]:
            if chunk.startswith(b"--"):
                break
            if chunk.startswith(b"\r\n"):
                chunk = chunk[2:]
            if chunk.endswith(b"\r\n"):
                chunk = chunk[:-2]
            head, sep, content = chunk.partition(b"\r\n\r\n")
            if not sep:
                head, content = chunk, b""
                if head.strip() == b"":
                    continue
            headers = {}
            for line in head.decode("latin-1").split("\r\n"):
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            parts.append((headers, content))
        else:
            raise ValueError("no closing delimiter")
        return parts

    def inner_request(self, content, ver, refs):
        """An application/http part -> Request (inner)."""
        head, sep, body = content.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        while lines and lines[0] == "":
            lines.pop(0)
        if not lines:
            raise ValueError("empty request")
        words = lines[0].split()
        if len(words) < 2:
            raise ValueError("bad request line")
        method, url = words[0], words[1]
        if url.startswith("$") and url[1:].split("/")[0].isdigit():
            ref = url[1:].split("/")[0]
            if ref not in refs:
                raise KeyError(url.split("/")[0])
            url = refs[ref] + url[1 + len(ref):]
        if "://" in url:
            url = urllib.parse.urlsplit(url)
            url = url.path + ("?" + url.query if url.query else "")
        elif not url.startswith("/"):
            url = "/api/data/%s/%s" % (ver, url)
        headers = []
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers.append((k.strip(), v.strip()))
        if body.endswith(b"\r\n"):
            body = body[:-2]
        body = body.strip()
        req = Request(method, url, headers, body)
        req.inner = True
        req.refs = refs
        return req

    def encode_response(self, resp, content_id=None):
        lines = ["Content-Type: application/http",
                 "Content-Transfer-Encoding: binary"]
        if content_id is not None:
            lines.append("Content-ID: %s" % content_id)
        out = "\r\n".join(lines) + "\r\n\r\n"
        out += "HTTP/1.1 %d %s\r\n" % (resp.status, reason(resp.status))
        for k, v in resp.headers:
            out += "%s: %s\r\n" % (k, v)
        out += "\r\n"
        return out.encode("latin-1") + resp.body + b"\r\n"

    def run_inner(self, req):
        try:
            resp = self.handle(req)
        except DvError as e:
            resp = e.response()
        self.stats.call("batch_item_" + self.route_name(req), resp.status)
        return resp

    def batch(self, req, ver):
        bnd = self.boundary(req.header("content-type"))
        if bnd is None:
            raise DvError(400, "0x0", "The batch request must have a "
                          "\"Content-Type\" header of type multipart/mixed "
                          "with a boundary parameter.")
        if b"\r\n" not in req.body:
            raise payload_error("", "System.ArgumentException: Stream was "
                                "not readable.")
        try:
            items = self.split_multipart(req.body, bnd)
        except ValueError:
            raise DvError(400, "0x0", "The batch request body is not a valid"
                          " multipart/mixed message.")
        plan, count = [], 0
        for headers, content in items:
            cbnd = self.boundary(headers.get("content-type"))
            if cbnd is not None:
                try:
                    subs = self.split_multipart(content, cbnd)
                except ValueError:
                    raise DvError(400, "0x0", "The change set is not a valid"
                                  " multipart/mixed message.")
                plan.append(("changeset", subs))
                count += len(subs)
            else:
                plan.append(("request", (headers, content)))
                count += 1
        if count > BATCH_MAX:
            raise DvError(400, "0x80040203", "Number of requests in a batch "
                          "exceeds the limit of %d." % BATCH_MAX)
        cont = self.prefer(req, "odata.continue-on-error")
        rbnd = "batchresponse_%s" % uuid.uuid4()
        out, status = [], 200
        with self.lock:
            for kind, item in plan:
                if kind == "request":
                    headers, content = item
                    try:
                        ireq = self.inner_request(content, ver, {})
                    except (ValueError, KeyError) as ex:
                        raise DvError(400, "0x0", "Invalid request in batch:"
                                      " %s" % ex)
                    resp = self.run_inner(ireq)
                    out.append(self.encode_response(resp))
                    failed = resp.status >= 400
                else:
                    part, resp = self.changeset(item, ver)
                    out.append(part)
                    failed = resp is not None
                if failed and not cont:
                    status = resp.status
                    break
        body = b"".join(b"--" + rbnd.encode() + b"\r\n" + p for p in out)
        body += b"--" + rbnd.encode() + b"--\r\n"
        headers = [("OData-Version", "4.0")]
        if cont:
            headers.append(("Preference-Applied", "odata.continue-on-error"))
        return Response(status, body, headers,
                        "multipart/mixed; boundary=%s" % rbnd)

    def changeset(self, subs, ver):
        """Runs a change set atomically.  Returns (encoded part, failing
        response or None)."""
        self.undo, self.undo_seen = [], set()
        refs, done = {}, []
        try:
            for headers, content in subs:
                cid = headers.get("content-id")
                try:
                    ireq = self.inner_request(content, ver, refs)
                except KeyError as ex:
                    resp = DvError(400, "0x0", "Content-ID Reference: '%s' "
                                   "does not exist in the batch context." %
                                   ex.args[0]).response()
                except ValueError as ex:
                    resp = DvError(400, "0x0", "Invalid request in change "
                                   "set: %s" % ex).response()
                else:
                    if ireq.method == "GET":
                        resp = DvError(400, "0x0", "GET requests are not "
                                       "allowed in a change set."
                                       ).response()
                    else:
                        resp = self.run_inner(ireq)
                if resp.status >= 400:
                    self.rollback(self.undo)
                    return self.encode_response(resp, cid), resp
                loc = resp.header("OData-EntityId")
                if cid is not None and loc:
                    refs[cid] = urllib.parse.urlsplit(loc).path
                done.append((resp, cid))
        finally:
            self.undo, self.undo_seen = None, None
        cbnd = "changesetresponse_%s" % uuid.uuid4()
        part = ("Content-Type: multipart/mixed; boundary=%s\r\n\r\n" %
                cbnd).encode()
        for resp, cid in done:
            part += b"--" + cbnd.encode() + b"\r\n" + \
                self.encode_response(resp, cid)
        part += b"--" + cbnd.encode() + b"--\r\n"
        return part, None


def main():
    p = common_args("Dataverse sandbox: Web API and Microsoft identity "
                    "platform token endpoint stand-in.")
    p.add_argument("--org-url", help="the environment URL this sandbox "
                   "claims to be (default http://HOST:PORT); tokens are "
                   "issued for scope ORG_URL/.default")
    p.add_argument("--tenant", help="the only tenant accepted in the token "
                   "URL (default: any)")
    p.add_argument("--alternate-key", default="new_rolodexid",
                   help="alternate key column of contacts and accounts")
    return serve(Dataverse, p)


if __name__ == "__main__":
    sys.exit(main())
