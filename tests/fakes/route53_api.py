#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fakes/route53_api.py — a local server that behaves like the documented Amazon Route 53
# API (2013-04-01, XML) for the end-to-end tests: every request's SigV4 signature is verified
# with the same secret; ListHostedZonesByName and ListResourceRecordSets page with a small
# MaxItems (a private zone of the same name sorts first); ChangeResourceRecordSets validates
# the batch like Route 53 (a DELETE must match name, type, TTL and every value, a CREATE must
# not find the RRset) and answers PENDING, GetChange turns INSYNC after N polls; the first
# change is refused once with 400 Throttling. The zone state lives in the sandbox's child
# PowerDNS (the fake reads and writes through its API), so the real name servers serve what
# the fake holds, as Route 53's name servers would.
#   route53_api.py --zone NAME [--zone NAME...] --access-key-id ID --secret-file FILE
#                  [--session-token-file FILE] [--deny ACTION] [--max-items N]
#                  [--insync-after N] [--no-throttle] [--race] --port-file FILE [--stats-file F]
# PowerDNS comes from $MX_SANDBOX_ENV (PDNS_API_URL, PDNS_API_KEY_FILE).
import argparse
import hashlib
import hmac
import os
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.environ.get("MX_SANDBOX_TOOLS", os.path.join(os.path.dirname(__file__), "..", "sandbox")))
import sbxlib as L  # noqa: E402

NS = "https://route53.amazonaws.com/doc/2013-04-01/"
DNSSEC_TYPES = {"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY"}
LOCK = threading.RLock()


def xml_doc(root, children):
    """<root xmlns=NS> with nested (tag, text|list) children, serialized."""
    el = ET.Element(root, xmlns=NS)

    def add(parent, items):
        for tag, val in items:
            c = ET.SubElement(parent, tag)
            if isinstance(val, list):
                add(c, val)
            elif val is not None:
                c.text = str(val)

    add(el, children)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(el)


def error_doc(code, message, kind="Sender"):
    return xml_doc("ErrorResponse", [("Error", [("Type", kind), ("Code", code), ("Message", message)]),
                                     ("RequestId", "fake-%d" % time.time_ns())])


def sort_key(name, rtype):
    labels = name.lower().rstrip(".").split(".")
    return (list(reversed(labels)), rtype)


