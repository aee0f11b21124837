#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fakes/gcloud_api.py — a local server that behaves like the documented Google Cloud DNS
# v1 API and Google's OAuth 2.0 token endpoint for the end-to-end tests: the token endpoint
# verifies the RS256 JWT assertion (signature checked with the service account's public key
# by the openssl command, iss/aud/scope/exp checked) and issues bearer tokens; managedZones
# and rrsets page with a small pageSize (a private zone of the same dnsName comes first);
# changes.create refuses deletions that do not match the zone exactly (412 conditionNotMet)
# and additions of an existing RRset (409 alreadyExists), answers "pending", and changes.get
# turns "done" after N polls; the first rrsets read gets 429 with Retry-After and the first
# change 503, once each. managedZones.testIamPermissions answers the subset of the asked
# permissions that the service account holds on the zone: roles/dns.admin, or with
# --deny-changes roles/dns.reader (whose changes.create is refused with 403). The zone state lives in the sandbox's child PowerDNS (read and
# written through its API), so the real name servers serve what the fake holds.
#   gcloud_api.py --project P --zone NAME [--zone NAME...] --client-email E --public-key PEM
#                 [--deny-changes] [--race] [--page-size N] [--done-after N] [--no-flaky]
#                 --port-file FILE [--stats-file FILE]
# PowerDNS comes from $MX_SANDBOX_ENV (PDNS_API_URL, PDNS_API_KEY_FILE).
import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.environ.get("MX_SANDBOX_TOOLS", os.path.join(os.path.dirname(__file__), "..", "sandbox")))
import sbxlib as L  # noqa: E402

DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"}
SCOPES = {"https://www.googleapis.com/auth/ndev.clouddns.readwrite",
          "https://www.googleapis.com/auth/cloud-platform"}
LOCK = threading.RLock()
# What the service account holds: roles/dns.admin (dns.*) or, with --deny-changes,
# roles/dns.reader.
DNS_READER = {"dns.changes.get", "dns.changes.list", "dns.dnsKeys.get", "dns.dnsKeys.list",
              "dns.managedZoneOperations.get", "dns.managedZoneOperations.list",
              "dns.managedZones.get", "dns.managedZones.list", "dns.policies.get",
              "dns.policies.list", "dns.projects.get", "dns.resourceRecordSets.get",
              "dns.resourceRecordSets.list", "dns.responsePolicies.get",
              "dns.responsePolicies.list"}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def google_error(code, reason, message, status):
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}


