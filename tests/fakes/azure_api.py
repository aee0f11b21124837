#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fakes/azure_api.py — a local stand-in for Microsoft Entra ID's token endpoint
# (POST /{tenant}/oauth2/v2.0/token, client credentials, AADSTS errors) and the Azure DNS
# record-set API of Azure Resource Manager (GET/PUT/DELETE .../dnsZones/{zone}/{MX|TXT}/{name}
# ?api-version=2018-05-01: ETags, If-Match / If-None-Match → 412, 404 NotFound vs a missing
# zone or group, 401 Invalid/ExpiredAuthenticationToken, 403 AuthorizationFailed). Each change
# is written through to the sandbox's child PowerDNS, so the zone's name servers serve it.
# Control through POST /_ctl (see cloud_fake.py): {"zone": NAME} (imports NAME's MX/TXT from
# PowerDNS), {"role": "contributor"|"reader"|"none"}, {"token_lifetime": S},
# {"expire_tokens": true}, {"race": {"zone", "type", "rel", "ttl", "records"}} (that record
# set is written by "someone else" just before our next write to it), {"metadata": {"zone",
# "type", "rel"[, "metadata"]}} (sets a record set's metadata as the portal does, and answers
# it in "metadata"), "inject", "stale_reads".
# Every answer to /_ctl carries "tokens_issued".
#   azure_api.py --port-file FILE TENANT CLIENT_ID SECRET_FILE SUBSCRIPTION RESOURCE_GROUP
import json
import os
import re
import sys
import threading
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_fake  # noqa: E402

API_VERSION = "2018-05-01"
PERM_API_VERSION = "2022-04-01"
SCOPE = "https://management.azure.com/.default"
LOCK = threading.Lock()
CFG = {}
STATE = {"role": "contributor", "token_lifetime": 3599, "tokens_issued": 0}
TOKENS = {}  # token -> expiry (time.time())
ZONES = {}  # name -> {"sets": {(type, rel): {"etag", "ttl", "records"}}, "stale": None|{}}
PDNS = cloud_fake.Pdns()
ARM = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                 r"Microsoft\.Network/dnsZones/([^/]+)/(MX|TXT)/([^/]+)$", re.I)
PERMS = re.compile(r"^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/"
                   r"Microsoft\.Network/dnsZones/([^/]+)/providers/"
                   r"Microsoft\.Authorization/permissions$", re.I)
# The permissions of the built-in roles as ARM lists them (Reader, DNS Zone Contributor).
READER = {"actions": ["*/read"], "notActions": [], "dataActions": [], "notDataActions": []}
DNS_ZONE_CONTRIBUTOR = {
    "actions": ["Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*",
                "Microsoft.Network/dnsZones/*", "Microsoft.ResourceHealth/availabilityStatuses/read",
                "Microsoft.Resources/deployments/*",
                "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"],
    "notActions": [], "dataActions": [], "notDataActions": []}
ROLE_PERMISSIONS = {
    "contributor": [READER, DNS_ZONE_CONTRIBUTOR],
    "reader": [READER],
    "none": [],
    "no-mx": [READER, dict(DNS_ZONE_CONTRIBUTOR, notActions=[
        "Microsoft.Network/dnsZones/MX/write", "Microsoft.Network/dnsZones/MX/delete"])],
}


def arm_error(code, message):
    return {"error": {"code": code, "message": message}}


def aad_error(error, code, text):
    return {"error": error, "error_description": "AADSTS%d: %s Trace ID: %s" %
            (code, text, uuid.uuid4()), "error_codes": [code],
            "timestamp": cloud_fake.now_iso(), "trace_id": str(uuid.uuid4())}


def fqdn(zone, rel):
    return zone if rel == "@" else "%s.%s" % (rel, zone)