class State:
    def __init__(self, args):
        self.args = args
        env = L.load_env(os.environ["MX_SANDBOX_ENV"])
        self.pdns = L.api_from_env(env, "child")
        self.secret = open(args.secret_file).read().strip()
        self.token = open(args.session_token_file).read().strip() if args.session_token_file else None
        self.zones = []  # (id, name, private)
        for z in args.zone:
            h = hashlib.sha1(z.encode()).hexdigest()[:12].upper()
            self.zones.append(("ZP" + h, L.fqdn(z.lower()), False))
            self.zones.append(("ZA" + h, L.fqdn(z.lower()), True))  # sorts first: a private twin
        self.zones.sort(key=lambda z: (sort_key(z[1], ""), z[0]))
        self.changes = {}  # id -> polls seen
        self.throttled = args.no_throttle
        self.raced = False
        self.counter = 0
        self.stats = {"throttled": 0, "sig_fail": 0, "changes": 0, "conflicts": 0, "polls": 0}

    def zone_by_id(self, zid):
        for z in self.zones:
            if z[0] == zid:
                return z
        return None

    def rrsets(self, zone):
        z = self.pdns.req("GET", "/zones/" + zone)
        out = []
        for rs in z["rrsets"]:
            if rs["type"] in DNSSEC_TYPES:
                continue
            vals = [r["content"] for r in rs["records"] if not r["disabled"]]
            if vals:
                out.append({"name": rs["name"].lower(), "type": rs["type"], "ttl": rs["ttl"], "values": vals})
        out.sort(key=lambda r: sort_key(r["name"], r["type"]))
        return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonRoute53Fake/1.0"

    def log_message(self, fmt, *a):
        sys.stderr.write("route53_api: " + (fmt % a) + "\n")

    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", "fake")
        self.end_headers()
        self.wfile.write(body)

    # ---------------------------------------------------------------- SigV4
    def verify(self, body):
        st = self.server.state
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return ("MissingAuthenticationToken", "Missing Authentication Token")
        parts = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = parts.get("Credential", "").split("/")
        if len(cred) != 5 or cred[0] != st.args.access_key_id:
            return ("InvalidClientTokenId", "The security token included in the request is invalid.")
        amz_date = self.headers.get("X-Amz-Date", "")
        if cred[1] != amz_date[:8] or cred[3] != "route53" or cred[4] != "aws4_request":
            return ("IncompleteSignature", "Credential scope does not match the request.")
        try:
            t = time.mktime(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")) - time.timezone
        except ValueError:
            return ("IncompleteSignature", "X-Amz-Date is malformed.")
        if abs(t - time.time()) > 300:
            return ("SignatureDoesNotMatch", "Signature expired: the request time is too skewed.")
        signed = parts.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return ("IncompleteSignature", "host and x-amz-date must be signed.")
        if st.token is not None:
            if "x-amz-security-token" not in signed or self.headers.get("X-Amz-Security-Token") != st.token:
                return ("InvalidClientTokenId", "The security token included in the request is invalid.")
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.quote(u.path, safe="/-_.~")
        q = []
        for kv in u.query.split("&") if u.query else []:
            k, _, v = kv.partition("=")
            q.append((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"),
                      urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~")))
        q.sort()
        hdrs = ""
        for h in signed:
            vals = self.headers.get_all(h) or []
            hdrs += "%s:%s\n" % (h, ",".join(" ".join(v.split()) for v in vals))
        creq = "\n".join([self.command, path, "&".join("%s=%s" % kv for kv in q), hdrs, ";".join(signed),
                          hashlib.sha256(body).hexdigest()])
        scope = "/".join(cred[1:])
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = ("AWS4" + st.secret).encode()
        for m in cred[1:]:
            k = hmac.new(k, m.encode(), hashlib.sha256).digest()
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, parts.get("Signature", "")):
            return ("SignatureDoesNotMatch", "The request signature we calculated does not match the "
                    "signature you provided. Check your AWS Secret Access Key and signing method.")
        return None

    def handle_any(self):
        st = self.server.state
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        bad = self.verify(body)
        if bad:
            with LOCK:
                st.stats["sig_fail"] += 1
            return self.send(403, error_doc(*bad))
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        p = u.path.rstrip("/").split("/")
        action = None
        if self.command == "GET" and u.path == "/2013-04-01/hostedzonesbyname":
            action = "ListHostedZonesByName"
        elif len(p) == 5 and p[2] == "hostedzone" and p[4] == "rrset":
            action = "ListResourceRecordSets" if self.command == "GET" else "ChangeResourceRecordSets"
        elif self.command == "GET" and len(p) == 4 and p[2] == "hostedzone":
            action = "GetHostedZone"
        elif self.command == "GET" and len(p) == 4 and p[2] == "change":
            action = "GetChange"
        if action is None:
            return self.send(404, error_doc("UnknownOperationException", "Unknown operation " + u.path))
        if action in st.args.deny:
            return self.send(403, error_doc("AccessDenied", "User: arn:aws:iam::123456789012:user/mx is not "
                                            "authorized to perform: route53:%s" % action))
        return getattr(self, action)(q, p, body)

    do_GET = handle_any
    do_POST = handle_any

    # ---------------------------------------------------------------- operations
    def ListHostedZonesByName(self, q, p, body):
        st = self.server.state
        maxitems = min(int(q.get("maxitems", "100")), st.args.max_items)
        zones = st.zones
        if q.get("dnsname"):
            start = (sort_key(q["dnsname"], ""), q.get("hostedzoneid", ""))
            zones = [z for z in zones if (sort_key(z[1], ""), z[0]) >= start]
        page, rest = zones[:maxitems], zones[maxitems:]
        items = [("HostedZones", [("HostedZone", [("Id", "/hostedzone/" + z[0]), ("Name", z[1]),
                                                  ("CallerReference", "fake-" + z[0]),
                                                  ("Config", [("PrivateZone", "true" if z[2] else "false")]),
                                                  ("ResourceRecordSetCount", 10)]) for z in page])]
        if q.get("dnsname"):
            items.append(("DNSName", q["dnsname"]))
        items += [("IsTruncated", "true" if rest else "false"), ("MaxItems", maxitems)]
        if rest:
            items += [("NextDNSName", rest[0][1]), ("NextHostedZoneId", rest[0][0])]
        self.send(200, xml_doc("ListHostedZonesByNameResponse", items))

    def GetHostedZone(self, q, p, body):
        st = self.server.state
        z = self.zone_or_404(p[3])
        if z is None:
            return
        items = [("HostedZone", [("Id", "/hostedzone/" + z[0]), ("Name", z[1]),
                                 ("CallerReference", "fake-" + z[0]),
                                 ("Config", [("PrivateZone", "true" if z[2] else "false")]),
                                 ("ResourceRecordSetCount", 10)])]
        if z[2]:
            items.append(("VPCs", [("VPC", [("VPCRegion", "us-east-1"), ("VPCId", "vpc-1")])]))
        else:
            items.append(("DelegationSet", [("NameServers", [
                ("NameServer", "ns-%d.awsdns-fake.test" % i) for i in range(1, 5)])]))
        self.send(200, xml_doc("GetHostedZoneResponse", items))

    def zone_or_404(self, zid):
        z = self.server.state.zone_by_id(zid)
        if z is None:
            self.send(404, error_doc("NoSuchHostedZone", "No hosted zone found with ID: " + zid))
        return z

    def ListResourceRecordSets(self, q, p, body):
        st = self.server.state
        z = self.zone_or_404(p[3])
        if z is None:
            return
        if z[2]:
            sets = []  # the private twin is empty
        else:
            sets = st.rrsets(z[1])
        maxitems = min(int(q.get("maxitems", "300")), st.args.max_items)
        if q.get("name"):
            start = sort_key(q["name"], q.get("type", ""))
            sets = [s for s in sets if sort_key(s["name"], s["type"]) >= start]
        page, rest = sets[:maxitems], sets[maxitems:]
        items = [("ResourceRecordSets", [("ResourceRecordSet", [
            ("Name", s["name"]), ("Type", s["type"]), ("TTL", s["ttl"]),
            ("ResourceRecords", [("ResourceRecord", [("Value", v)]) for v in s["values"]])]) for s in page]),
            ("IsTruncated", "true" if rest else "false"), ("MaxItems", maxitems)]
        if rest:
            items += [("NextRecordName", rest[0]["name"]), ("NextRecordType", rest[0]["type"])]
        self.send(200, xml_doc("ListResourceRecordSetsResponse", items))

    def invalid_batch(self, message):
        with LOCK:
            self.server.state.stats["conflicts"] += 1
        self.send(400, xml_doc("InvalidChangeBatch", [("Messages", [("Message", message)]),
                                                      ("RequestId", "fake")]))

    def ChangeResourceRecordSets(self, q, p, body):
        st = self.server.state
        z = self.zone_or_404(p[3])
        if z is None:
            return
        with LOCK:
            if not st.throttled:
                st.throttled = True
                st.stats["throttled"] += 1
                return self.send(400, error_doc("Throttling", "Rate exceeded"))
        try:
            root = ET.fromstring(body)
        except ET.ParseError as e:
            return self.send(400, error_doc("InvalidInput", "Invalid XML: %s" % e))
        if root.tag != "{%s}ChangeResourceRecordSetsRequest" % NS:
            return self.send(400, error_doc("InvalidInput", "Expected ChangeResourceRecordSetsRequest"))
        changes = []
        for ch in root.iter("{%s}Change" % NS):
            action = ch.findtext("{%s}Action" % NS)
            rs = ch.find("{%s}ResourceRecordSet" % NS)
            if action not in ("CREATE", "DELETE", "UPSERT") or rs is None:
                return self.send(400, error_doc("InvalidInput", "Invalid Change"))
            name = (rs.findtext("{%s}Name" % NS) or "").lower()
            if not name.endswith("."):
                name += "."
            changes.append({
                "action": action, "name": name, "type": rs.findtext("{%s}Type" % NS),
                "ttl": int(rs.findtext("{%s}TTL" % NS) or -1),
                "values": [v.text or "" for v in rs.iter("{%s}Value" % NS)]})
        if not changes:
            return self.send(400, error_doc("InvalidInput", "A ChangeBatch needs at least one Change"))
        with LOCK:
            if st.args.race and not st.raced:
                # Another writer changes the RRset between our client's read and its write.
                st.raced = True
                c = next((c for c in changes if c["action"] == "DELETE"), None)
                if c:
                    st.pdns.patch(z[1], [L.rr(c["name"], c["type"], c["values"], c["ttl"] + 7)])
            cur = {(s["name"], s["type"]): s for s in st.rrsets(z[1])}
            final = {}
            for c in changes:
                key = (c["name"], c["type"])
                have = final.get(key, cur.get(key))
                desc = "[name='%s', type='%s']" % key
                if not c["name"].endswith(z[1]):
                    return self.send(400, error_doc("InvalidChangeBatch", "%s is not in zone %s" % (c["name"], z[1])))
                if c["action"] == "DELETE":
                    if have is None:
                        return self.invalid_batch("Tried to delete resource record set %s but it was not found" % desc)
                    if have["ttl"] != c["ttl"] or sorted(have["values"]) != sorted(c["values"]):
                        return self.invalid_batch("Tried to delete resource record set %s but the values "
                                                  "provided do not match the current values" % desc)
                    final[key] = None
                elif c["action"] == "CREATE":
                    if have is not None:
                        return self.invalid_batch("Tried to create resource record set %s but it already exists" % desc)
                    final[key] = {"name": c["name"], "type": c["type"], "ttl": c["ttl"], "values": c["values"]}
                else:
                    final[key] = {"name": c["name"], "type": c["type"], "ttl": c["ttl"], "values": c["values"]}
            patch = []
            for (name, rtype), s in final.items():
                if s is None:
                    patch.append({"name": name, "type": rtype, "changetype": "DELETE"})
                else:
                    patch.append(L.rr(name, rtype, s["values"], s["ttl"]))
            st.pdns.patch(z[1], patch)
            st.counter += 1
            cid = "C%08dFAKE" % st.counter
            st.changes[cid] = 0
            st.stats["changes"] += 1
        self.send(200, xml_doc("ChangeResourceRecordSetsResponse", [("ChangeInfo", [
            ("Id", "/change/" + cid), ("Status", "PENDING"),
            ("SubmittedAt", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))])]))

    def GetChange(self, q, p, body):
        st = self.server.state
        cid = p[3]
        with LOCK:
            if cid not in st.changes:
                return self.send(404, error_doc("NoSuchChange", "A change with the specified change ID does not exist."))
            st.changes[cid] += 1
            st.stats["polls"] += 1
            status = "INSYNC" if st.changes[cid] >= st.args.insync_after else "PENDING"
        self.send(200, xml_doc("GetChangeResponse", [("ChangeInfo", [
            ("Id", "/change/" + cid), ("Status", status),
            ("SubmittedAt", time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()))])]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--zone", action="append", required=True)
    ap.add_argument("--access-key-id", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--session-token-file")
    ap.add_argument("--deny", action="append", default=[])
    ap.add_argument("--max-items", type=int, default=1)
    ap.add_argument("--insync-after", type=int, default=2)
    ap.add_argument("--no-throttle", action="store_true")
    ap.add_argument("--race", action="store_true", help="change the RRset behind the first batch's back")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--stats-file")
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.state = State(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
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
