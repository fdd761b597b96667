#!/usr/bin/env python3
# tests/sandbox/test_sandbox.py - self-test of the SaaS sandboxes.
#
# Starts salesforce.py and dataverse.py on free loopback ports (plus short-
# lived extra instances for the shutdown and state-file tests), exercises
# each endpoint, each error body and each fault mode over real HTTP, and
# prints one line per test and, last, "N passed, M failed".  Exit status 0
# when nothing failed, 77 when python3 or openssl is missing.
#
#   python3 tests/sandbox/test_sandbox.py [-k substring] [-v]
#
# Every server it starts is stopped on exit, also on failure or Ctrl-C.

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True     # keep the source tree clean
sys.path.insert(0, HERE)
from salesforce import id18, norm_id  # noqa: E402

SF_ID, SF_SECRET = "sf-test-client", "sf-test-secret"
DV_ID, DV_SECRET = "11111111-2222-3333-4444-555555555555", "dv-test-secret"
JWT_USER = "integration@rolodex.test"
TENANT = "contoso.onmicrosoft.com"
V = "v60.0"
PROCS = []
TMP = tempfile.mkdtemp(prefix="rlx-sbx-test.")


# ---- plumbing -------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(script, *args, env=None):
    """Starts a sandbox on a free port; returns (process, port)."""
    pf = os.path.join(TMP, "port.%d" % len(PROCS))
    log = open(os.path.join(TMP, "%s.%d.log" % (script, len(PROCS))), "w")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, script),
                             "--port", "0", "--port-file", pf] + list(args),
                            stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(proc)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited: see %s" % (script, log.name))
        if os.path.exists(pf):
            port = int(open(pf).read())
            try:
                st, _, _ = call("GET", port, "/__sandbox/health")
                if st == 200:
                    return proc, port
            except OSError:
                pass
        time.sleep(0.05)
    raise RuntimeError("%s did not start" % script)


def stop_all():
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
    for p in PROCS:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    shutil.rmtree(TMP, ignore_errors=True)


