#!/usr/bin/env python3
"""Sandbox provisioning, called by tests/sandbox/sandbox inside the namespace.

  setup.py pki DIR        local CA, leaf certs for SMTP servers, smtp.json
  setup.py dns DIR        all zones on both PowerDNS instances, root zone, BIND zone files + named.conf
  setup.py northwind DIR  wait for BIND's DNSKEY of northwind.test and put its DS into test.
"""
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbxlib as L  # noqa: E402
from sbxlib import rr, txt  # noqa: E402

# partner MX hosts for DANE tests: name -> (ip, cert kind, tlsa kind, starttls)
PARTNERS = {
    "ok":        ("127.0.6.11", "good",    "311",      True),
    "ta":        ("127.0.6.12", "good",    "211",      True),
    "wrong":     ("127.0.6.13", "good",    "wrong",    True),
    "nostarttls": ("127.0.6.14", "good",   "311",      False),
    "expired311": ("127.0.6.15", "expired", "311",     True),
    "expired211": ("127.0.6.16", "expired", "211",     True),
    "unusable":  ("127.0.6.17", "good",    "unusable", True),
    "down":      ("127.0.6.99", None,      "311-ok",   True),
}

# ready-to-migrate domains served by the child PowerDNS: name -> template options
DOMAINS = {
    "contoso.test": {},
    "fabrikam.test": {"_secure": False},
    "bogus.test": {"_bogus": True},
    "sts-testing.test": {"_policy": {"mode": "testing"}},
    "sts-none.test": {"mtasts": "none"},
    "sts-nocover.test": {"_policy": {"mx": ["*." + L.ENDPOINT_SUFFIX]}},
    "sts-covers.test": {"_policy": {"mx": [L.legacy_host("sts-covers.test"), "*.o-v1." + L.ENDPOINT_SUFFIX]}},
    "sts-redirect.test": {"_www": {"status": "301 https://mta-sts.contoso.test/.well-known/mta-sts.txt"}},
    "sts-404.test": {"_www": {"status": "404"}},
    "sts-big.test": {"_big": True},
    "sts-ctype.test": {"_www": {"ctype": "text/html; charset=utf-8"}},
    "sts-badcert.test": {"_www": {"certname": "wrong-name.test"}},
    "sts-badtxt.test": {"sts_txt": [txt("v=STSv1; id=20260101T000000;"), txt("v=STSv1; id=20260202T000000;")]},
    "tlsrpt-absent.test": {"tlsrpt": None},
    "tlsrpt-bad.test": {"tlsrpt": "v=TLSRPTv1; rua=ftp://x"},
    "nospf.test": {"spf": "v=spf1 ip4:192.0.2.0/24 -all"},
    "fallback.test": {"mx": ["0 %s." % L.legacy_host("fallback.test"), "10 mx.elsewhere.test."]},
    "pref20.test": {"mx": ["20 %s." % L.legacy_host("pref20.test")]},
    "pref10.test": {"mx": ["10 %s." % L.legacy_host("pref10.test")]},
    "migrated.test": {"mx": ["0 %s." % L.target_host("migrated.test")],
                      "_policy": {"mx": ["*.o-v1." + L.ENDPOINT_SUFFIX]}},
    "split.test": {},
}
BIND_DOMAINS = ("expired.test", "northwind.test")
BIND_IPS = {"root": "127.0.1.1", "expired": "127.0.4.1", "northwind": ("127.0.4.2", "127.0.4.3"),
            "split2": "127.0.4.4"}


def pjoin(*a):
    return os.path.join(*a)


