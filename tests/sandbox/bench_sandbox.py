#!/usr/bin/env python3
# tests/sandbox/bench_sandbox.py - how fast the sandboxes take records.
#
# Starts salesforce.py and dataverse.py with added latency (default 50 ms a
# call, as in the adapters' benchmark) and pushes person records through
# sObject Collections upserts (200 a call) and Dataverse $batch upserts
# (--batch a call, each request outside a change set), with 1 and with
# --clients concurrent keep-alive connections.  Prints records/s; it is a
# measurement, not a test, and asserts nothing but HTTP success.
#
#   python3 tests/sandbox/bench_sandbox.py [--records 20000]
#       [--latency-ms 50] [--clients 4] [--batch 200]

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def start(tmp, script, latency):
    pf = os.path.join(tmp, script + ".port")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, script),
                             "--port", "0", "--port-file", pf,
                             "--latency-ms", str(latency)],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(300):
        if os.path.exists(pf):
            return proc, int(open(pf).read())
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("%s did not start" % script)


def request(conn, method, path, body, headers):
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, r.getheaders(), data


def token_sf(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    st, _, data = request(c, "POST", "/services/oauth2/token",
                          "grant_type=client_credentials&client_id=rolodex-"
                          "sandbox-client&client_secret=rolodex-sandbox-"
                          "secret", {"Content-Type":
                                     "application/x-www-form-urlencoded"})
    assert st == 200, data
    return json.loads(data)["access_token"]


def token_dv(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": "00000000-0000-0000-0000-00000000c11e",
        "client_secret": "rolodex-sandbox-secret",
        "scope": "http://127.0.0.1:%d/.default" % port})
    st, _, data = request(c, "POST", "/common/oauth2/v2.0/token", body,
                          {"Content-Type":
                           "application/x-www-form-urlencoded"})
    assert st == 200, data
    return json.loads(data)["access_token"]


def sf_chunk(conn, token, ids):
    recs = [{"attributes": {"type": "Contact"}, "Rolodex_Id__c": i,
             "FirstName": "Ada", "LastName": "Lovelace " + i[-6:],
             "Email": "ada.%s@example.com" % i[-6:],
             "MailingCity": "London", "MailingCountry": "GB"} for i in ids]
    st, _, data = request(conn, "PATCH", "/services/data/v60.0/composite/"
                          "sobjects/Contact/Rolodex_Id__c",
                          json.dumps({"allOrNone": False, "records": recs}),
                          {"Authorization": "Bearer " + token,
                           "Content-Type": "application/json"})
    assert st == 200, (st, data[:200])
    res = json.loads(data)
    assert all(r["success"] for r in res), res[:3]


def dv_chunk(conn, token, ids):
    out = []
    for i in ids:
        out.append("--batch_b\r\nContent-Type: application/http\r\n"
                   "Content-Transfer-Encoding: binary\r\n\r\n"
                   "PATCH /api/data/v9.2/contacts(new_rolodexid='%s') "
                   "HTTP/1.1\r\nContent-Type: application/json\r\n\r\n%s"
                   "\r\n" % (i, json.dumps({
                       "firstname": "Ada", "lastname": "Lovelace " + i[-6:],
                       "emailaddress1": "ada.%s@example.com" % i[-6:],
                       "address1_city": "London"})))
    out.append("--batch_b--\r\n")
    st, _, data = request(conn, "POST", "/api/data/v9.2/$batch",
                          "".join(out),
                          {"Authorization": "Bearer " + token,
                           "Content-Type":
                           "multipart/mixed; boundary=batch_b",
                           "Prefer": "odata.continue-on-error"})
    assert st == 200, (st, data[:300])
    assert data.count(b"HTTP/1.1 204") == len(ids)


def run(port, token, send, total, chunk, clients, tag):
    ids = ["%s-%08d" % (tag, n) for n in range(total)]
    chunks = [ids[i:i + chunk] for i in range(0, total, chunk)]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with lock:
                if not chunks:
                    return
                c = chunks.pop()
            send(conn, token, c)

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker) for _ in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return total / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--batch", type=int, default=200,
                    help="requests per Dataverse $batch (max 1000)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="rlx-sbx-bench.")
    procs = []
    try:
        sfp, sfport = start(tmp, "salesforce.py", a.latency_ms)
        procs.append(sfp)
        dvp, dvport = start(tmp, "dataverse.py", a.latency_ms)
        procs.append(dvp)
        time.sleep(0.3)
        sft, dvt = token_sf(sfport), token_dv(dvport)
        print("sandbox benchmark: %d records, %d ms added latency a call"
              % (a.records, a.latency_ms))
        for clients in sorted({1, a.clients}):
            r = run(sfport, sft, sf_chunk, a.records, 200, clients,
                    "sf%d" % clients)
            print("  salesforce  composite/sobjects upsert  200/call  "
                  "%d client(s): %8.0f records/s" % (clients, r))
            r = run(dvport, dvt, dv_chunk, a.records, a.batch, clients,
                    "dv%d" % clients)
            print("  dataverse   $batch upsert             %4d/call  "
                  "%d client(s): %8.0f records/s" % (a.batch, clients, r))
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
