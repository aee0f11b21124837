# SPDX-License-Identifier: MIT
# tests/fakes/cloud_fake.py — shared by the fake cloud DNS APIs (cloudflare_api.py,
# azure_api.py): the write-through to the sandbox's child PowerDNS (so the zone's name servers
# serve what the fake provider holds, as a real provider's would), failure injection driven by
# POST /_ctl, a request log (GET /_ctl/log) and the server loop. Python stdlib only.
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Pdns:
    """The child PowerDNS of the sandbox ($PDNS_API_URL, key in $PDNS_API_KEY_FILE)."""

    def __init__(self):
        self.url = os.environ.get("PDNS_API_URL", "")
        keyfile = os.environ.get("PDNS_API_KEY_FILE", "")
        self.key = open(keyfile).read().strip() if keyfile else ""

    def _call(self, method, path, body=None):
        req = urllib.request.Request(
            self.url + "/api/v1/servers/localhost" + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-API-Key": self.key, "Content-Type": "application/json"})
        # Several tests write the sandbox's PowerDNS at once; its SQLite backend may answer
        # 500 "database is locked" (and roll back): retry with a backoff.
        for attempt in range(8):
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    data = r.read()
                return json.loads(data) if data else None
            except urllib.error.HTTPError as e:
                if e.code < 500 or attempt == 7:
                    raise
                time.sleep(0.05 * (2 ** attempt))

    def rrsets(self, zone):
        """[(name without dot, type, ttl, [content])] of the MX and TXT RRsets of zone."""
        z = self._call("GET", "/zones/%s." % zone)
        out = []
        for s in z["rrsets"]:
            if s["type"] in ("MX", "TXT"):
                out.append((s["name"].rstrip(".").lower(), s["type"], s["ttl"],
                            [r["content"] for r in s["records"] if not r.get("disabled")]))
        return out

    def replace(self, zone, name, rtype, ttl, contents):
        if not self.url:
            return
        rr = {"name": name + ".", "type": rtype}
        if contents:
            rr.update(changetype="REPLACE", ttl=ttl,
                      records=[{"content": c, "disabled": False} for c in contents])
        else:
            rr["changetype"] = "DELETE"
        self._call("PATCH", "/zones/%s." % zone, {"rrsets": [rr]})


def txt_quote(text):
    """Canonical text → one or more quoted character-strings (PowerDNS/Cloudflare form)."""
    b = text.encode()
    parts = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
    out = []
    for p in parts:
        s = ""
        for c in p:
            if c in (0x22, 0x5C):
                s += "\\" + chr(c)
            elif c < 0x20 or c > 0x7E:
                s += "\\%03d" % c
            else:
                s += chr(c)
        out.append('"' + s + '"')
    return " ".join(out)


def txt_unquote(content):
    """Quoted character-strings → the concatenated text (bare text is taken as is)."""
    if not content.startswith('"'):
        return content
    out, i, quoted = bytearray(), 0, False
    while i < len(content):
        c = content[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and content[i + 1:i + 4].isdigit():
            out.append(int(content[i + 1:i + 4]))
            i += 3
        elif c == "\\":
            i += 1
            out += content[i].encode()
        elif quoted:
            out += c.encode()
        i += 1
    return out.decode(errors="replace")


class Faults:
    """Failure injection: rules {"method": "GET"|"*", "path": substring, "status": N,
    "retry_after": S, "times": N, "body": {...}} consumed in order ("clear_inject" drops
    them); a rule with "delay": S and no status holds the request S seconds, then answers it
    as usual (a slow API); stale reads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.log = []
        self.stale_reads = False

    def take(self, method, path):
        with self.lock:
            self.log.append("%s %s" % (method, path))
            for r in self.rules:
                if r.get("times", 1) <= 0:
                    continue
                if r.get("method", "*") not in ("*", method) or r.get("path", "") not in path:
                    continue
                r["times"] = r.get("times", 1) - 1
                return r
        return None


class Handler(BaseHTTPRequestHandler):
    """Base: JSON replies, the /_ctl endpoints, injected failures before the real handling.
    Subclasses implement handle_api(method, path, query, body) and ctl(doc)."""

    protocol_version = "HTTP/1.1"
    faults = None  # a Faults, set by serve()

    def log_message(self, *args):
        pass

    def reply(self, status, doc=None, headers=None):
        data = json.dumps(doc).encode() if doc is not None else b""
        self.send_response(status)
        if doc is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        if path.startswith("/_ctl"):
            if method == "GET" and path == "/_ctl/log":
                with self.faults.lock:
                    return self.reply(200, self.faults.log)
            doc = json.loads(body or b"{}")
            with self.faults.lock:
                if doc.pop("clear_inject", False):
                    self.faults.rules = []
                self.faults.rules += doc.pop("inject", [])
                if "stale_reads" in doc:
                    self.faults.stale_reads = doc.pop("stale_reads")
                if doc.pop("clear_log", False):
                    self.faults.log = []
            return self.reply(200, self.ctl(doc) or {})
        rule = self.faults.take(method, self.path)
        if rule and "status" not in rule:
            time.sleep(float(rule.get("delay", 0)))
            rule = None
        if rule:
            hdrs = {}
            if "retry_after" in rule:
                hdrs["Retry-After"] = str(rule["retry_after"])
            return self.reply(rule["status"], rule.get("body", self.fault_body(rule["status"])),
                              hdrs)
        try:
            self.handle_api(method, path, query, body)
        except Exception as e:  # a bug in the fake: make it loud
            sys.stderr.write("fake: %s %s: %r\n" % (method, self.path, e))
            self.reply(500, self.fault_body(500))

    def fault_body(self, status):
        return {"error": "injected %d" % status}

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")


def serve(handler_cls, port_file):
    """Serves on 127.0.0.1, an ephemeral port written to port_file; runs until killed."""
    handler_cls.faults = Faults()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    srv.daemon_threads = True
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, port_file)
    srv.serve_forever()


def ctl(url, doc):
    """Client side of POST /_ctl, for test scripts: python3 FAKE.py --ctl URL JSON."""
    req = urllib.request.Request(url + "/_ctl", method="POST", data=json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"{}")


def main(handler_cls, argv):
    """--port-file FILE: serve; --ctl URL JSON: send a control document, print the answer;
    --log URL: print the request log, one line each."""
    if argv[1:2] == ["--ctl"]:
        print(json.dumps(ctl(argv[2], json.loads(argv[3]))))
    elif argv[1:2] == ["--log"]:
        with urllib.request.urlopen(argv[2] + "/_ctl/log", timeout=10) as r:
            for line in json.loads(r.read()):
                print(line)
    elif argv[1:2] == ["--port-file"]:
        serve(handler_cls, argv[2])
    else:
        sys.exit("usage: %s --port-file FILE | --ctl URL JSON | --log URL" % argv[0])


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