# ---------------------------------------------------------------- pki
def phase_pki(d):
    pki = pjoin(d, "pki")
    L.make_ca(pki)
    jobs = []
    with cf.ThreadPoolExecutor(8) as ex:
        def leaf(name, names, expired=False):
            key = pjoin(pki, name + ".key")
            L.make_key(key)
            L.issue(pki, names, pjoin(pki, name + ".pem"), key, expired=expired)
        jobs.append(ex.submit(L.make_key, pjoin(pki, "https-leaf.key")))
        jobs.append(ex.submit(leaf, "target", ["*.o-v1." + L.ENDPOINT_SUFFIX, "mx.elsewhere.test"]))
        jobs.append(ex.submit(leaf, "legacy", ["*." + L.LEGACY_SUFFIX, "*.mail.eo.outlook.test"]))
        for p, (ip, kind, _t, _s) in PARTNERS.items():
            if kind:
                jobs.append(ex.submit(leaf, "partner-" + p, ["mx-%s.partners.test" % p], kind == "expired"))
        for j in jobs:
            j.result()
    listeners = [
        {"ip": L.SMTP_TARGET_IP, "host": "o-v1." + L.ENDPOINT_SUFFIX, "cert": pjoin(pki, "target.pem"),
         "key": pjoin(pki, "target.key"), "starttls": True},
        {"ip": L.SMTP_LEGACY_IP, "host": L.LEGACY_SUFFIX, "cert": pjoin(pki, "legacy.pem"),
         "key": pjoin(pki, "legacy.key"), "starttls": True},
    ]
    for p, (ip, kind, _t, st) in PARTNERS.items():
        if kind:
            listeners.append({"ip": ip, "host": "mx-%s.partners.test" % p, "cert": pjoin(pki, "partner-%s.pem" % p),
                              "key": pjoin(pki, "partner-%s.key" % p), "starttls": st})
    with open(pjoin(d, "smtp.json"), "w") as f:
        json.dump({"listeners": listeners, "spool": pjoin(d, "smtp-spool")}, f, indent=1)


# ---------------------------------------------------------------- dns
def sh(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if p.returncode:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr.strip()))
    return p.stdout


def keygen(keydir, zone, past=False):
    os.makedirs(keydir, exist_ok=True)
    extra = ["-P", "20190101000000", "-A", "20190101000000"] if past else []
    base = sh(["dnssec-keygen", "-q", "-K", keydir, "-a", "ECDSAP256SHA256", "-f", "KSK", "-n", "ZONE"] + extra + [zone]).strip()
    return pjoin(keydir, base)


def key_dnskey(keybase):
    with open(keybase + ".key") as f:
        for line in f:
            if line.startswith(";") or not line.strip():
                continue
            parts = line.split()
            i = parts.index("DNSKEY")
            return " ".join(parts[i + 1:])


def signzone(zonefile, origin, keybase, out, dsdir, start=None, end=None):
    cmd = ["dnssec-signzone", "-q", "-S", "-z", "-o", origin, "-d", dsdir, "-K", os.path.dirname(keybase), "-f", out]
    if start:
        cmd += ["-P", "-s", start, "-e", end]
    cmd += [zonefile]
    sh(cmd)