class State:
    def __init__(self, args):
        self.args = args
        env = L.load_env(os.environ["MX_SANDBOX_ENV"])
        self.pdns = L.api_from_env(env, "child")
        self.tokens = {}  # token -> expiry
        self.zones = []  # (resource name, dnsName, visibility)
        for z in args.zone:
            base = z.lower().rstrip(".").replace(".", "-")
            self.zones.append(("a-" + base + "-private", L.fqdn(z.lower()), "private"))
            self.zones.append(("z-" + base, L.fqdn(z.lower()), "public"))
        self.changes = {}  # (zone, id) -> polls
        self.counter = 0
        self.flaky_read = args.no_flaky
        self.flaky_change = args.no_flaky
        self.raced = False
        self.stats = {"tokens": 0, "jwt_fail": 0, "auth_fail": 0, "changes": 0, "conflicts": 0,
                      "polls": 0, "throttled": 0, "unavailable": 0}

    def zone(self, name):
        return next((z for z in self.zones if z[0] == name), None)

    def rrsets(self, zone):
        z = self.pdns.req("GET", "/zones/" + zone[1])
        out = []
        for rs in z["rrsets"]:
            if rs["type"] in DNSSEC_TYPES:
                continue
            vals = [r["content"] for r in rs["records"] if not r["disabled"]]
            if vals:
                out.append({"kind": "dns#resourceRecordSet", "name": rs["name"].lower(),
                            "type": rs["type"], "ttl": rs["ttl"], "rrdatas": vals})
        out.sort(key=lambda r: (r["name"], r["type"]))
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"

    def log_message(self, fmt, *a):
        sys.stderr.write("gcloud_api: " + (fmt % a) + "\n")

    def send(self, code, obj, headers=()):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def count(self, key):
        with LOCK:
            self.server.state.stats[key] += 1

    # ---------------------------------------------------------------- OAuth 2.0
    def token(self, body):
        st = self.server.state
        form = dict(urllib.parse.parse_qsl(body.decode()))
        bad = {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.send(400, {"error": "unsupported_grant_type",
                                   "error_description": "Invalid grant_type."})
        parts = form.get("assertion", "").split(".")
        if len(parts) != 3:
            self.count("jwt_fail")
            return self.send(400, bad)
        try:
            hdr = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except ValueError:
            self.count("jwt_fail")
            return self.send(400, bad)
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "data"), "wb") as f:
                f.write(("%s.%s" % (parts[0], parts[1])).encode())
            with open(os.path.join(tmp, "sig"), "wb") as f:
                f.write(sig)
            ok = subprocess.run(["openssl", "dgst", "-sha256", "-verify", st.args.public_key,
                                 "-signature", os.path.join(tmp, "sig"), os.path.join(tmp, "data")],
                                capture_output=True).returncode == 0
        now = time.time()
        aud = "http://127.0.0.1:%d/token" % self.server.server_address[1]
        if not ok or hdr.get("alg") != "RS256":
            self.count("jwt_fail")
            return self.send(400, bad)
        if claims.get("iss") != st.args.client_email:
            self.count("jwt_fail")
            return self.send(401, {"error": "invalid_client", "error_description": "The OAuth client was not found."})
        if claims.get("aud") != aud or not set(claims.get("scope", "").split()) & SCOPES:
            self.count("jwt_fail")
            return self.send(400, {"error": "invalid_grant", "error_description": "Invalid audience or scope."})
        if not (claims.get("iat", 0) - 300 <= now < claims.get("exp", 0)) or claims["exp"] - claims["iat"] > 3600:
            self.count("jwt_fail")
            return self.send(400, {"error": "invalid_grant",
                                   "error_description": "Invalid JWT: Token must be a short-lived token."})
        tok = "ya29.fake-" + secrets.token_urlsafe(24)
        with LOCK:
            st.tokens[tok] = now + 3600
            st.stats["tokens"] += 1
        self.send(200, {"access_token": tok, "expires_in": 3599, "token_type": "Bearer"})

    # ---------------------------------------------------------------- DNS API
    def handle_any(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        if self.command == "POST" and u.path == "/token":
            return self.token(body)
        auth = self.headers.get("Authorization", "")
        tok = auth[7:] if auth.startswith("Bearer ") else None
        with LOCK:
            valid = tok in st.tokens and st.tokens[tok] > time.time()
        if not valid:
            self.count("auth_fail")
            return self.send(401, google_error(401, "authError", "Request had invalid authentication "
                                               "credentials.", "UNAUTHENTICATED"))
        p = u.path.split("/")
        # /dns/v1/projects/{p}/managedZones[/{z}[/rrsets|/changes[/{id}]]]
        if len(p) < 6 or p[1:3] != ["dns", "v1"] or p[3] != "projects" or p[5] != "managedZones":
            return self.send(404, google_error(404, "notFound", "Not Found", "NOT_FOUND"))
        if p[4] != st.args.project:
            return self.send(403, google_error(403, "forbidden", "The caller does not have permission",
                                               "PERMISSION_DENIED"))
        if len(p) == 6:
            return self.list_zones(q) if self.command == "GET" else self.send(405, {})
        if len(p) == 7 and p[6].endswith(":testIamPermissions") and self.command == "POST":
            return self.test_iam(p[6][:-len(":testIamPermissions")], body)
        zone = st.zone(p[6])
        if zone is None or zone[2] == "private" and len(p) > 7:
            return self.send(404, google_error(404, "notFound", "The 'parameters.managedZone' resource "
                                               "named '%s' does not exist." % p[6], "NOT_FOUND"))
        if len(p) == 8 and p[7] == "rrsets" and self.command == "GET":
            return self.list_rrsets(zone, q)
        if len(p) == 8 and p[7] == "changes" and self.command == "POST":
            return self.create_change(zone, body)
        if len(p) == 9 and p[7] == "changes" and self.command == "GET":
            return self.get_change(zone, p[8])
        return self.send(404, google_error(404, "notFound", "Not Found", "NOT_FOUND"))

    do_GET = handle_any
    do_POST = handle_any

    def page(self, items, q, key):
        size = min(int(q.get("maxResults", "1000")), self.server.state.args.page_size)
        start = int(q.get("pageToken") or 0)
        out = {key: items[start:start + size]}
        if start + size < len(items):
            out["nextPageToken"] = str(start + size)
        return out

    def list_zones(self, q):
        st = self.server.state
        zones = [{"kind": "dns#managedZone", "name": z[0], "dnsName": z[1], "visibility": z[2],
                  "id": str(abs(hash(z[0])) % 10 ** 12)} for z in st.zones]
        if q.get("dnsName"):
            zones = [z for z in zones if z["dnsName"] == L.fqdn(q["dnsName"].lower())]
        self.send(200, self.page(zones, q, "managedZones"))

    def list_rrsets(self, zone, q):
        st = self.server.state
        with LOCK:
            if not st.flaky_read:
                st.flaky_read = True
                st.stats["throttled"] += 1
                return self.send(429, google_error(429, "rateLimitExceeded", "Rate Limit Exceeded",
                                                   "RESOURCE_EXHAUSTED"), [("Retry-After", "1")])
        sets = st.rrsets(zone)
        if q.get("name"):
            sets = [s for s in sets if s["name"] == L.fqdn(q["name"].lower())]
        if q.get("type"):
            sets = [s for s in sets if s["type"] == q["type"]]
        self.send(200, self.page(sets, q, "rrsets"))

    def test_iam(self, zone_name, body):
        st = self.server.state
        try:
            asked = json.loads(body)["permissions"]
            assert isinstance(asked, list) and all(isinstance(x, str) for x in asked)
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.send(400, google_error(400, "invalid", "Invalid JSON payload received.",
                                               "INVALID_ARGUMENT"))
        if any("*" in x for x in asked):
            return self.send(400, google_error(400, "invalid", "Permissions with wildcards (such "
                                               "as * or storage.*) are not allowed.",
                                               "INVALID_ARGUMENT"))
        zone = st.zone(zone_name)
        # A zone that does not exist yields an empty set, not NOT_FOUND; Google leaves the
        # empty list out.
        held = [x for x in asked if zone is not None and x.startswith("dns.")
                and (not st.args.deny_changes or x in DNS_READER)]
        self.send(200, {"permissions": held} if held else {})

    def conflict(self, code, reason, message):
        self.count("conflicts")
        self.send(code, google_error(code, reason, message,
                                     "FAILED_PRECONDITION" if code == 412 else "ALREADY_EXISTS"))

    def create_change(self, zone, body):
        st = self.server.state
        if st.args.deny_changes:
            return self.send(403, google_error(403, "forbidden", "Forbidden", "PERMISSION_DENIED"))
        with LOCK:
            if not st.flaky_change:
                st.flaky_change = True
                st.stats["unavailable"] += 1
                return self.send(503, google_error(503, "backendError", "Backend Error", "UNAVAILABLE"))
        try:
            req = json.loads(body)
        except ValueError:
            return self.send(400, google_error(400, "parseError", "Parse Error", "INVALID_ARGUMENT"))
        dels, adds = req.get("deletions", []), req.get("additions", [])
        if not dels and not adds:
            return self.send(400, google_error(400, "required", "Required field 'change' not specified",
                                               "INVALID_ARGUMENT"))
        with LOCK:
            if st.args.race and not st.raced and dels:
                # Another writer changes the RRset between our client's read and its write.
                st.raced = True
                d = dels[0]
                st.pdns.patch(zone[1], [L.rr(d["name"], d["type"], d["rrdatas"], d["ttl"] + 7)])
            cur = {(s["name"], s["type"]): s for s in st.rrsets(zone)}
            final = {}
            for i, d in enumerate(dels):
                key = (d["name"].lower(), d["type"])
                have = cur.get(key)
                if have is None or have["ttl"] != d.get("ttl") or sorted(have["rrdatas"]) != sorted(d.get("rrdatas", [])):
                    return self.conflict(412, "conditionNotMet",
                                         "Precondition not met for 'entity.change.deletions[%d]'" % i)
                final[key] = None
            for i, a in enumerate(adds):
                key = (a["name"].lower(), a["type"])
                if not key[0].endswith(zone[1]):
                    return self.send(400, google_error(400, "invalid", "Invalid value for "
                                                       "'entity.change.additions[%d].name'" % i, "INVALID_ARGUMENT"))
                if final.get(key, cur.get(key)) is not None:
                    return self.conflict(409, "alreadyExists", "The resource 'entity.change.additions[%d]' "
                                         "named '%s (%s)' already exists" % (i, key[0], key[1]))
                final[key] = a
            patch = []
            for (name, rtype), s in final.items():
                if s is None:
                    patch.append({"name": name, "type": rtype, "changetype": "DELETE"})
                else:
                    patch.append(L.rr(name, rtype, s["rrdatas"], s["ttl"]))
            st.pdns.patch(zone[1], patch)
            st.counter += 1
            cid = str(st.counter)
            st.changes[(zone[0], cid)] = 0
            st.stats["changes"] += 1
        self.send(200, {"kind": "dns#change", "id": cid, "status": "pending", "additions": adds,
                        "deletions": dels, "startTime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())})

    def get_change(self, zone, cid):
        st = self.server.state
        with LOCK:
            if (zone[0], cid) not in st.changes:
                return self.send(404, google_error(404, "notFound", "The 'parameters.changeId' resource "
                                                   "named '%s' does not exist." % cid, "NOT_FOUND"))
            st.changes[(zone[0], cid)] += 1
            st.stats["polls"] += 1
            done = st.changes[(zone[0], cid)] >= st.args.done_after
        self.send(200, {"kind": "dns#change", "id": cid, "status": "done" if done else "pending"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--project", required=True)
    ap.add_argument("--zone", action="append", required=True)
    ap.add_argument("--client-email", required=True)
    ap.add_argument("--public-key", required=True)
    ap.add_argument("--deny-changes", action="store_true")
    ap.add_argument("--race", action="store_true", help="change the RRset behind the first change's back")
    ap.add_argument("--page-size", type=int, default=1)
    ap.add_argument("--done-after", type=int, default=2)
    ap.add_argument("--no-flaky", action="store_true")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--stats-file")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    if args.stats_file:
        def dump():
            while True:
                time.sleep(0.2)
                with LOCK:
                    s = " ".join("%s=%d" % kv for kv in sorted(srv.state.stats.items()))
                with open(args.stats_file + ".tmp", "w") as f:
                    f.write(s + "\n")
                os.rename(args.stats_file + ".tmp", args.stats_file)
        threading.Thread(target=dump, daemon=True).start()
    srv.serve_forever()


main()