def call(method, port, path, body=None, headers=None, timeout=10):
    """One HTTP exchange; returns (status, headers dict lower-case, body)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
        h.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def js(data):
    return json.loads(data.decode("utf-8"))


def form(**kw):
    return urllib.parse.urlencode(kw), {
        "Content-Type": "application/x-www-form-urlencoded"}


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what or "values", a, b))


# ---- fixtures -----------------------------------------------------------------------

class Env:
    sf = dv = None
    sf_token = dv_token = None


E = Env()


def make_keys():
    key = os.path.join(TMP, "jwt.key")
    cert = os.path.join(TMP, "jwt.crt")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                        "-subj", "/CN=rolodex-sandbox-test"],
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.decode())
    other = os.path.join(TMP, "other.key")
    subprocess.run(["openssl", "genrsa", "-out", other, "2048"],
                   capture_output=True, timeout=60, check=True)
    return key, cert, other


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(key, claims, alg="RS256"):
    head = b64u(json.dumps({"alg": alg}).encode())
    body = b64u(json.dumps(claims).encode())
    signing = (head + "." + body).encode()
    r = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                       input=signing, capture_output=True, timeout=20,
                       check=True)
    return head + "." + body + "." + b64u(r.stdout)


def sf_token(port=None):
    body, h = form(grant_type="client_credentials", client_id=SF_ID,
                   client_secret=SF_SECRET)
    st, _, data = call("POST", port or E.sf, "/services/oauth2/token", body,
                       h)
    eq(st, 200, "token status")
    return js(data)["access_token"]


def dv_token(port=None, org=None):
    port = port or E.dv
    org = org or "http://127.0.0.1:%d" % port
    body, h = form(grant_type="client_credentials", client_id=DV_ID,
                   client_secret=DV_SECRET, scope=org + "/.default")
    st, _, data = call("POST", port, "/%s/oauth2/v2.0/token" % TENANT, body,
                       h)
    eq(st, 200, "token status")
    return js(data)["access_token"]


def sf(method, path, body=None, token=None, headers=None, port=None):
    h = {"Authorization": "Bearer %s" % (token or E.sf_token)}
    h.update(headers or {})
    return call(method, port or E.sf, "/services/data/%s%s" % (V, path),
                body, h)


def dv(method, path, body=None, token=None, headers=None):
    h = {"Authorization": "Bearer %s" % (token or E.dv_token)}
    h.update(headers or {})
    return call(method, E.dv, "/api/data/v9.2" + path, body, h)


def config(port, **kw):
    st, _, data = call("POST", port, "/__sandbox/config", kw)
    eq(st, 200, "config status: %s" % data)


def reset(port):
    st, _, _ = call("POST", port, "/__sandbox/reset")
    eq(st, 200, "reset")


def records(port, obj):
    st, _, data = call("GET", port, "/__sandbox/records/" + obj)
    eq(st, 200, "records")
    return js(data)


def contact(ext, **fields):
    r = {"attributes": {"type": "Contact"}, "Rolodex_Id__c": ext}
    r.update(fields)
    return r


def sf_err(data):
    body = js(data)
    check(isinstance(body, list) and body and "errorCode" in body[0] and
          "message" in body[0], "not a Salesforce error array: %r" % body)
    return body[0]


def dv_err(data):
    body = js(data)
    check(isinstance(body, dict) and set(body) == {"error"} and
          "code" in body["error"] and "message" in body["error"],
          "not an OData error: %r" % body)
    return body["error"]


def batch_body(boundary, parts):
    """parts: list of (method, url, body-dict-or-None, content_id or None,
    changeset-name or None)."""
    out, i = [], 0
    while i < len(parts):
        m, url, body, cid, cs = parts[i]
        if cs is None:
            out.append("--%s\r\nContent-Type: application/http\r\n"
                       "Content-Transfer-Encoding: binary\r\n\r\n" % boundary)
            out.append(inner(m, url, body))
            i += 1
            continue
        out.append("--%s\r\nContent-Type: multipart/mixed; boundary=%s\r\n"
                   "\r\n" % (boundary, cs))
        while i < len(parts) and parts[i][4] == cs:
            m, url, body, cid, _ = parts[i]
            out.append("--%s\r\nContent-Type: application/http\r\n"
                       "Content-Transfer-Encoding: binary\r\n" % cs)
            if cid is not None:
                out.append("Content-ID: %s\r\n" % cid)
            out.append("\r\n" + inner(m, url, body))
            i += 1
        out.append("--%s--\r\n" % cs)
    out.append("--%s--\r\n" % boundary)
    return "".join(out)


def inner(method, url, body):
    s = "%s %s HTTP/1.1\r\n" % (method, url)
    if body is not None:
        s += "Content-Type: application/json; type=entry\r\n\r\n%s\r\n" % \
            json.dumps(body)
    else:
        s += "\r\n"
    return s


def parse_batch(headers, data):
    """A batch response -> list of (status, content_id, headers, body)."""
    m = re.search(r"boundary=([^;]+)", headers["content-type"])
    check(m, "no boundary in %r" % headers["content-type"])
    return parse_parts(data, m.group(1))


def parse_parts(data, bnd):
    out = []
    for chunk in data.split(b"--" + bnd.encode())[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, rest = chunk.strip(b"\r\n").partition(b"\r\n\r\n")
        hs = {}
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(":")
            hs[k.strip().lower()] = v.strip()
        m = re.search(r"boundary=([^;]+)", hs.get("content-type", ""))
        if m:
            out.extend(parse_parts(rest, m.group(1)))
            continue
        status_line, _, rest2 = rest.partition(b"\r\n")
        ihead, _, ibody = rest2.partition(b"\r\n\r\n")
        ih = {}
        for line in ihead.decode().split("\r\n"):
            k, _, v = line.partition(":")
            if k:
                ih[k.strip().lower()] = v.strip()
        out.append((int(status_line.split()[1]), hs.get("content-id"), ih,
                    ibody.strip(b"\r\n")))
    return out


# ---- Salesforce: ids and tokens ---------------------------------------------------

def test_sf_id_checksum():
    # the example id of the Salesforce upsert documentation
    eq(id18("00190000001pPvH"), "00190000001pPvHAAU", "18-char id")
    eq(norm_id("00190000001pPvH"), "00190000001pPvHAAU", "15 -> 18")
    eq(norm_id("00190000001pPvHAAA"), None, "bad suffix refused")
    eq(norm_id("0019000000"), None, "short id refused")


def test_sf_token_client_credentials():
    body, h = form(grant_type="client_credentials", client_id=SF_ID,
                   client_secret=SF_SECRET)
    st, _, data = call("POST", E.sf, "/services/oauth2/token", body, h)
    eq(st, 200)
    t = js(data)
    for k in ("access_token", "signature", "instance_url", "id",
              "token_type", "issued_at"):
        check(k in t, "token response lacks %s" % k)
    eq(t["token_type"], "Bearer")
    eq(t["instance_url"], "http://127.0.0.1:%d" % E.sf)
    check("expires_in" not in t, "Salesforce sends no expires_in")
    # HTTP Basic client authentication works too
    basic = base64.b64encode(("%s:%s" % (SF_ID, SF_SECRET)).encode())
    st, _, _ = call("POST", E.sf, "/services/oauth2/token",
                    "grant_type=client_credentials",
                    {"Content-Type": "application/x-www-form-urlencoded",
                     "Authorization": "Basic " + basic.decode()})
    eq(st, 200, "basic auth")


def test_sf_token_errors():
    cases = [
        (dict(grant_type="client_credentials", client_id=SF_ID,
              client_secret="wrong"), "invalid_client",
         "invalid client credentials"),
        (dict(grant_type="client_credentials", client_id="nobody",
              client_secret=SF_SECRET), "invalid_client_id",
         "client identifier invalid"),
        (dict(grant_type="password", client_id=SF_ID), "unsupported_grant_type",
         "grant type not supported"),
        (dict(client_id=SF_ID), "unsupported_grant_type",
         "grant type not supported"),
    ]
    for params, err, desc in cases:
        body, h = form(**params)
        st, _, data = call("POST", E.sf, "/services/oauth2/token", body, h)
        eq(st, 400, "status for %s" % err)
        eq(js(data), {"error": err, "error_description": desc})


def test_sf_token_jwt_bearer():
    key = E.keys[0]
    now = int(time.time())
    good = dict(iss=SF_ID, sub=JWT_USER, aud="https://login.salesforce.com",
                exp=now + 120)
    body, h = form(grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer",
                   assertion=jwt(key, good))
    st, _, data = call("POST", E.sf, "/services/oauth2/token", body, h)
    eq(st, 200, "good assertion: %s" % data)
    t = js(data)
    eq(t["token_type"], "Bearer")
    st, _, _ = sf("GET", "/sobjects", token=t["access_token"])
    eq(st, 200, "the JWT token works")
    bad = [
        (jwt(E.keys[2], good), "invalid_grant", "invalid assertion"),
        (jwt(key, dict(good, aud="https://evil.example")), "invalid_grant",
         "audience is invalid"),
        (jwt(key, dict(good, exp=now - 100)), "invalid_grant",
         "expired authorization code"),
        (jwt(key, dict(good, exp=now + 3600)), "invalid_grant",
         "expired authorization code"),
        (jwt(key, dict(good, iss="other")), "invalid_client_id",
         "client identifier invalid"),
        (jwt(key, dict(good, sub="someone@else")), "invalid_grant",
         "user hasn't approved this consumer"),
        ("not.a.jwt", "invalid_grant", "invalid assertion"),
    ]
    for assertion, err, desc in bad:
        body, h = form(grant_type="urn:ietf:params:oauth:grant-type:"
                       "jwt-bearer", assertion=assertion)
        st, _, data = call("POST", E.sf, "/services/oauth2/token", body, h)
        eq(st, 400, "status for %s" % desc)
        eq(js(data), {"error": err, "error_description": desc})


def test_sf_invalid_session():
    for token in ("", "garbage"):
        st, _, data = call("GET", E.sf, "/services/data/%s/sobjects" % V,
                           headers={"Authorization": "Bearer " + token}
                           if token else {})
        eq(st, 401)
        eq(js(data), [{"message": "Session expired or invalid",
                       "errorCode": "INVALID_SESSION_ID"}])


def test_sf_token_expiry():
    config(E.sf, token_lifetime_s=1)
    tok = sf_token()
    st, _, _ = sf("GET", "/sobjects", token=tok)
    eq(st, 200, "fresh token")
    time.sleep(1.2)
    st, _, data = sf("GET", "/sobjects", token=tok)
    eq(st, 401, "expired token")
    eq(sf_err(data)["errorCode"], "INVALID_SESSION_ID")
    # expire-tokens ends every token at once
    config(E.sf, token_lifetime_s=None)
    tok = sf_token()
    st, _, data = call("POST", E.sf, "/__sandbox/expire-tokens")
    check(js(data)["expired"] >= 1)
    st, _, _ = sf("GET", "/sobjects", token=tok)
    eq(st, 401, "after expire-tokens")
    E.sf_token = sf_token()


# ---- Salesforce: records ----------------------------------------------------------------

def test_sf_upsert_create_update():
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/p-1",
                     {"FirstName": "Ada", "LastName": "Lovelace"})
    eq(st, 201, "create")
    r = js(data)
    eq(set(r), {"id", "success", "errors", "created"})
    check(r["success"] and r["created"] and r["errors"] == [])
    check(len(r["id"]) == 18 and r["id"].startswith("003") and
          norm_id(r["id"]) == r["id"], "18-char Contact id: %s" % r["id"])
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/p-1",
                     {"Email": "ada@example.com"})
    eq(st, 200, "update")
    r2 = js(data)
    eq(r2["id"], r["id"])
    eq(r2["created"], False)
    # before API 46.0 an update answers 204 without a body
    st, _, data = call("PATCH", E.sf, "/services/data/v45.0/sobjects/Contact/"
                       "Rolodex_Id__c/p-1", {"Phone": "+44 20 7946 0000"},
                       {"Authorization": "Bearer " + E.sf_token})
    eq(st, 204, "v45.0 update")
    eq(data, b"")
    recs = records(E.sf, "Contact")
    eq(len(recs), 1)
    eq((recs[0]["FirstName"], recs[0]["LastName"], recs[0]["Email"],
        recs[0]["Phone"], recs[0]["Name"]),
       ("Ada", "Lovelace", "ada@example.com", "+44 20 7946 0000",
        "Ada Lovelace"))
    # read it back by external id and by record id
    st, _, data = sf("GET", "/sobjects/Contact/Rolodex_Id__c/p-1")
    eq(st, 200)
    eq(js(data)["Id"], r["id"])
    eq(js(data)["attributes"]["type"], "Contact")
    st, _, data = sf("GET", "/sobjects/Contact/" + r["id"][:15])
    eq((st, js(data)["Email"]), (200, "ada@example.com"), "by 15-char id")
    # field names are case-insensitive; empty string clears
    st, _, _ = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/p-1",
                  {"email": ""})
    eq(st, 200)
    eq(records(E.sf, "Contact")[0]["Email"], None, "cleared")


def test_sf_upsert_errors():
    cases = [
        ({"LastName": "X", "Shoe_Size__c": 3}, 400, "INVALID_FIELD"),
        ({"FirstName": "No last name"}, 400, "REQUIRED_FIELD_MISSING"),
        ({"LastName": "L" * 81}, 400, "STRING_TOO_LONG"),
        ({"LastName": "X", "Email": "not-an-email"}, 400,
         "INVALID_EMAIL_ADDRESS"),
        ({"LastName": "X", "AccountId": "001xyz"}, 400, "MALFORMED_ID"),
        ({"LastName": "X", "Name": "computed"}, 400,
         "INVALID_FIELD_FOR_INSERT_UPDATE"),
        ({"LastName": "X", "Birthdate": "31/12/1990"}, 400,
         "JSON_PARSER_ERROR"),
        ({"LastName": "X", "Account": {"Rolodex_Id__c": "nope"}}, 400,
         "INVALID_FIELD"),
    ]
    for body, status, code in cases:
        st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1", body)
        eq(st, status, "status for %s" % code)
        eq(sf_err(data)["errorCode"], code, "code for %r" % body)
    e = None
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1",
                     {"FirstName": "x"})
    e = sf_err(data)
    eq(e["fields"], ["LastName"])
    eq(e["message"], "Required fields are missing: [LastName]")
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1",
                     "{not json")
    eq((st, sf_err(data)["errorCode"]), (400, "JSON_PARSER_ERROR"))
    st, _, data = sf("PATCH", "/sobjects/Contact/Nope__c/e-1",
                     {"LastName": "X"})
    eq((st, sf_err(data)["errorCode"]), (404, "NOT_FOUND"), "bad ext field")
    st, _, data = sf("PATCH", "/sobjects/Lead/Rolodex_Id__c/e-1",
                     {"LastName": "X"})
    eq((st, sf_err(data)["errorCode"]), (404, "NOT_FOUND"), "bad object")
    st, _, data = sf("PUT", "/sobjects/Contact/Rolodex_Id__c/e-1",
                     {"LastName": "X"})
    eq((st, sf_err(data)["errorCode"]), (405, "METHOD_NOT_ALLOWED"))
    eq(records(E.sf, "Contact"), [], "nothing was written")
    # an update needs no LastName, but must not clear it
    sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1", {"LastName": "X"})
    st, _, _ = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1",
                  {"Title": "Dr"})
    eq(st, 200)
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/e-1",
                     {"LastName": None})
    eq((st, sf_err(data)["errorCode"]), (400, "REQUIRED_FIELD_MISSING"))


def test_sf_relationship_query_unlink():
    st, _, data = sf("PATCH", "/sobjects/Account/Rolodex_Id__c/o-1",
                     {"Name": "Acme", "Website": "acme.example"})
    eq(st, 201)
    acc = js(data)["id"]
    check(acc.startswith("001") and len(acc) == 18, "Account id %s" % acc)
    for p in ("p-1", "p-2"):
        st, _, _ = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/" + p,
                      {"LastName": p, "Account": {"Rolodex_Id__c": "o-1"}})
        eq(st, 201)
    sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/p-3", {"LastName": "p-3"})
    for q in ("SELECT Id FROM Contact WHERE Account.Rolodex_Id__c = 'o-1'",
              "SELECT Id FROM Contact WHERE AccountId = '%s'" % acc,
              "select id, lastname from contact where accountid = '%s' "
              "and LastName != 'zzz' order by LastName" % acc[:15]):
        st, _, data = sf("GET", "/query?" + urllib.parse.urlencode({"q": q}))
        eq(st, 200, q)
        res = js(data)
        eq((res["totalSize"], res["done"]), (2, True), q)
        check(all(r["Id"].startswith("003") and
                  r["attributes"]["type"] == "Contact"
                  for r in res["records"]))
    st, _, data = sf("GET", "/query?" + urllib.parse.urlencode(
        {"q": "SELECT Id, Account.Rolodex_Id__c FROM Contact WHERE "
         "Rolodex_Id__c IN ('p-1','p-3') ORDER BY Rolodex_Id__c"}))
    recs = js(data)["records"]
    eq(recs[0]["Account"]["Rolodex_Id__c"], "o-1")
    eq(recs[1]["Account"], None)
    for bad, code in (("SELECT FROM Contact", "MALFORMED_QUERY"),
                      ("SELECT Id FROM Contact WHERE LastName = 'a' OR "
                       "LastName = 'b'", "MALFORMED_QUERY"),
                      ("SELECT Nope FROM Contact", "INVALID_FIELD"),
                      ("SELECT Id FROM Lead", "NOT_FOUND")):
        st, _, data = sf("GET", "/query?" + urllib.parse.urlencode(
            {"q": bad}))
        eq(sf_err(data)["errorCode"], code, bad)
    # unlink one contact by record id, then delete the Account
    st, _, data = sf("GET", "/query?" + urllib.parse.urlencode(
        {"q": "SELECT Id FROM Contact WHERE Rolodex_Id__c = 'p-1'"}))
    cid = js(data)["records"][0]["Id"]
    st, _, data = sf("PATCH", "/sobjects/Contact/" + cid, {"AccountId": None})
    eq(st, 204, "unlink")
    st, _, _ = sf("DELETE", "/sobjects/Account/Rolodex_Id__c/o-1")
    eq(st, 204, "delete Account")
    left = sorted(r["Rolodex_Id__c"] for r in records(E.sf, "Contact"))
    eq(left, ["p-1", "p-3"], "the linked Contact went with its Account")
    st, _, data = sf("DELETE", "/sobjects/Account/Rolodex_Id__c/o-1")
    eq((st, sf_err(data)["errorCode"]), (404, "NOT_FOUND"), "delete again")
    st, _, data = sf("GET", "/sobjects/Account/" + acc)
    eq((st, sf_err(data)["errorCode"]), (404, "ENTITY_IS_DELETED"))
    stats = js(call("GET", E.sf, "/__sandbox/stats")[2])
    eq(stats["records"]["cascade_deleted"], 1)


def test_sf_collection_upsert():
    config(E.sf, reject=[{"object": "Contact", "field": "LastName",
                          "prefix": "BAD"}])
    recs = [contact("c-1", LastName="One"), contact("c-2", LastName="BADx"),
            contact("c-3", LastName="Three")]
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c",
                     {"allOrNone": False, "records": recs})
    eq(st, 200)
    res = js(data)
    eq(len(res), 3)
    eq([r["success"] for r in res], [True, False, True])
    eq(res[1]["errors"][0]["statusCode"], "FIELD_CUSTOM_VALIDATION_EXCEPTION")
    eq(set(res[1]["errors"][0]), {"statusCode", "message", "fields"})
    eq([r.get("created") for r in res], [True, None, True])
    eq(sorted(r["Rolodex_Id__c"] for r in records(E.sf, "Contact")),
       ["c-1", "c-3"])
    # fixed, then replayed: an update of c-1 and the create of c-2
    config(E.sf, reject=[])
    recs[1]["LastName"] = "Two"
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c",
                     {"allOrNone": False, "records": recs})
    eq([(r["success"], r["created"]) for r in js(data)],
       [(True, False), (True, True), (True, False)])
    # allOrNone: one bad record rolls back the others
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "allOrNone": True, "records": [contact("c-4", LastName="Four"),
                                       contact("c-5")]})
    res = js(data)
    eq([r["success"] for r in res], [False, False])
    eq(res[0]["errors"][0]["statusCode"], "ALL_OR_NONE_OPERATION_ROLLED_BACK")
    eq(res[1]["errors"][0]["statusCode"], "REQUIRED_FIELD_MISSING")
    eq(len(records(E.sf, "Contact")), 3, "nothing of the allOrNone call")
    # the same external id twice in one call
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [contact("d-1", LastName="A"), contact("D-1",
                                                          LastName="B")]})
    eq([r["errors"][0]["statusCode"] for r in js(data)],
       ["DUPLICATE_VALUE", "DUPLICATE_VALUE"])
    # request-level errors
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [contact("x-%d" % i, LastName="x") for i in range(201)]})
    eq((st, sf_err(data)["errorCode"]), (400, "EXCEEDED_ID_LIMIT"))
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [{"Rolodex_Id__c": "x", "LastName": "x"}]})
    eq((st, sf_err(data)["errorCode"]), (400, "INVALID_TYPE"))
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [contact("x", LastName="x", Bogus__c=1)]})
    eq((st, sf_err(data)["errorCode"]), (400, "INVALID_FIELD"))
    eq(len(records(E.sf, "Contact")), 3)


def test_sf_collection_relationships_update_delete():
    sf("PATCH", "/composite/sobjects/Account/Rolodex_Id__c", {"records": [
        {"attributes": {"type": "Account"}, "Rolodex_Id__c": "o-9",
         "Name": "Nine"}]})
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [contact("k-1", LastName="K1",
                            Account={"Rolodex_Id__c": "o-9"}),
                    contact("k-2", LastName="K2",
                            Account={"Rolodex_Id__c": "o-missing"})]})
    res = js(data)
    eq(res[0]["success"], True)
    eq(res[1]["errors"][0]["statusCode"], "INVALID_FIELD")
    check("Foreign key external ID: o-missing not found" in
          res[1]["errors"][0]["message"])
    c = records(E.sf, "Contact")[0]
    eq(c["Account"]["Rolodex_Id__c"], "o-9")
    # unlink through the collection update by id
    st, _, data = sf("PATCH", "/composite/sobjects", {"records": [
        {"attributes": {"type": "Contact"}, "id": c["Id"],
         "AccountId": None}]})
    eq((st, js(data)[0]["success"]), (200, True))
    eq(records(E.sf, "Contact")[0]["AccountId"], None)
    acc = records(E.sf, "Account")[0]["Id"]
    st, _, data = sf("DELETE", "/composite/sobjects?ids=%s,%s,001xx&"
                     "allOrNone=false" % (c["Id"], acc))
    res = js(data)
    eq([r["success"] for r in res], [True, True, False])
    eq(records(E.sf, "Contact") + records(E.sf, "Account"), [])


# ---- Salesforce: faults -------------------------------------------------------------------

def test_sf_fault_limit_and_5xx():
    config(E.sf, limit_next=2)
    for _ in range(2):
        st, _, data = sf("GET", "/sobjects")
        eq(st, 403)
        eq(js(data), [{"message": "TotalRequests Limit exceeded.",
                       "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
    eq(sf("GET", "/sobjects")[0], 200, "burst over")
    config(E.sf, fail_rate=1.0, fail_statuses=[500])
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/f-1",
                     {"LastName": "F"})
    eq((st, sf_err(data)["errorCode"]), (500, "UNKNOWN_EXCEPTION"))
    config(E.sf, fail_statuses=[503])
    st, h, data = sf("GET", "/sobjects")
    eq(st, 503)
    check(h["content-type"].startswith("text/html"), "503 is not JSON")
    eq(records(E.sf, "Contact"), [], "a failed call applies nothing")
    # a 500 after the change was applied
    config(E.sf, fail_rate=0.0, fail_after_rate=1.0, fail_statuses=[500])
    st, _, _ = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/f-1",
                  {"LastName": "F"})
    eq(st, 500)
    eq(len(records(E.sf, "Contact")), 1, "applied despite the 500")
    stats = js(call("GET", E.sf, "/__sandbox/stats")[2])
    eq((stats["faults"]["limit"], stats["faults"]["fail"],
        stats["faults"]["fail_after"]), (2, 2, 1))


def test_sf_fault_rates_and_bursts():
    config(E.sf, fail_rate=0.2, fail_statuses=[500, 503])
    E_seen = {}
    for _ in range(200):
        st = sf("GET", "/limits")[0]
        E_seen[st] = E_seen.get(st, 0) + 1
    bad = E_seen.get(500, 0) + E_seen.get(503, 0)
    check(15 <= bad <= 70, "about 20%% 5xx of 200 calls: %r" % E_seen)
    check(E_seen.get(500) and E_seen.get(503), "both statuses: %r" % E_seen)
    config(E.sf, fail_rate=0.0, limit_period_s=0.6, limit_window_s=0.3)
    seen = set()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 1.5 and len(seen) < 2:
        seen.add(sf("GET", "/limits")[0])
        time.sleep(0.02)
    eq(seen, {200, 403}, "periodic bursts give both")


def test_sf_fault_latency_hang():
    config(E.sf, latency_ms=250)
    t0 = time.monotonic()
    eq(sf("GET", "/limits")[0], 200)
    d = time.monotonic() - t0
    check(0.25 <= d < 1.5, "latency %.3f s" % d)
    # latency is per call: 200 records in one call cost it once
    t0 = time.monotonic()
    st, _, data = sf("PATCH", "/composite/sobjects/Contact/Rolodex_Id__c", {
        "records": [contact("l-%d" % i, LastName="L") for i in range(200)]})
    d = time.monotonic() - t0
    eq(st, 200)
    check(d < 1.5, "200 records with 250 ms latency took %.3f s" % d)
    config(E.sf, latency_ms=0, hang_rate=1.0, hang_ms=400)
    t0 = time.monotonic()
    st, _, _ = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/h-1",
                  {"LastName": "H"})
    d = time.monotonic() - t0
    eq(st, 201)
    check(d >= 0.4, "hang %.3f s" % d)


def test_sf_control_plane():
    sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/z-1", {"LastName": "Z"})
    st, _, data = call("GET", E.sf, "/__sandbox/config")
    eq(st, 200)
    check("latency_ms" in js(data))
    st, _, data = call("POST", E.sf, "/__sandbox/config", {"nope": 1})
    eq(st, 400, "unknown setting refused")
    for bad in ({"latency_ms": "x"}, {"fail_rate": 2}, {"reject": [{}]},
                {"fail_statuses": [404]}):
        eq(call("POST", E.sf, "/__sandbox/config", bad)[0], 400,
           "bad value %r refused" % bad)
    st, _, data = call("GET", E.sf, "/__sandbox/stats")
    s = js(data)
    eq(s["objects"]["Contact"], 1)
    eq(s["calls"]["sobject_ext_patch"]["201"], 1)
    eq(call("GET", E.sf, "/__sandbox/records/Nope")[0], 404)
    reset(E.sf)
    eq(records(E.sf, "Contact"), [])
    eq(js(call("GET", E.sf, "/__sandbox/stats")[2])["calls"], {})


def test_sf_concurrency():
    errors, lock = [], threading.Lock()

    def worker(n):
        for i in range(25):
            st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/"
                             "t-%d-%d" % (n, i), {"LastName": "T"})
            if st != 201:
                with lock:
                    errors.append((st, data))
            # everyone also hammers one shared record
            st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/"
                             "shared", {"LastName": "S%d" % n})
            if st not in (200, 201):
                with lock:
                    errors.append((st, data))

    ts = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    eq(errors, [])
    recs = records(E.sf, "Contact")
    eq(len(recs), 12 * 25 + 1, "one record per external id")
    eq(len({r["Id"] for r in recs}), len(recs), "unique ids")


# ---- Dataverse: tokens -----------------------------------------------------------------

def test_dv_token():
    org = "http://127.0.0.1:%d" % E.dv
    body, h = form(grant_type="client_credentials", client_id=DV_ID,
                   client_secret=DV_SECRET, scope=org + "/.default")
    st, hs, data = call("POST", E.dv, "/%s/oauth2/v2.0/token" % TENANT, body,
                        h)
    eq(st, 200)
    t = js(data)
    eq(set(t), {"token_type", "expires_in", "ext_expires_in", "access_token"})
    eq((t["token_type"], t["expires_in"]), ("Bearer", 3599))
    cases = [
        (dict(client_id=DV_ID, client_secret=DV_SECRET,
              scope=org + "/.default"), 400, "invalid_request", 900144),
        (dict(grant_type="password", client_id=DV_ID,
              client_secret=DV_SECRET, scope=org + "/.default"), 400,
         "unsupported_grant_type", 70003),
        (dict(grant_type="client_credentials", client_id="unknown-app",
              client_secret=DV_SECRET, scope=org + "/.default"), 400,
         "unauthorized_client", 700016),
        (dict(grant_type="client_credentials", client_id=DV_ID,
              client_secret="wrong", scope=org + "/.default"), 401,
         "invalid_client", 7000215),
        (dict(grant_type="client_credentials", client_id=DV_ID,
              scope=org + "/.default"), 401, "invalid_client", 7000216),
        (dict(grant_type="client_credentials", client_id=DV_ID,
              client_secret=DV_SECRET, scope=org + "/user_impersonation"),
         400, "invalid_scope", 1002012),
        (dict(grant_type="client_credentials", client_id=DV_ID,
              client_secret=DV_SECRET,
              scope="https://other.crm.dynamics.com/.default"), 400,
         "invalid_resource", 500011),
    ]
    for params, status, err, code in cases:
        body, h = form(**params)
        st, _, data = call("POST", E.dv, "/%s/oauth2/v2.0/token" % TENANT,
                           body, h)
        eq(st, status, "status for %s" % err)
        e = js(data)
        eq((e["error"], e["error_codes"]), (err, [code]))
        check(e["error_description"].startswith("AADSTS%d: " % code))
        for k in ("timestamp", "trace_id", "correlation_id"):
            check(k in e, "AAD error lacks %s" % k)
    body, h = form(grant_type="client_credentials", client_id=DV_ID,
                   client_secret=DV_SECRET, scope=org + "/.default")
    st, _, data = call("POST", E.dv, "/othertenant/oauth2/v2.0/token", body,
                       h)
    eq((st, js(data)["error_codes"]), (400, [90002]), "wrong tenant")


def test_dv_unauthorized_and_expiry():
    st, h, _ = call("GET", E.dv, "/api/data/v9.2/WhoAmI")
    eq(st, 401)
    check(h["www-authenticate"].startswith("Bearer authorization_uri="),
          h.get("www-authenticate"))
    check("resource_id=http://127.0.0.1:%d/" % E.dv in h["www-authenticate"])
    st, _, data = dv("GET", "/WhoAmI")
    eq(st, 200)
    check({"UserId", "BusinessUnitId", "OrganizationId"} <= set(js(data)))
    config(E.dv, token_lifetime_s=1)
    tok = dv_token()
    body, h = form(grant_type="client_credentials", client_id=DV_ID,
                   client_secret=DV_SECRET,
                   scope="http://127.0.0.1:%d/.default" % E.dv)
    eq(js(call("POST", E.dv, "/%s/oauth2/v2.0/token" % TENANT, body,
               h)[2])["expires_in"], 1, "expires_in follows the lifetime")
    time.sleep(1.2)
    st, h, _ = dv("GET", "/WhoAmI", token=tok)
    eq(st, 401)
    check('error="invalid_token"' in h["www-authenticate"])
    config(E.dv, token_lifetime_s=None)
    E.dv_token = dv_token()


# ---- Dataverse: records ------------------------------------------------------------------

def test_dv_upsert():
    st, h, data = dv("PATCH", "/contacts(new_rolodexid='p-1')",
                     {"firstname": "Ada", "lastname": "Lovelace"})
    eq((st, data), (204, b""), "create")
    m = re.match(r"^http://127\.0\.0\.1:%d/api/data/v9\.2/contacts\("
                 r"([0-9a-f-]{36})\)$" % E.dv, h["odata-entityid"])
    check(m, "OData-EntityId %r" % h.get("odata-entityid"))
    guid = m.group(1)
    eq(h["odata-version"], "4.0")
    st, h, _ = dv("PATCH", "/contacts(new_rolodexid='p-1')",
                  {"emailaddress1": "ada@example.com"})
    eq(st, 204, "update")
    check(h["odata-entityid"].endswith("(%s)" % guid), "same row")
    st, h, data = dv("PATCH", "/contacts(new_rolodexid='p-2')",
                     {"lastname": "Two"},
                     headers={"Prefer": "return=representation"})
    eq(st, 201, "create with representation")
    r = js(data)
    eq((r["lastname"], r["new_rolodexid"]), ("Two", "p-2"))
    check(r["@odata.etag"].startswith('W/"'))
    eq(h["preference-applied"], "return=representation")
    st, _, data = dv("PATCH", "/contacts(new_rolodexid='p-2')?$select="
                     "lastname", {"lastname": "Deux"},
                     headers={"Prefer": "return=representation"})
    eq(st, 200, "update with representation")
    eq(set(js(data)), {"@odata.context", "@odata.etag", "lastname",
                       "contactid"})
    # If-Match: * never creates; If-None-Match: * never updates
    st, _, data = dv("PATCH", "/contacts(new_rolodexid='p-9')",
                     {"lastname": "x"}, headers={"If-Match": "*"})
    eq((st, dv_err(data)["code"]), (404, "0x80040217"))
    st, _, data = dv("PATCH", "/contacts(new_rolodexid='p-1')",
                     {"lastname": "x"}, headers={"If-None-Match": "*"})
    eq((st, dv_err(data)["code"]), (412, "0x80040237"))
    eq(dv_err(data)["message"], "A record with matching key values already "
       "exists.")
    st, _, data = dv("PATCH", "/contacts(new_rolodexid='p-1')",
                     {"lastname": "x"}, headers={"If-Match": 'W/"1"'})
    eq((st, dv_err(data)["code"]), (412, "0x80060882"))
    # GET by GUID, by alternate key; upsert by GUID creates with that GUID
    st, _, data = dv("GET", "/contacts(%s)?$select=emailaddress1" % guid)
    eq(js(data)["emailaddress1"], "ada@example.com")
    st, _, data = dv("GET", "/contacts(new_rolodexid='P-1')")
    eq(js(data)["contactid"], guid, "alternate keys match case-insensitively")
    g2 = "0f8fad5b-d9cb-469f-a165-70867728950e"
    st, h, _ = dv("PATCH", "/contacts(%s)" % g2, {"lastname": "ByGuid"})
    eq(st, 204)
    check(h["odata-entityid"].endswith("(%s)" % g2))
    eq(len(records(E.dv, "contacts")), 3)


def test_dv_errors():
    cases = [
        ({"lastname": "x", "Name": "bad"}, 400, "0x0", "Invalid property "
         "'Name' was found in entity 'Microsoft.Dynamics.CRM.contact'"),
        ({"lastname": "x", "parentcustomerid@odata.bind": "/accounts(x)"},
         400, "0x80048d19", "An undeclared property 'parentcustomerid'"),
        ({"lastname": "L" * 51}, 400, "0x80044331", "A validation error "
         "occurred.  The length of the 'lastname' attribute of the 'contact'"
         " entity exceeded the maximum allowed length of '50'."),
        ({"lastname": "x", "birthdate": "1990/01/01"}, 400, "0x80048d19",
         "Edm.Date"),
        ({"lastname": 5}, 400, "0x80048d19", "Edm.String"),
        ({"lastname": "x", "fullname": "y"}, 400, "0x80040203", "read-only"),
        ({"lastname": "x", "parentcustomerid_account@odata.bind":
          "/accounts(new_rolodexid='nope')"}, 404, "0x80040217",
         "A record with the specified key values does not exist in account "
         "entity"),
    ]
    for body, status, code, text in cases:
        st, _, data = dv("PATCH", "/contacts(new_rolodexid='e-1')", body)
        eq(st, status, "status for %s" % code)
        e = dv_err(data)
        eq(e["code"], code, "code for %r" % body)
        check(text in e["message"], "%r not in %r" % (text, e["message"]))
    st, _, data = dv("GET", "/Contacts")
    eq((st, dv_err(data)["code"]), (404, "0x8006088a"))
    eq(dv_err(data)["message"], "Resource not found for the segment "
       "'Contacts'.")
    st, _, data = dv("GET", "/contacts?$select=Name")
    eq((st, dv_err(data)["message"]), (400, "Could not find a property named"
                                       " 'Name' on type 'Microsoft.Dynamics."
                                       "CRM.contact'."))
    st, _, data = dv("DELETE", "/contacts(new_rolodexid='nope')")
    eq((st, dv_err(data)["code"]), (404, "0x80040217"))
    st, _, data = dv("GET", "/contacts(0f8fad5b-d9cb-469f-a165-70867728950f)")
    eq((st, dv_err(data)["message"]), (404, "contact With Id = 0f8fad5b-d9cb"
                                       "-469f-a165-70867728950f Does Not "
                                       "Exist"))
    eq(records(E.dv, "contacts"), [], "nothing was written")


def test_dv_lookup_cascade_query():
    st, h, _ = dv("PATCH", "/accounts(new_rolodexid='o-1')", {"name": "Acme"})
    eq(st, 204)
    acc = h["odata-entityid"].rsplit("(", 1)[1][:-1]
    for p, bind in (("p-1", "/accounts(new_rolodexid='o-1')"),
                    ("p-2", "accounts(%s)" % acc),
                    ("p-3", "http://127.0.0.1:%d/api/data/v9.2/accounts("
                     "new_rolodexid='o-1')" % E.dv)):
        st, _, data = dv("PATCH", "/contacts(new_rolodexid='%s')" % p, {
            "lastname": p, "parentcustomerid_account@odata.bind": bind})
        eq(st, 204, "bind %s: %s" % (bind, data))
    dv("PATCH", "/contacts(new_rolodexid='p-4')", {"lastname": "p-4"})
    st, _, data = dv("GET", "/contacts?$select=new_rolodexid&$filter="
                     + urllib.parse.quote("_parentcustomerid_value eq %s"
                                          % acc))
    eq(sorted(r["new_rolodexid"] for r in js(data)["value"]),
       ["p-1", "p-2", "p-3"])
    st, _, data = dv("GET", "/contacts?$filter=" + urllib.parse.quote(
        "parentcustomerid_account/new_rolodexid eq 'o-1' and lastname ne "
        "'p-3'"))
    eq(sorted(r["new_rolodexid"] for r in js(data)["value"]), ["p-1", "p-2"])
    st, _, data = dv("GET", "/accounts(new_rolodexid='o-1')/"
                     "contact_customer_accounts?$select=contactid")
    eq(len(js(data)["value"]), 3)
    st, _, data = dv("GET", "/contacts?$filter=" + urllib.parse.quote(
        "lastname eq 'a' or lastname eq 'b'"))
    eq((st, dv_err(data)["code"]), (400, "0x80060888"))
    # paging with odata.maxpagesize
    st, _, data = dv("GET", "/contacts?$select=contactid",
                     headers={"Prefer": "odata.maxpagesize=3"})
    page = js(data)
    eq(len(page["value"]), 3)
    nxt = urllib.parse.urlsplit(page["@odata.nextLink"])
    st, _, data = call("GET", E.dv, nxt.path + "?" + nxt.query,
                       headers={"Authorization": "Bearer " + E.dv_token,
                                "Prefer": "odata.maxpagesize=3"})
    eq(len(js(data)["value"]), 1)
    # disassociate: $ref DELETE and a null bind
    st, _, _ = dv("DELETE", "/contacts(new_rolodexid='p-1')/"
                  "parentcustomerid_account/$ref")
    eq(st, 204)
    st, _, _ = dv("PATCH", "/contacts(new_rolodexid='p-2')",
                  {"parentcustomerid_account@odata.bind": None})
    eq(st, 204)
    st, _, _ = dv("PUT", "/contacts(new_rolodexid='p-4')/"
                  "parentcustomerid_account/$ref",
                  {"@odata.id": "accounts(new_rolodexid='o-1')"})
    eq(st, 204, "associate by $ref")
    linked = {r["new_rolodexid"]: r["_parentcustomerid_value"]
              for r in records(E.dv, "contacts")}
    eq(linked, {"p-1": None, "p-2": None, "p-3": acc, "p-4": acc})
    st, _, _ = dv("DELETE", "/accounts(new_rolodexid='o-1')")
    eq(st, 204)
    eq(sorted(r["new_rolodexid"] for r in records(E.dv, "contacts")),
       ["p-1", "p-2"], "the parental relationship cascades")
    eq(records(E.dv, "accounts"), [])


def test_dv_batch():
    config(E.dv, reject=[{"object": "contact", "field": "lastname",
                          "prefix": "BAD"}])
    parts = [("PATCH", "/api/data/v9.2/contacts(new_rolodexid='b-1')",
              {"lastname": "One"}, None, None),
             ("PATCH", "contacts(new_rolodexid='b-2')", {"lastname": "BAD"},
              None, None),
             ("PATCH", "http://127.0.0.1:%d/api/data/v9.2/contacts("
              "new_rolodexid='b-3')" % E.dv, {"lastname": "Three"}, None,
              None),
             ("GET", "contacts(new_rolodexid='b-1')?$select=lastname", None,
              None, None)]
    body = batch_body("batch_T1", parts)
    st, h, data = dv("POST", "/$batch", body, headers={
        "Content-Type": "multipart/mixed; boundary=batch_T1",
        "Prefer": "odata.continue-on-error"})
    eq(st, 200)
    eq(h["preference-applied"], "odata.continue-on-error")
    res = parse_batch(h, data)
    eq([r[0] for r in res], [204, 400, 204, 200])
    eq(js(res[1][3])["error"]["code"], "0x80040265")
    eq(js(res[3][3])["lastname"], "One")
    check(res[0][2]["odata-entityid"].startswith("http://127.0.0.1:%d/"
                                                 % E.dv))
    eq(sorted(r["new_rolodexid"] for r in records(E.dv, "contacts")),
       ["b-1", "b-3"])
    # without continue-on-error the batch stops at the first failure
    reset(E.dv)
    config(E.dv, reject=[{"object": "contact", "field": "lastname",
                          "prefix": "BAD"}])
    st, h, data = dv("POST", "/$batch", body, headers={
        "Content-Type": 'multipart/mixed; boundary="batch_T1"'})
    eq(st, 400, "the failing request's status")
    eq([r[0] for r in parse_batch(h, data)], [204, 400])
    eq([r["new_rolodexid"] for r in records(E.dv, "contacts")], ["b-1"])
    # a change set is atomic; Content-ID comes back, $n references work
    reset(E.dv)
    cs = [("PATCH", "accounts(new_rolodexid='o-5')", {"name": "Five"}, "1",
           "changeset_A"),
          ("PATCH", "contacts(new_rolodexid='c-5')", {
              "lastname": "Five", "parentcustomerid_account@odata.bind":
              "$1"}, "2", "changeset_A"),
          ("PATCH", "$1", {"name": "Five Ltd"}, "3", "changeset_A")]
    st, h, data = dv("POST", "/$batch", batch_body("batch_T2", cs), headers={
        "Content-Type": "multipart/mixed; boundary=batch_T2"})
    eq(st, 200)
    res = parse_batch(h, data)
    eq([(r[0], r[1]) for r in res], [(204, "1"), (204, "2"), (204, "3")])
    c = records(E.dv, "contacts")[0]
    eq(c["parentcustomerid_account"]["name"], "Five Ltd")
    cs_bad = [("PATCH", "contacts(new_rolodexid='c-6')", {"lastname": "Six"},
               "1", "changeset_B"),
              ("PATCH", "accounts(new_rolodexid='o-5')", {"name": "Renamed"},
               "2", "changeset_B"),
              ("DELETE", "contacts(new_rolodexid='c-5')", None, "3",
               "changeset_B"),
              ("PATCH", "contacts(new_rolodexid='c-7')", {"nosuch": 1}, "4",
               "changeset_B")]
    st, h, data = dv("POST", "/$batch", batch_body("batch_T3", cs_bad),
                     headers={"Content-Type":
                              "multipart/mixed; boundary=batch_T3",
                              "Prefer": "odata.continue-on-error"})
    res = parse_batch(h, data)
    eq([(r[0], r[1]) for r in res], [(400, "4")], "one failure response")
    eq(sorted(r["new_rolodexid"] for r in records(E.dv, "contacts")),
       ["c-5"], "the change set was rolled back")
    eq(records(E.dv, "accounts")[0]["name"], "Five Ltd", "update undone")
    # format errors
    st, _, data = dv("POST", "/$batch", body.replace("\r\n", "\n"), headers={
        "Content-Type": "multipart/mixed; boundary=batch_T1"})
    eq((st, dv_err(data)["code"]), (400, "0x80048d19"), "LF-only body")
    check("Stream was not readable" in dv_err(data)["message"])
    st, _, data = dv("POST", "/$batch", "x", headers={
        "Content-Type": "application/json"})
    eq(st, 400, "not multipart")
    get_in_cs = [("GET", "contacts", None, "1", "changeset_C")]
    st, h, data = dv("POST", "/$batch", batch_body("batch_T4", get_in_cs),
                     headers={"Content-Type":
                              "multipart/mixed; boundary=batch_T4"})
    eq(st, 400, "GET in a change set")
    many = [("PATCH", "contacts(new_rolodexid='m-%d')" % i, {"lastname": "m"},
             None, None) for i in range(1001)]
    st, _, data = dv("POST", "/$batch", batch_body("batch_T5", many),
                     headers={"Content-Type":
                              "multipart/mixed; boundary=batch_T5"})
    eq((st, dv_err(data)["code"]), (400, "0x80040203"), "over 1000")


def test_dv_faults():
    config(E.dv, limit_next=1, retry_after_s=7)
    st, h, data = dv("GET", "/WhoAmI")
    eq(st, 429)
    eq(h["retry-after"], "7")
    eq(dv_err(data), {"code": "0x80072322", "message": "Number of requests "
                      "exceeded the limit of 6000 over time window of 300 "
                      "seconds."})
    eq(dv("GET", "/WhoAmI")[0], 200)
    config(E.dv, limit_next=1, limit_code="0x80072326")
    eq(dv_err(dv("GET", "/WhoAmI")[2])["code"], "0x80072326")
    config(E.dv, fail_rate=1.0, fail_statuses=[500])
    st, _, data = dv("PATCH", "/contacts(new_rolodexid='f-1')",
                     {"lastname": "F"})
    eq((st, dv_err(data)["code"]), (500, "0x80040216"))
    config(E.dv, fail_statuses=[503])
    st, h, _ = dv("GET", "/WhoAmI")
    eq(st, 503)
    check(not h["content-type"].startswith("application/json"))
    eq(records(E.dv, "contacts"), [])
    # faults hit the $batch as a whole; latency once per call
    config(E.dv, fail_rate=0.0, latency_ms=250)
    parts = [("PATCH", "contacts(new_rolodexid='l-%d')" % i,
              {"lastname": "L"}, None, None) for i in range(300)]
    t0 = time.monotonic()
    st, h, data = dv("POST", "/$batch", batch_body("batch_L", parts),
                     headers={"Content-Type":
                              "multipart/mixed; boundary=batch_L"})
    d = time.monotonic() - t0
    eq(st, 200)
    eq(len(parse_batch(h, data)), 300)
    check(0.25 <= d < 2.0, "300 records with 250 ms latency: %.3f s" % d)
    eq(len(records(E.dv, "contacts")), 300)


# ---- lifecycle -----------------------------------------------------------------------

def test_sigterm_and_state_file():
    state = os.path.join(TMP, "sf-state.json")
    proc, port = start("salesforce.py", "--client-id", SF_ID,
                       "--client-secret", SF_SECRET, "--state", state)
    tok = sf_token(port)
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/s-1",
                     {"LastName": "Kept"}, token=tok, port=port)
    eq(st, 201)
    first = js(data)["id"]
    proc.send_signal(signal.SIGTERM)
    eq(proc.wait(10), 0, "exit status after SIGTERM")
    check(os.path.exists(state), "state saved")
    proc, port = start("salesforce.py", "--client-id", SF_ID,
                       "--client-secret", SF_SECRET, "--state", state)
    recs = records(port, "Contact")
    eq([(r["Id"], r["LastName"]) for r in recs], [(first, "Kept")])
    tok = sf_token(port)
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/s-1",
                     {"Title": "again"}, token=tok, port=port)
    eq((st, js(data)["id"]), (200, first), "upsert finds the saved record")
    st, _, data = sf("PATCH", "/sobjects/Contact/Rolodex_Id__c/s-2",
                     {"LastName": "New"}, token=tok, port=port)
    check(js(data)["id"] != first)
    proc.send_signal(signal.SIGTERM)
    eq(proc.wait(10), 0)


TESTS = [(n, f) for n, f in sorted(globals().items())
         if n.startswith("test_") and callable(f)]
ORDER = [n for n, _ in TESTS]


def main():
    only = None
    verbose = "-v" in sys.argv
    if "-k" in sys.argv:
        only = sys.argv[sys.argv.index("-k") + 1]
    if shutil.which("openssl") is None:
        print("SKIP: openssl not installed")
        return 77
    passed = failed = 0
    try:
        E.keys = make_keys()
        _, E.sf = start("salesforce.py", "--client-id", SF_ID,
                        "--client-secret", SF_SECRET, "--jwt-cert",
                        E.keys[1], "--jwt-username", JWT_USER, "--seed", "1")
        _, E.dv = start("dataverse.py", "--client-id", DV_ID,
                        "--client-secret", DV_SECRET, "--tenant", TENANT,
                        "--seed", "1")
        E.sf_token = sf_token()
        E.dv_token = dv_token()
        for name, fn in TESTS:
            if only and only not in name:
                continue
            reset(E.sf)
            reset(E.dv)
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
                if verbose or not isinstance(e, AssertionError):
                    traceback.print_exc(file=sys.stdout)
            else:
                passed += 1
                print("ok   %s (%.2f s)" % (name, time.monotonic() - t0))
    except Exception as e:
        failed += 1
        print("FAIL setup: %r" % (e,))
        traceback.print_exc(file=sys.stdout)
    finally:
        stop_all()
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