def phase_dns(d):
    env = L.load_env(pjoin(d, "sandbox.env.pre"))
    child = L.PdnsApi(env["PDNS_API_URL"], open(env["PDNS_API_KEY_FILE"]).read().strip())
    parent = L.PdnsApi(env["PDNS_PARENT_API_URL"], open(env["PDNS_PARENT_API_KEY_FILE"]).read().strip())
    pki, www, bind = pjoin(d, "pki"), pjoin(d, "www"), pjoin(d, "bind")
    os.makedirs(www, exist_ok=True)
    os.makedirs(bind, exist_ok=True)
    target_311 = L.spki_sha256(pjoin(pki, "target.pem"))
    ca_spki = L.spki_sha256(pjoin(pki, "ca.pem"))
    with open(pjoin(d, "tlsa.json"), "w") as f:
        json.dump({"target_311": target_311, "ca_211": ca_spki}, f)

    # ---- parent test. (live-signed on the parent PowerDNS)
    t = "test."
    parent.create_zone(t, [
        rr(t, "SOA", "a.nic.test. hostmaster.nic.test. %d 3600 600 604800 %d" % (L.DEFAULT_SERIAL, L.SOA_MIN)),
        rr(t, "NS", ["a.nic.test.", "b.nic.test."]),
        rr("a.nic.test.", "A", L.PARENT_NS[0]),
        rr("b.nic.test.", "A", L.PARENT_NS[1]),
    ])

    # ---- root zone, signed offline, served by BIND at 127.0.1.1
    def do_root():
        test_ds = parent.ds(t)
        z = ["$TTL 86400",
             ". 86400 IN SOA a.root-servers. hostmaster.root-servers. %d 1800 900 604800 86400" % L.DEFAULT_SERIAL,
             ". 518400 IN NS a.root-servers.",
             "a.root-servers. 518400 IN A %s" % BIND_IPS["root"],
             "test. 172800 IN NS a.nic.test.", "test. 172800 IN NS b.nic.test.",
             "a.nic.test. 172800 IN A %s" % L.PARENT_NS[0], "b.nic.test. 172800 IN A %s" % L.PARENT_NS[1]]
        z += ["test. 86400 IN DS %s" % ds for ds in test_ds]
        with open(pjoin(bind, "root.zone"), "w") as f:
            f.write("\n".join(z) + "\n")
        kb = keygen(pjoin(bind, "keys-root"), ".")
        signzone(pjoin(bind, "root.zone"), ".", kb, pjoin(bind, "root.signed"), pjoin(bind, "keys-root"))
        dnskey = key_dnskey(kb)
        with open(pjoin(d, "root.key"), "w") as f:
            f.write(". 86400 IN DNSKEY %s\n" % dnskey)
        with open(pjoin(d, "root.ds"), "w") as f:
            f.write(". 86400 IN DS %s\n" % L.ds_from_dnskey(".", dnskey))
        f_, p_, a_, k_ = dnskey.split(None, 3)
        with open(pjoin(d, "delv.anchor"), "w") as f:
            f.write('trust-anchors {\n  "." static-key %s %s %s "%s";\n};\n' % (f_, p_, a_, k_))
        with open(pjoin(d, "root.hints"), "w") as f:
            f.write(".  3600000 NS a.root-servers.\na.root-servers. 3600000 A %s\n" % BIND_IPS["root"])

    # ---- expired.test: presigned by dnssec-signzone with signatures that ended in 2020
    def do_expired():
        name = "expired.test"
        ips = (BIND_IPS["expired"], BIND_IPS["expired"])
        rrs = L.domain_rrsets(name, ns_ips=ips)
        zf = pjoin(bind, "expired.zone")
        with open(zf, "w") as f:
            f.write(L.rrsets_to_zonefile(rrs))
        kb = keygen(pjoin(bind, "keys-expired"), name, past=True)
        signzone(zf, name, kb, pjoin(bind, "expired.signed"), pjoin(bind, "keys-expired"),
                 start="20200101000000", end="20200201000000")
        L.write_policy(www, name)
        return L.delegation_rrsets(name, ips, [L.ds_from_dnskey(name, key_dnskey(kb))])

    # ---- northwind.test: plain zone file, BIND signs it (dnssec-policy) and takes RFC 2136 updates
    def do_northwind():
        name = "northwind.test"
        ips = BIND_IPS["northwind"]
        rrs = L.domain_rrsets(name, ns_ips=ips)
        os.makedirs(pjoin(bind, "keys-northwind"), exist_ok=True)
        with open(pjoin(bind, "northwind.db"), "w") as f:
            f.write(L.rrsets_to_zonefile(rrs))
        L.write_policy(www, name)
        return L.delegation_rrsets(name, ips)  # DS added by phase northwind

    # ---- child zones on the child PowerDNS
    def do_child(name, o):
        o = dict(o)
        secure = o.pop("_secure", True)
        bogus = o.pop("_bogus", False)
        pol = o.pop("_policy", {})
        wwwopt = o.pop("_www", {})
        big = o.pop("_big", False)
        child.create_zone(name, L.domain_rrsets(name, **o), dnssec=secure)
        if o.get("mtasts", "enforce") != "none":
            if big:
                body = L.policy_text(**pol)
                pad = "".join("mx: pad%05d.%s\r\n" % (i, L.LEGACY_SUFFIX) for i in range(2200))
                L.write_policy(www, name, body=body.replace("max_age", pad + "max_age"))
            else:
                L.write_policy(www, name, **wwwopt, **pol)
        ds = None
        if secure:
            ds = child.ds(name)
            if bogus:  # DS of another zone's key, recomputed for this owner: matches no key here
                other = [k["dnskey"] for k in child.cryptokeys("contoso.test") if k.get("active")]
                ds = [L.ds_from_dnskey(name, other[0]) if other else "12345 13 2 " + "AB" * 32]
        return L.delegation_rrsets(name, L.CHILD_NS, ds)

    def do_infra(name, rrsets, secure=True):
        n = L.fqdn(name)
        base = [rr(n, "SOA", "ns1.%s hostmaster.%s %d 3600 600 604800 %d" % (n, n, L.DEFAULT_SERIAL, L.SOA_MIN)),
                rr(n, "NS", ["ns1." + n, "ns2." + n]),
                rr("ns1." + n, "A", L.CHILD_NS[0]), rr("ns2." + n, "A", L.CHILD_NS[1])]
        child.create_zone(name, base + rrsets, dnssec=secure)
        return L.delegation_rrsets(name, L.CHILD_NS, child.ds(name) if secure else None)

    all_domains = list(DOMAINS) + list(BIND_DOMAINS)
    mxms = []
    for dom in all_domains:
        mxms += L.target_rrsets(dom, "3 1 1 " + target_311)
    mxms += [rr("notlsa-test.o-v1." + L.ENDPOINT_SUFFIX, "A", L.SMTP_TARGET_IP),
             rr("badtlsa-test.o-v1." + L.ENDPOINT_SUFFIX, "A", L.SMTP_TARGET_IP),
             rr("_25._tcp.badtlsa-test.o-v1." + L.ENDPOINT_SUFFIX, "TLSA", "3 1 1 " + "0123456789ABCDEF" * 4),
             rr("down-test.o-v1." + L.ENDPOINT_SUFFIX, "A", "127.0.6.99"),
             rr("_25._tcp.down-test.o-v1." + L.ENDPOINT_SUFFIX, "TLSA", "3 1 1 " + target_311)]
    outlook = [rr("*." + L.LEGACY_SUFFIX, "A", L.SMTP_LEGACY_IP),
               rr("*.mail.eo.outlook.test", "A", L.SMTP_LEGACY_IP),
               rr(L.SPF_INCLUDE, "TXT", txt("v=spf1 ip4:127.0.0.0/8 -all"))]
    partners = []
    partner_digests = {}
    for p, (ip, kind, tk, _st) in PARTNERS.items():
        h = "mx-%s.partners.test." % p
        partners.append(rr(h, "A", ip))
        if kind:
            partner_digests[p] = L.spki_sha256(pjoin(pki, "partner-%s.pem" % p))
    for p, (ip, kind, tk, _st) in PARTNERS.items():
        h = "mx-%s.partners.test." % p
        if tk == "311":
            tl = ["3 1 1 " + partner_digests[p]]
        elif tk == "311-ok":
            tl = ["3 1 1 " + partner_digests["ok"]]
        elif tk == "211":
            tl = ["2 1 1 " + ca_spki]
        elif tk == "wrong":
            tl = ["3 1 1 " + "0123456789ABCDEF" * 4]
        else:  # unusable: PKIX usages only
            tl = ["0 1 1 " + ca_spki, "1 1 1 " + partner_digests[p]]
        partners.append(rr("_25._tcp." + h, "TLSA", tl))

    deleg = []
    with cf.ThreadPoolExecutor(6) as ex:
        futs = [ex.submit(do_root), ex.submit(do_expired), ex.submit(do_northwind)]
        futs.append(ex.submit(do_infra, "outlook.test", outlook))
        futs.append(ex.submit(do_infra, L.ENDPOINT_SUFFIX, mxms))
        futs.append(ex.submit(do_infra, "elsewhere.test", [rr("mx.elsewhere.test.", "A", L.SMTP_TARGET_IP)]))
        futs.append(ex.submit(do_infra, "partners.test", partners))
        for p in PARTNERS:
            futs.append(ex.submit(do_infra, "dane-%s.test" % p, [rr("dane-%s.test." % p, "MX", "10 mx-%s.partners.test." % p)]))
        for name, o in DOMAINS.items():
            futs.append(ex.submit(do_child, name, o))
        for fu in futs:
            r = fu.result()
            if r:
                deleg += r

    # ---- split.test second NS (BIND view) with another serial and MX set, signed with the same key
    keys = [k for k in child.cryptokeys("split.test") if k.get("active")]
    full = child.cryptokey("split.test", keys[0]["id"])
    dnskey = full["dnskey"]
    kd = pjoin(bind, "keys-split")
    os.makedirs(kd, exist_ok=True)
    import base64, struct  # noqa: E401
    f_, p_, a_, k_ = dnskey.split(None, 3)
    tag = L.keytag(struct.pack("!HBB", int(f_), int(p_), int(a_)) + base64.b64decode(k_))
    kb = pjoin(kd, "Ksplit.test.+%03d+%05d" % (int(a_), tag))
    with open(kb + ".key", "w") as f:
        f.write("split.test. IN DNSKEY %s\n" % dnskey)
    with open(kb + ".private", "w") as f:
        f.write(full["privatekey"].replace("v1.2", "v1.3").rstrip("\n") + "\nCreated: 20190101000000\nPublish: 20190101000000\n"
                "Activate: 20190101000000\n")
    os.chmod(kb + ".private", 0o600)
    rrs = L.domain_rrsets("split.test", ns_ips=(L.CHILD_NS[0], BIND_IPS["split2"]), serial=L.DEFAULT_SERIAL + 7,
                          mx=["0 %s." % L.legacy_host("split.test"), "10 mx.elsewhere.test."])
    with open(pjoin(bind, "split2.zone"), "w") as f:
        f.write(L.rrsets_to_zonefile(rrs))
    signzone(pjoin(bind, "split2.zone"), "split.test", kb, pjoin(bind, "split2.signed"), kd)
    # make the child's own split.test NS set match (ns2 -> BIND)
    child.patch("split.test", [rr("ns2.split.test.", "A", BIND_IPS["split2"])])
    deleg = [x for x in deleg if x["name"] != "ns2.split.test."]
    deleg.append(rr("ns2.split.test.", "A", BIND_IPS["split2"]))

    parent.patch(t, deleg)
    write_named_conf(d, env)