def import_zone(name):
    zone = {"sets": {}, "stale": None}
    for rname, rtype, ttl, contents in PDNS.rrsets(name):
        rel = "@" if rname == name else rname[:-len(name) - 1]
        if rtype == "MX":
            recs = [{"preference": int(c.split()[0]), "exchange": c.split()[1].rstrip(".")}
                    for c in contents]
        else:
            recs = [{"value": [cloud_fake.txt_unquote(c)]} for c in contents]
        zone["sets"][(rtype, rel)] = {"etag": str(uuid.uuid4()), "ttl": ttl, "records": recs}
    ZONES[name] = zone


def mirror(zone_name, rtype, rel, rs):
    if rs is None:
        contents, ttl = [], 0
    elif rtype == "MX":
        contents = ["%d %s." % (r["preference"], r["exchange"].rstrip("."))
                    for r in rs["records"]]
        ttl = rs["ttl"]
    else:
        contents = [cloud_fake.txt_quote("".join(r["value"])) for r in rs["records"]]
        ttl = rs["ttl"]
    PDNS.replace(zone_name, fqdn(zone_name, rel), rtype, ttl, sorted(set(contents)))


def rs_doc(path, zone_name, rtype, rel, rs):
    props = {"metadata": rs.get("metadata") or {}, "TTL": rs["ttl"],
             "fqdn": fqdn(zone_name, rel) + ".",
             "provisioningState": "Succeeded", "targetResource": {}}
    props["MXRecords" if rtype == "MX" else "TXTRecords"] = rs["records"]
    return {"id": path, "name": rel, "type": "Microsoft.Network/dnszones/" + rtype,
            "etag": rs["etag"], "properties": props}


