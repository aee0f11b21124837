#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fakes/cloudflare_api.py — a local stand-in for the Cloudflare API v4 (/client/v4):
# Bearer tokens with per-zone and read/edit rights, GET /zones?name=, dns_records list
# (page/per_page, result_info) and per-record POST/PUT/PATCH/DELETE, TTL 1 = automatic and a
# 60 s minimum, identical-record refusal (81058). Each change is written through to the
# sandbox's child PowerDNS, so the zone's name servers serve it. GET /user/tokens/verify (and
# /accounts/{id}/tokens/verify for an account-owned token, which /user does not know) answers
# the token's status; GET /zones/{id} the zone with its account. Failure injection and control
# through POST /_ctl (see cloud_fake.py): {"token": T, "edit": bool, "zones": [..],
# "status": "active"|"disabled"|"expired", "expires_on": ISO, "account_owned": bool},
# {"zone": NAME} (imports NAME's MX/TXT from PowerDNS), {"max_per_page": N}, "inject",
# "stale_reads" (after a change, the next listing shows the records from before it; a number N:
# the next N listings do).
#   cloudflare_api.py --port-file FILE     (serves /client/v4 on 127.0.0.1:PORT)
import json
import os
import sys
import threading
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_fake  # noqa: E402

PREFIX = "/client/v4"
LOCK = threading.Lock()
TOKENS = {}  # token -> {"edit": bool, "zones": None | [names]}
ZONES = {}  # id -> {"name", "records": {rid: rec}, "stale": None | {rid: rec}}
STATE = {"max_per_page": 5000}
ACCOUNT = "0123456789abcdef0123456789abcdef"
PDNS = cloud_fake.Pdns()


def envelope(result, info=None, status_ok=True, errors=None):
    doc = {"success": status_ok, "errors": errors or [], "messages": [], "result": result}
    if info is not None:
        doc["result_info"] = info
    return doc


def error(code, message):
    return envelope(None, status_ok=False, errors=[{"code": code, "message": message}])


def to_pdns(rec):
    if rec["type"] == "MX":
        return "%d %s." % (rec["priority"], rec["content"].rstrip("."))
    c = rec["content"]
    return c if c.startswith('"') else cloud_fake.txt_quote(c)


def mirror(zone, name, rtype):
    """Writes the RRset name/type as the fake holds it into PowerDNS."""
    recs = [r for r in zone["records"].values() if r["name"] == name and r["type"] == rtype]
    ttls = [300 if r["ttl"] == 1 else r["ttl"] for r in recs]
    PDNS.replace(zone["name"], name, rtype, min(ttls) if ttls else 0,
                 sorted(set(to_pdns(r) for r in recs)))


def new_record(zone_id, zone, doc):
    rec = {"id": uuid.uuid4().hex, "zone_id": zone_id, "zone_name": zone["name"],
           "name": doc["name"].rstrip(".").lower(), "type": doc["type"],
           "content": doc["content"], "ttl": doc.get("ttl", 1), "proxiable": False,
           "proxied": False, "locked": False, "meta": {"auto_added": False},
           "comment": doc.get("comment"), "tags": list(doc.get("tags") or []),
           "created_on": cloud_fake.now_iso(),
           "modified_on": cloud_fake.now_iso()}
    if doc["type"] == "MX":
        rec["priority"] = doc["priority"]
    return rec


def import_zone(name):
    zid = uuid.uuid4().hex
    zone = {"name": name, "records": {}, "stale": None}
    for rname, rtype, ttl, contents in PDNS.rrsets(name):
        for c in contents:
            if rtype == "MX":
                pref, host = c.split(None, 1)
                doc = {"name": rname, "type": "MX", "content": host.rstrip("."),
                       "priority": int(pref), "ttl": ttl}
            else:
                doc = {"name": rname, "type": "TXT", "content": c, "ttl": ttl}
            rec = new_record(zid, zone, doc)
            zone["records"][rec["id"]] = rec
    ZONES[zid] = zone
    return zid


