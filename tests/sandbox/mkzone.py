#!/usr/bin/env python3
"""Create fresh ready-to-migrate, DNSSEC-signed zones in a running sandbox.

  mkzone [--dir DIR] NAME [--insecure] [--mtasts enforce|testing|none] [--no-tlsrpt] [--mx-ttl N]
         [--ns-ip IP]...
      -> prints the target host (<NAME with dots->dashes>.o-v1.mx.microsoft.test)
  mkzone [--dir DIR] --bulk N PREFIX [--insecure] [...]
      -> creates PREFIX1.test .. PREFIXN.test, prints the zone names

Run inside the sandbox namespace (DIR defaults to $MX_SANDBOX_DIR). NAME must be directly under
test. (e.g. t1234.test). Zones go to the child PowerDNS (ns1/ns2 127.0.3.1/.2), delegation + DS to
the parent test. zone, target host A 127.0.6.1 + TLSA 3 1 1 to mx.microsoft.test, MTA-STS policy
to DIR/www/mta-sts.NAME/.well-known/mta-sts.txt (served by the HTTPS server, cert issued on the fly).
"""
import argparse
import concurrent.futures as cf
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import sbxlib as L  # noqa: E402

BATCH = 1000  # RRsets per PowerDNS PATCH (a few hundred KB of JSON)


def patch_batched(api, confdir, zone, rrsets):
    """PATCH rrsets into zone in batches, then rectify the zone once.

    One PATCH per batch: PowerDNS refuses a request body over its webserver-max-bodysize (2 MB
    by default, about 4000 delegations). And PowerDNS rectifies the whole zone after every
    PATCH (the NSEC order), which makes 200 batches into tens of thousands of records
    quadratic: the zone's API-RECTIFY is off while the batches go in and one rectify follows.
    """
    if len(rrsets) <= BATCH:
        if rrsets:
            api.patch(zone, rrsets)
        return
    # The API refuses to set API-RECTIFY; pdnsutil writes it into the server's database.
    pdnsutil = ["pdnsutil", "--config-dir=" + confdir]
    subprocess.run(pdnsutil + ["set-meta", L.fqdn(zone), "API-RECTIFY", "0"], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        for i in range(0, len(rrsets), BATCH):
            api.patch(zone, rrsets[i:i + BATCH])
    finally:
        subprocess.run(pdnsutil + ["set-meta", L.fqdn(zone), "API-RECTIFY"], check=True,
                       stdout=subprocess.DEVNULL)
        api.req("PUT", "/zones/%s/rectify" % L.fqdn(zone))


def main():
    ap = argparse.ArgumentParser(prog="mkzone")
    ap.add_argument("--dir", default=os.environ.get("MX_SANDBOX_DIR"))
    ap.add_argument("name", nargs="?")
    ap.add_argument("--insecure", action="store_true", help="do not sign / no DS at the parent")
    ap.add_argument("--mtasts", choices=("enforce", "testing", "none"), default="enforce")
    ap.add_argument("--no-tlsrpt", action="store_true")
    ap.add_argument("--mx-ttl", type=int, default=3600)
    ap.add_argument("--ns-ip", action="append", metavar="IP",
                    help="delegate to this address instead of the child PowerDNS (repeatable): "
                         "a domain whose name servers are whatever listens there, or nothing")
    ap.add_argument("--bulk", nargs=2, metavar=("N", "PREFIX"))
    ap.add_argument("--threads", type=int, default=6)
    a = ap.parse_args()
    if not a.dir:
        ap.error("no --dir and MX_SANDBOX_DIR unset (run inside tests/sandbox/sandbox exec)")
    if bool(a.bulk) == bool(a.name):
        ap.error("give exactly one of NAME or --bulk N PREFIX")
    env = L.load_env(os.path.join(a.dir, "sandbox.env"))
    child = L.api_from_env(env, "child")
    parent = L.api_from_env(env, "parent")
    tlsa = "3 1 1 " + env["MX_TARGET_TLSA_311"]
    www = env.get("MX_SANDBOX_WWW", os.path.join(a.dir, "www"))

    if a.bulk:
        n, prefix = int(a.bulk[0]), a.bulk[1]
        names = ["%s%d.test" % (prefix, i) for i in range(1, n + 1)]
    else:
        names = [a.name.lower().rstrip(".")]
    ns_ips = tuple(a.ns_ip) if a.ns_ip else L.CHILD_NS
    if len(ns_ips) == 1:
        ns_ips = ns_ips * 2  # ns1 and ns2 at the same address
    for nm in names:
        if not nm.endswith(".test") or nm.count(".") != 1:
            sys.exit("mkzone: %s: NAME must be a single label under test. (e.g. t1234.test)" % nm)

    def one(nm):
        rrs = L.domain_rrsets(nm, ns_ips=ns_ips, mx_ttl=a.mx_ttl, mtasts=a.mtasts,
                              tlsrpt=None if a.no_tlsrpt else "default")
        try:
            child.create_zone(nm, rrs, dnssec=not a.insecure)
        except RuntimeError as e:
            if "-> 409" in str(e):
                raise RuntimeError("zone %s already exists" % nm)
            raise
        if a.mtasts != "none":
            L.write_policy(www, nm, mode=a.mtasts)
        ds = None if a.insecure else child.ds(nm)
        return L.delegation_rrsets(nm, ns_ips, ds), L.target_rrsets(nm, tlsa)

    deleg, targets = [], []
    try:
        if len(names) == 1:
            results = [one(names[0])]
        else:
            with cf.ThreadPoolExecutor(max(1, a.threads)) as ex:
                results = list(ex.map(one, names))
        for d, t in results:
            deleg += d
            targets += t
        patch_batched(child, os.path.join(a.dir, "pdns-child"), L.ENDPOINT_SUFFIX, targets)
        patch_batched(parent, os.path.join(a.dir, "pdns-parent"), "test.", deleg)
    except RuntimeError as e:
        sys.exit("mkzone: %s" % e)
    if a.bulk:
        print("\n".join(names))
    else:
        print(L.target_host(names[0]))


if __name__ == "__main__":
    main()