class AzureHandler(cloud_fake.Handler):
    def fault_body(self, status):
        if status == 429:
            return arm_error("TooManyRequests", "The request is being throttled.")
        return arm_error("InternalServerError", "Injected failure (HTTP %d)." % status)

    def ctl(self, doc):
        with LOCK:
            for k in ("role", "token_lifetime"):
                if k in doc:
                    STATE[k] = doc[k]
            if doc.get("expire_tokens"):
                for t in TOKENS:
                    TOKENS[t] = 0
            if "zone" in doc:
                import_zone(doc["zone"])
            if "race" in doc:
                STATE["race"] = doc["race"]
            out = {"tokens_issued": STATE["tokens_issued"]}
            if "metadata" in doc:
                m = doc["metadata"]
                rs = ZONES[m["zone"]]["sets"].get((m["type"], m["rel"]))
                if rs is not None and "metadata" in m:  # as the portal sets it: a new ETag
                    rs["metadata"] = m["metadata"]
                    rs["etag"] = str(uuid.uuid4())
                out["metadata"] = rs.get("metadata") or {} if rs is not None else None
            return out

    def handle_api(self, method, path, query, body):
        if method == "POST" and path.endswith("/oauth2/v2.0/token"):
            return self.token(path.split("/")[1], body)
        pm = PERMS.match(urllib.parse.unquote(path))
        if pm and method == "GET":
            with LOCK:
                return self.permissions(path, pm, dict(urllib.parse.parse_qsl(query)))
        m = ARM.match(urllib.parse.unquote(path))
        if not m:
            return self.reply(404, arm_error("InvalidResourceType", "No such resource type."))
        q = dict(urllib.parse.parse_qsl(query))
        if "api-version" not in q:
            return self.reply(400, arm_error("MissingApiVersionParameter",
                                             "The api-version query parameter is required."))
        if q["api-version"] != API_VERSION:
            return self.reply(400, arm_error("InvalidApiVersionParameter",
                                             "The api-version '%s' is invalid." %
                                             q["api-version"]))
        with LOCK:
            self.record_set(method, urllib.parse.unquote(path), m, body)

    def token(self, tenant, body):
        form = dict(urllib.parse.parse_qsl(body.decode()))
        with LOCK:
            if tenant != CFG["tenant"]:
                return self.reply(400, aad_error("invalid_request", 90002,
                                                 "Tenant '%s' not found." % tenant))
            if form.get("grant_type") != "client_credentials":
                return self.reply(400, aad_error("unsupported_grant_type", 70003,
                                                 "The app requested an unsupported grant "
                                                 "type."))
            if form.get("client_id") != CFG["client"]:
                return self.reply(400, aad_error("unauthorized_client", 700016,
                                                 "Application with identifier '%s' was not "
                                                 "found in the directory." %
                                                 form.get("client_id")))
            if form.get("client_secret") != CFG["secret"]:
                return self.reply(401, aad_error("invalid_client", 7000215,
                                                 "Invalid client secret provided."))
            if form.get("scope") != SCOPE:
                return self.reply(400, aad_error("invalid_scope", 70011,
                                                 "The provided value for scope is not valid."))
            tok = uuid.uuid4().hex + uuid.uuid4().hex
            TOKENS[tok] = time.time() + STATE["token_lifetime"]
            STATE["tokens_issued"] += 1
            life = STATE["token_lifetime"]
        self.reply(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life,
                         "access_token": tok})

    def bearer_error(self):
        """Answers 401 for a missing, unknown or expired token; True when it did."""
        h = self.headers.get("Authorization", "")
        exp = TOKENS.get(h[7:]) if h.startswith("Bearer ") else None
        if exp is None:
            self.reply(401, arm_error("InvalidAuthenticationToken", "The access token is invalid."))
            return True
        if exp < time.time():
            self.reply(401, arm_error("ExpiredAuthenticationToken",
                                      "The access token expiry UTC time is earlier than current "
                                      "UTC time."))
            return True
        return False

    def permissions(self, path, m, q):
        """Permissions - List For Resource: one role's permissions per page."""
        if q.get("api-version") != PERM_API_VERSION:
            return self.reply(400, arm_error("InvalidApiVersionParameter",
                                             "The api-version '%s' is invalid." %
                                             q.get("api-version")))
        if self.bearer_error():
            return
        sub, group, zone_name = m.groups()
        if sub != CFG["subscription"]:
            return self.reply(404, arm_error("SubscriptionNotFound",
                                             "The subscription '%s' could not be found." % sub))
        if group.lower() != CFG["group"].lower():
            return self.reply(404, arm_error("ResourceGroupNotFound",
                                             "Resource group '%s' could not be found." % group))
        perms = ROLE_PERMISSIONS.get(STATE["role"], [])
        at = int(q.get("$skiptoken", "0") or 0)
        doc = {"value": perms[at:at + 1]}
        if at + 1 < len(perms):
            doc["nextLink"] = "http://%s%s?api-version=%s&%%24skiptoken=%d" % (
                self.headers.get("Host"), path, PERM_API_VERSION, at + 1)
        self.reply(200, doc)

    def record_set(self, method, path, m, body):
        sub, group, zone_name, rtype, rel = m.groups()
        zone_name, rtype = zone_name.lower(), rtype.upper()
        h = self.headers.get("Authorization", "")
        exp = TOKENS.get(h[7:]) if h.startswith("Bearer ") else None
        if exp is None:
            return self.reply(401, arm_error("InvalidAuthenticationToken",
                                             "The access token is invalid."))
        if exp < time.time():
            return self.reply(401, arm_error("ExpiredAuthenticationToken",
                                             "The access token expiry UTC time is earlier "
                                             "than current UTC time."))
        if sub != CFG["subscription"]:
            return self.reply(404, arm_error("SubscriptionNotFound",
                                             "The subscription '%s' could not be found." % sub))
        if group.lower() != CFG["group"].lower():
            return self.reply(404, arm_error("ResourceGroupNotFound",
                                             "Resource group '%s' could not be found." % group))
        write = method in ("PUT", "DELETE", "PATCH")
        if STATE["role"] == "none" or (write and STATE["role"] == "reader") or \
                (write and rtype == "MX" and STATE["role"] == "no-mx"):
            action = "Microsoft.Network/dnsZones/%s/%s" % (rtype, "write" if method != "DELETE"
                                                           else "delete")
            if not write:
                action = "Microsoft.Network/dnsZones/%s/read" % rtype
            return self.reply(403, arm_error(
                "AuthorizationFailed",
                "The client '%s' with object id '%s' does not have authorization to perform "
                "action '%s' over scope '%s' or the scope is invalid." %
                (CFG["client"], CFG["client"], action, path)))
        zone = ZONES.get(zone_name)
        if zone is None:
            return self.reply(404, arm_error(
                "ParentResourceNotFound",
                "Can not perform requested operation on nested resource. Parent resource "
                "'%s' not found." % zone_name))
        key = (rtype, rel)
        sets = zone["sets"]
        if method == "GET":
            if zone["stale"] is not None and self.faults.stale_reads:
                sets, zone["stale"] = zone["stale"], None
            rs = sets.get(key)
            if rs is None:
                return self.reply(404, arm_error(
                    "NotFound", "The resource record '%s' does not exist in resource group "
                    "'%s' of subscription '%s'." % (rel, group, sub)))
            return self.reply(200, rs_doc(path, zone_name, rtype, rel, rs),
                              {"ETag": rs["etag"]})
        race = STATE.get("race")
        if race and (race["zone"], race["type"], race["rel"]) == (zone_name, rtype, rel):
            # Someone else writes the set just before our request arrives.
            del STATE["race"]
            sets[key] = {"etag": str(uuid.uuid4()), "ttl": race["ttl"],
                         "records": race["records"]}
            mirror(zone_name, rtype, rel, sets[key])
        cur = sets.get(key)
        if_match = self.headers.get("If-Match")
        if_none = self.headers.get("If-None-Match")
        if (if_match and (cur is None or (if_match != "*" and if_match != cur["etag"]))) or \
                (if_none == "*" and cur is not None):
            return self.reply(412, arm_error(
                "PreconditionFailed", "The condition '%s' in the request header does not match "
                "the current state of record set '%s'." %
                ("If-Match" if if_match else "If-None-Match", rel)))
        if method == "DELETE":
            if cur is None:
                return self.reply(204)
            self.before_change(zone)
            del sets[key]
            mirror(zone_name, rtype, rel, None)
            return self.reply(200)
        if method != "PUT":
            return self.reply(405, arm_error("MethodNotAllowed", "Use PUT or DELETE."))
        try:
            props = json.loads(body)["properties"]
            ttl = props["TTL"]
            recs = props["MXRecords" if rtype == "MX" else "TXTRecords"]
            assert isinstance(ttl, int) and 1 <= ttl <= 2147483647 and recs
            for r in recs:
                if rtype == "MX":
                    assert isinstance(r["preference"], int) and r["exchange"]
                else:
                    assert r["value"] and all(len(s.encode()) <= 1024 for s in r["value"])
        except (ValueError, KeyError, TypeError, AssertionError):
            return self.reply(400, arm_error("BadRequest", "The record set is invalid."))
        self.before_change(zone)
        # A PUT replaces the record set whole: metadata it does not send is gone.
        rs = {"etag": str(uuid.uuid4()), "ttl": ttl, "records": recs,
              "metadata": props.get("metadata") or {}}
        sets[key] = rs
        mirror(zone_name, rtype, rel, rs)
        self.reply(201 if cur is None else 200, rs_doc(path, zone_name, rtype, rel, rs),
                   {"ETag": rs["etag"]})

    def before_change(self, zone):
        if zone["stale"] is None:
            zone["stale"] = {k: dict(v) for k, v in zone["sets"].items()}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--port-file"]:
        CFG.update(tenant=sys.argv[3], client=sys.argv[4],
                   secret=open(sys.argv[5]).read().strip(), subscription=sys.argv[6],
                   group=sys.argv[7])
        sys.argv = sys.argv[:3]
    cloud_fake.main(AzureHandler, sys.argv)