def validate(doc):
    """None, or (status, error document) as Cloudflare answers a bad record."""
    if doc.get("type") not in ("MX", "TXT", "A", "AAAA", "CNAME"):
        return 400, error(9000, "DNS record type is invalid.")
    if not isinstance(doc.get("name"), str) or not isinstance(doc.get("content"), str):
        return 400, error(9005, "Content for record is invalid.")
    ttl = doc.get("ttl", 1)
    if not isinstance(ttl, int) or (ttl != 1 and not 60 <= ttl <= 86400):
        return 400, error(9021, "Invalid TTL. Must be between 60 and 86400 seconds, or 1 for "
                                "Automatic.")
    if doc["type"] == "MX" and not isinstance(doc.get("priority"), int):
        return 400, error(9100, "MX records require a priority.")
    return None


class CloudflareHandler(cloud_fake.Handler):
    def fault_body(self, status):
        if status == 429:
            return error(971, "Please wait and consider throttling your request speed")
        return error(10000 + status, "injected failure (HTTP %d)" % status)

    def ctl(self, doc):
        with LOCK:
            if "token" in doc:
                TOKENS[doc["token"]] = {"edit": doc.get("edit", True),
                                        "zones": doc.get("zones"),
                                        "status": doc.get("status", "active"),
                                        "expires_on": doc.get("expires_on"),
                                        "account_owned": doc.get("account_owned", False),
                                        "id": uuid.uuid4().hex}
            if "max_per_page" in doc:
                STATE["max_per_page"] = doc["max_per_page"]
            if "zone" in doc:
                return {"id": import_zone(doc["zone"])}
        return {}

    def auth(self):
        h = self.headers.get("Authorization", "")
        if not h.startswith("Bearer ") or len(h) < 12:
            self.reply(400, envelope(None, False, errors=[{
                "code": 6003, "message": "Invalid request headers",
                "error_chain": [{"code": 6111,
                                 "message": "Invalid format for Authorization header"}]}]))
            return None
        tok = TOKENS.get(h[7:])
        if tok is None:
            self.reply(401, error(10000, "Authentication error"))
        return tok

    def verify(self, tok, parts):
        """GET /user/tokens/verify, /accounts/{id}/tokens/verify."""
        user = parts[0] == "user"
        if tok is None or tok["account_owned"] == user or (not user and parts[1] != ACCOUNT):
            return self.reply(401, error(1000, "Invalid API Token"))
        res = {"id": tok["id"], "status": tok["status"]}
        if tok["expires_on"]:
            res["expires_on"] = tok["expires_on"]
        doc = envelope(res)
        doc["messages"] = [{"code": 10000, "message": "This API Token is valid and active"
                            if tok["status"] == "active" else "This API Token is not active"}]
        self.reply(200, doc)

    def handle_api(self, method, path, query, body):
        if not path.startswith(PREFIX):
            return self.reply(404, error(7003, "No route for the URI"))
        parts = [p for p in path[len(PREFIX):].split("/") if p]
        q = dict(urllib.parse.parse_qsl(query))
        with LOCK:
            h = self.headers.get("Authorization", "")
            if method == "GET" and parts[-2:] == ["tokens", "verify"] and \
                    (parts[:1] == ["user"] or (len(parts) == 4 and parts[0] == "accounts")):
                return self.verify(TOKENS.get(h[7:]) if h.startswith("Bearer ") else None, parts)
            tok = self.auth()
            if tok is None:
                return
            if tok["status"] != "active":
                return self.reply(401, error(10000, "Authentication error"))
            if parts == ["zones"] and method == "GET":
                return self.list_zones(tok, q)
            if len(parts) == 2 and parts[0] == "zones" and method == "GET":
                return self.zone_details(tok, parts[1])
            if len(parts) < 3 or parts[0] != "zones" or parts[2] != "dns_records":
                return self.reply(404, error(7003, "No route for the URI"))
            zone = ZONES.get(parts[1])
            if zone is None:
                return self.reply(404, error(7003, "Could not route to /zones/%s, perhaps "
                                                   "your object identifier is invalid?"
                                             % parts[1]))
            if tok["zones"] is not None and zone["name"] not in tok["zones"]:
                return self.reply(403, error(10000, "Authentication error"))
            if method == "GET" and len(parts) == 3:
                return self.list_records(zone, q)
            if not tok["edit"]:
                return self.reply(403, error(10000, "Authentication error"))
            doc = json.loads(body or b"{}")
            if method == "POST" and len(parts) == 3:
                return self.create(parts[1], zone, doc)
            if len(parts) == 4 and method in ("PUT", "PATCH", "DELETE"):
                return self.change(zone, parts[3], method, doc)
            return self.reply(405, error(10405, "Method not allowed"))

    def zone_doc(self, zid, z):
        return {"id": zid, "name": z["name"], "status": "active", "paused": False,
                "type": "full", "name_servers": [],
                "account": {"id": ACCOUNT, "name": "Contoso"}}

    def zone_details(self, tok, zid):
        z = ZONES.get(zid)
        if z is None or (tok["zones"] is not None and z["name"] not in tok["zones"]):
            return self.reply(404, error(7003, "Could not route to /zones/%s, perhaps your "
                                               "object identifier is invalid?" % zid))
        self.reply(200, envelope(self.zone_doc(zid, z)))

    def list_zones(self, tok, q):
        zs = [self.zone_doc(zid, z) for zid, z in ZONES.items()
              if (not q.get("name") or z["name"] == q["name"].lower())
              and (tok["zones"] is None or z["name"] in tok["zones"])]
        self.reply(200, envelope(zs, {"page": 1, "per_page": 20, "count": len(zs),
                                      "total_count": len(zs), "total_pages": 1}))

    def list_records(self, zone, q):
        records = zone["records"]
        stale = zone["stale"] is not None and self.faults.stale_reads
        if stale:
            records = zone["stale"]
        recs = [r for r in records.values()
                if (not q.get("type") or r["type"] == q["type"])
                and (not q.get("name") or r["name"] == q["name"].lower().rstrip("."))]
        recs.sort(key=lambda r: r["created_on"] + r["id"])
        per_page = max(1, min(int(q.get("per_page", 100)), STATE["max_per_page"]))
        page = max(1, int(q.get("page", 1)))
        pages = max(1, (len(recs) + per_page - 1) // per_page)
        chunk = recs[(page - 1) * per_page:page * per_page]
        if stale and page >= pages:
            zone["stale_left"] = zone.get("stale_left", 1) - 1
            if zone["stale_left"] <= 0:
                zone["stale"] = None  # the next listing shows the change
        self.reply(200, envelope(chunk, {"page": page, "per_page": per_page,
                                         "count": len(chunk), "total_count": len(recs),
                                         "total_pages": pages}))

    def before_change(self, zone):
        if zone["stale"] is None:
            zone["stale"] = {k: dict(v) for k, v in zone["records"].items()}
            n = self.faults.stale_reads
            zone["stale_left"] = n if type(n) is int and n > 1 else 1

    def create(self, zone_id, zone, doc):
        bad = validate(doc)
        if bad:
            return self.reply(*bad)
        rec = new_record(zone_id, zone, doc)
        for r in zone["records"].values():
            if (r["name"], r["type"], r["content"], r.get("priority")) == \
                    (rec["name"], rec["type"], rec["content"], rec.get("priority")):
                return self.reply(400, error(81058, "An identical record already exists."))
        self.before_change(zone)
        zone["records"][rec["id"]] = rec
        mirror(zone, rec["name"], rec["type"])
        self.reply(200, envelope(rec))

    def change(self, zone, rid, method, doc):
        rec = zone["records"].get(rid)
        if rec is None:
            return self.reply(404, error(81044, "Record does not exist."))
        if method == "DELETE":
            self.before_change(zone)
            del zone["records"][rid]
            mirror(zone, rec["name"], rec["type"])
            return self.reply(200, envelope({"id": rid}))
        merged = dict(rec, **doc) if method == "PATCH" else doc
        bad = validate(merged)
        if bad:
            return self.reply(*bad)
        self.before_change(zone)
        new = new_record(rec["zone_id"], zone, merged)
        new["id"] = rid
        new["created_on"] = rec["created_on"]
        zone["records"][rid] = new
        mirror(zone, rec["name"], rec["type"])
        if new["name"] != rec["name"] or new["type"] != rec["type"]:
            mirror(zone, new["name"], new["type"])
        self.reply(200, envelope(new))


if __name__ == "__main__":
    cloud_fake.main(CloudflareHandler, sys.argv)
