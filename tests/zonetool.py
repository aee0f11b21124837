#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/zonetool.py — what the end-to-end tests do to the sandbox zones behind the product's
# back: set an RRset on the child PowerDNS, dump a zone's RRsets, publish a policy file, and a
# monitor that asks every authoritative server every 50 ms during a run.
#   zonetool.py set ZONE NAME TYPE TTL VALUE...    (values in PowerDNS content syntax)
#   zonetool.py dump ZONE                          (sorted RRsets, one per line)
#   zonetool.py del ZONE NAME TYPE                 (deletes an RRset)
#   zonetool.py disable ZONE NAME TYPE VALUE       (adds VALUE to the RRset as a disabled
#                                                   record: PowerDNS keeps it, serves it never)
#   zonetool.py disabled ZONE NAME TYPE            (the RRset's disabled records, sorted)
#   zonetool.py dane-off TARGET                    (withdraws the target's TLSA, as Microsoft
#                                                   does after Disable-SmtpDaneInbound)
#   zonetool.py monitor ZONE STOPFILE              (exit 1 on an empty MX or a dead host)
import json, os, subprocess, sys, time

sys.path.insert(0, os.path.join(os.environ["MX_SANDBOX_TOOLS"]))
import sbxlib as L  # noqa: E402

env = L.load_env(os.environ["MX_SANDBOX_ENV"])
api = L.api_from_env(env, "child")
NS = ["127.0.3.1", "127.0.3.2"]


def dig(server, name, rtype):
    out = subprocess.run(["dig", "+short", "+norec", "+tries=1", "+time=1", "@" + server, name, rtype],
                         capture_output=True, text=True)
    return out.returncode, [l for l in out.stdout.splitlines() if l]


def main():
    cmd = sys.argv[1]
    if cmd == "set":
        zone, name, rtype, ttl, values = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6:]
        api.patch(zone, [L.rr(name, rtype, values, ttl)])
    elif cmd == "del":
        zone, name, rtype = sys.argv[2], sys.argv[3], sys.argv[4]
        api.patch(zone, [{"name": L.fqdn(name), "type": rtype, "changetype": "DELETE"}])
    elif cmd in ("disable", "disabled"):
        zone, name, rtype = sys.argv[2], L.fqdn(sys.argv[3]), sys.argv[4]
        z = api.req("GET", "/zones/" + L.fqdn(zone))
        rs = next((r for r in z["rrsets"] if r["name"] == name and r["type"] == rtype), None)
        if cmd == "disabled":
            for c in sorted(r["content"] for r in (rs or {"records": []})["records"] if r["disabled"]):
                print(c)
        else:
            recs = [{"content": r["content"], "disabled": r["disabled"]} for r in rs["records"]]
            recs.append({"content": sys.argv[5], "disabled": True})
            api.patch(zone, [{"name": name, "type": rtype, "ttl": rs["ttl"], "changetype": "REPLACE",
                              "records": recs}])
    elif cmd == "dane-off":
        api.patch(L.ENDPOINT_SUFFIX, [{"name": L.fqdn("_25._tcp." + sys.argv[2]), "type": "TLSA",
                                       "changetype": "DELETE"}])
    elif cmd == "dump":
        z = api.req("GET", "/zones/" + L.fqdn(sys.argv[2]))
        for rs in sorted(z["rrsets"], key=lambda r: (r["name"], r["type"])):
            if rs["type"] in ("SOA", "RRSIG", "NSEC", "NSEC3", "DNSKEY", "NSEC3PARAM"):
                continue
            vals = sorted(r["content"] for r in rs["records"] if not r["disabled"])
            print(rs["name"], rs["type"], rs["ttl"], " | ".join(vals))
    elif cmd == "monitor":
        zone, stop = sys.argv[2], sys.argv[3]
        seen = 0
        while not os.path.exists(stop):
            for ns in NS:
                rc, mx = dig(ns, zone, "MX")
                if rc != 0:
                    continue
                seen += 1
                if not mx:
                    print("monitor: %s served an EMPTY MX RRset for %s" % (ns, zone))
                    sys.exit(1)
                for line in mx:
                    host = line.split()[1].rstrip(".")
                    rc2, a = dig("127.0.3.1", host, "A")
                    if rc2 == 0 and not a:
                        print("monitor: MX host %s (from %s) does not resolve" % (host, ns))
                        sys.exit(1)
            time.sleep(0.05)
        print("monitor: %d MX answers, all non-empty with resolving hosts" % seen)
    else:
        sys.exit("usage: zonetool.py set|dump|monitor ...")


main()
