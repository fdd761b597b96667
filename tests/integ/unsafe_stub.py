#!/usr/bin/env python3
"""tests/integ/unsafe_stub.py - hostile "SaaS" endpoints on 127.0.0.1 for
run-unsafe-consumption.sh: a plain HTTP server, an HTTPS server with a
self-signed certificate, and a second "other host" server that counts the
requests it gets (a redirect must never reach it).

  unsafe_stub.py CERT KEY STATEFILE
Writes "http_port https_port other_port" to STATEFILE once listening, and
serves until killed.  Paths: /small (100 bytes), /big?n=N (N bytes),
/redirect (302 to the other server), /slow (answers after 10 s).
"""
import http.server
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse

OTHER_HITS = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    other = None

    def log_message(self, *a):
        pass

    def body(self, data, status=200, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/small":
            self.body(b"x" * 100)
        elif u.path == "/big":
            self.body(b"y" * int(q.get("n", ["2000000"])[0]))
        elif u.path == "/redirect":
            self.body(b"", 302, [("Location", "http://127.0.0.2:%d/stolen" % self.other)])
        elif u.path == "/slow":
            time.sleep(10)
            self.body(b"late")
        elif u.path == "/hits":
            self.body(str(OTHER_HITS[0]).encode())
        else:
            self.body(b"no", 404)


class Other(Handler):
    def do_GET(self):
        OTHER_HITS[0] += 1
        self.body(b"you followed a redirect", 200)


class TS(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    cert, key, state = sys.argv[1:4]
    other = TS(("127.0.0.2", 0), Other)
    Handler.other = other.server_address[1]
    plain = TS(("127.0.0.1", 0), Handler)
    tls = TS(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (other, plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    with open(state + ".tmp", "w") as f:
        f.write("%d %d %d\n" % (plain.server_address[1], tls.server_address[1],
                                other.server_address[1]))
    import os
    os.rename(state + ".tmp", state)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