def write_named_conf(d, env):
    bind = pjoin(d, "bind")
    secret = open(env["TSIG_KEYFILE"]).read().strip()
    ips = [BIND_IPS["root"], BIND_IPS["expired"], *BIND_IPS["northwind"], BIND_IPS["split2"]]
    conf = """
options {
  directory "%(b)s";
  pid-file "%(b)s/named.pid";
  session-keyfile "%(b)s/session.key";
  managed-keys-directory "%(b)s";
  listen-on port 53 { %(ips)s; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
  allow-transfer { any; };
  minimal-any no;
};
controls { };
key "%(tn)s" { algorithm %(ta)s; secret "%(sec)s"; };
dnssec-policy sbx {
  keys { csk key-directory lifetime unlimited algorithm ecdsap256sha256; };
  dnskey-ttl 3600;
  max-zone-ttl 86400;
  publish-safety 0;
  retire-safety 0;
  zone-propagation-delay 0;
  parent-ds-ttl 3600;
  parent-propagation-delay 0;
};
view root { match-destinations { %(root)s; }; zone "." { type primary; file "root.signed"; }; };
view expired { match-destinations { %(exp)s; }; zone "expired.test" { type primary; file "expired.signed"; }; };
view northwind {
  match-destinations { %(nw)s; };
  zone "northwind.test" {
    type primary; file "northwind.db"; key-directory "%(b)s/keys-northwind";
    dnssec-policy sbx; allow-update { key "%(tn)s"; };
  };
};
view split2 { match-destinations { %(sp)s; }; zone "split.test" { type primary; file "split2.signed"; }; };
""" % {"b": bind, "ips": "; ".join(ips), "tn": env["TSIG_NAME"], "ta": env["TSIG_ALG"], "sec": secret,
       "root": BIND_IPS["root"], "exp": BIND_IPS["expired"], "nw": "; ".join(BIND_IPS["northwind"]),
       "sp": BIND_IPS["split2"]}
    with open(pjoin(bind, "named.conf"), "w") as f:
        f.write(conf)


def phase_northwind(d):
    env = L.load_env(pjoin(d, "sandbox.env.pre"))
    parent = L.PdnsApi(env["PDNS_PARENT_API_URL"], open(env["PDNS_PARENT_API_KEY_FILE"]).read().strip())
    ip = BIND_IPS["northwind"][0]
    deadline = time.time() + 15
    keys = []
    while time.time() < deadline:
        out = subprocess.run(["dig", "+short", "+norec", "+time=1", "+tries=1", "@" + ip, "northwind.test", "DNSKEY"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        keys = [l for l in out.splitlines() if l.startswith("257 ")]
        if keys:
            # also wait until the apex MX is signed (zone fully signed)
            sig = subprocess.run(["dig", "+short", "+norec", "+dnssec", "@" + ip, "northwind.test", "MX"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
            if "MX 13" in sig:
                break
        time.sleep(0.1)
    if not keys:
        sys.exit("northwind.test: BIND did not publish a DNSKEY within 15 s")
    parent.patch("test.", [rr("northwind.test.", "DS", [L.ds_from_dnskey("northwind.test", k) for k in keys])])


if __name__ == "__main__":
    phase, d = sys.argv[1], sys.argv[2]
    {"pki": phase_pki, "dns": phase_dns, "northwind": phase_northwind}[phase](d)
