"""Shared helpers for the mxcutover sandbox (python3 stdlib only).

Zone templates, PowerDNS HTTP API client, DS computation, MTA-STS policy files.
"""
import base64
import hashlib
import http.client
import json
import os
import struct
import time
import urllib.parse

CHILD_NS = ("127.0.3.1", "127.0.3.2")
PARENT_NS = ("127.0.2.1", "127.0.2.2")
HTTPS_IP = "127.0.5.1"
SMTP_TARGET_IP = "127.0.6.1"
SMTP_LEGACY_IP = "127.0.6.2"
ENDPOINT_SUFFIX = "mx.microsoft.test"
LEGACY_SUFFIX = "mail.protection.outlook.test"
SPF_INCLUDE = "spf.protection.outlook.test"
SOA_MIN = 300
DEFAULT_SERIAL = 2024010101


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            k, v = line.split("=", 1)
            env[k] = v
    return env


def fqdn(n):
    return n if n.endswith(".") else n + "."


def dashed(name):
    return name.rstrip(".").replace(".", "-")


def target_host(name):
    return "%s.o-v1.%s" % (dashed(name), ENDPOINT_SUFFIX)


def legacy_host(name):
    return "%s.%s" % (dashed(name), LEGACY_SUFFIX)


# ---------------------------------------------------------------- PowerDNS API
class PdnsApi:
    def __init__(self, url, key, server_id="localhost"):
        self.base = url.rstrip("/") + "/api/v1/servers/" + server_id
        self.key = key

    def req(self, method, path, body=None, ok=(200, 201, 204)):
        u = urllib.parse.urlsplit(self.base + path)
        headers = {"X-API-Key": self.key, "Connection": "close"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        # Tests write the same zones from several processes at once; the gsqlite3 backend then
        # answers 500 "database is locked" and rolls the change back. Retry with a backoff
        # (a retried POST that finds the zone created answers 409: that is success).
        for attempt in range(8):
            c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=120)
            try:
                c.request(method, u.path, body=data, headers=headers)
                resp = c.getresponse()
                raw, code = resp.read(), resp.status
            finally:
                c.close()
            if code == 409 and attempt > 0 and method == "POST":
                return None
            if code < 500 or attempt == 7:
                break
            time.sleep(0.05 * (2 ** attempt))
        if code not in ok:
            raise RuntimeError("PowerDNS API %s %s -> %d: %s" % (method, path, code, raw[:500].decode(errors="replace")))
        return json.loads(raw) if raw else None

    def create_zone(self, name, rrsets, dnssec=True):
        body = {
            "name": fqdn(name),
            "kind": "Native",
            "dnssec": dnssec,
            "nameservers": [],
            "rrsets": rrsets,
        }
        return self.req("POST", "/zones", body)

    def delete_zone(self, name):
        return self.req("DELETE", "/zones/" + fqdn(name), ok=(204, 404, 422))

    def patch(self, zone, rrsets):
        return self.req("PATCH", "/zones/" + fqdn(zone), {"rrsets": rrsets})

    def cryptokeys(self, zone):
        return self.req("GET", "/zones/%s/cryptokeys" % fqdn(zone))

    def cryptokey(self, zone, kid):
        return self.req("GET", "/zones/%s/cryptokeys/%d" % (fqdn(zone), kid))

    def ds(self, zone):
        """SHA-256 DS rdata strings for the zone's active KSK/CSK."""
        out = []
        for k in self.cryptokeys(zone):
            if not k.get("active"):
                continue
            for d in k.get("ds", []):
                parts = d.split()
                if len(parts) == 4 and parts[2] == "2":
                    out.append(d)
        return out


def api_from_env(env, which="child"):
    if which == "child":
        url, keyfile = env["PDNS_API_URL"], env["PDNS_API_KEY_FILE"]
    else:
        url, keyfile = env["PDNS_PARENT_API_URL"], env["PDNS_PARENT_API_KEY_FILE"]
    with open(keyfile) as f:
        key = f.read().strip()
    return PdnsApi(url, key)


def rr(name, rtype, contents, ttl=3600):
    if isinstance(contents, str):
        contents = [contents]
    return {
        "name": fqdn(name),
        "type": rtype,
        "ttl": ttl,
        "changetype": "REPLACE",
        "records": [{"content": c, "disabled": False} for c in contents],
    }


def txt(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


# ---------------------------------------------------------------- DS helpers
def name_wire(name):
    out = b""
    for label in fqdn(name).lower().split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def keytag(rdata):
    ac = 0
    for i, b in enumerate(rdata):
        ac += b if i & 1 else b << 8
    ac += (ac >> 16) & 0xFFFF
    return ac & 0xFFFF


def ds_from_dnskey(owner, dnskey):
    """dnskey: '257 3 13 BASE64' -> DS rdata string (SHA-256)."""
    f, p, a, key = dnskey.split(None, 3)
    rdata = struct.pack("!HBB", int(f), int(p), int(a)) + base64.b64decode("".join(key.split()))
    digest = hashlib.sha256(name_wire(owner) + rdata).hexdigest().upper()
    return "%d %s 2 %s" % (keytag(rdata), a, digest)


# ---------------------------------------------------------------- templates
def policy_text(mode="enforce", mx=("*.%s" % LEGACY_SUFFIX,), max_age=86400):
    lines = ["version: STSv1", "mode: %s" % mode]
    lines += ["mx: %s" % m for m in mx]
    lines.append("max_age: %d" % max_age)
    return "\r\n".join(lines) + "\r\n"


def write_policy(www, name, body=None, status=None, ctype=None, certname=None, **kw):
    """Write the MTA-STS policy (and behaviour control files) for mta-sts.<name>."""
    host = "mta-sts." + name.rstrip(".")
    d = os.path.join(www, host)
    os.makedirs(os.path.join(d, ".well-known"), exist_ok=True)
    if body is None:
        body = policy_text(**kw)
    with open(os.path.join(d, ".well-known", "mta-sts.txt"), "w", newline="") as f:
        f.write(body)
    for fn, val in ((".status", status), (".content-type", ctype), (".certname", certname)):
        p = os.path.join(d, fn)
        if val is not None:
            with open(p, "w") as f:
                f.write(val + "\n")
        elif os.path.exists(p):
            os.unlink(p)


def domain_rrsets(name, ns_ips=CHILD_NS, mx=None, mx_ttl=3600, mtasts="enforce", sts_txt=None,
                  tlsrpt="default", spf="default", serial=DEFAULT_SERIAL, extra=None, unrelated=True,
                  mta_sts_host=True):
    """rrsets (PowerDNS API form) of a ready-to-migrate domain like contoso.test."""
    n = fqdn(name)
    rrs = [
        rr(n, "SOA", "ns1.%s hostmaster.%s %d 3600 600 604800 %d" % (n, n, serial, SOA_MIN)),
        rr(n, "NS", ["ns1." + n, "ns2." + n]),
        rr("ns1." + n, "A", ns_ips[0]),
        rr("ns2." + n, "A", ns_ips[-1]),
    ]
    if mx is None:
        mx = ["0 %s." % legacy_host(name)]
    if mx:
        rrs.append(rr(n, "MX", mx, ttl=mx_ttl))
    apex_txt = []
    if spf == "default":
        apex_txt.append(txt("v=spf1 include:%s -all" % SPF_INCLUDE))
    elif spf:
        apex_txt.append(txt(spf))
    if unrelated:
        apex_txt.append(txt("sandbox-unrelated=%s" % dashed(name)))
        rrs.append(rr("www." + n, "A", "127.0.7.1"))
        rrs.append(rr("ftp." + n, "CNAME", "www." + n))
        rrs.append(rr("info." + n, "TXT", txt("do not touch")))
    if apex_txt:
        rrs.append(rr(n, "TXT", apex_txt))
    if mtasts and mtasts != "none":
        rrs.append(rr("_mta-sts." + n, "TXT", sts_txt or [txt("v=STSv1; id=20260101T000000;")]))
    if mta_sts_host and mtasts and mtasts != "none":
        rrs.append(rr("mta-sts." + n, "A", HTTPS_IP))
    if tlsrpt == "default":
        rrs.append(rr("_smtp._tls." + n, "TXT", txt("v=TLSRPTv1; rua=mailto:tlsrpt@%s" % name.rstrip("."))))
    elif tlsrpt:
        rrs.append(rr("_smtp._tls." + n, "TXT", txt(tlsrpt)))
    for e in extra or []:
        rrs.append(e)
    return rrs


def rrsets_to_zonefile(rrsets):
    lines = []
    for s in rrsets:
        for r in s["records"]:
            lines.append("%s %d IN %s %s" % (s["name"], s["ttl"], s["type"], r["content"]))
    return "\n".join(lines) + "\n"


def delegation_rrsets(name, ns_ips=CHILD_NS, ds=None, ttl=3600):
    n = fqdn(name)
    out = [
        rr(n, "NS", ["ns1." + n, "ns2." + n], ttl=ttl),
        rr("ns1." + n, "A", ns_ips[0], ttl=ttl),
        rr("ns2." + n, "A", ns_ips[-1], ttl=ttl),
    ]
    if ds:
        out.append(rr(n, "DS", ds, ttl=ttl))
    return out


def target_rrsets(name, tlsa=None, ip=SMTP_TARGET_IP):
    """A (+ TLSA 3 1 1) of the Exchange-Online-like target host for domain name."""
    h = target_host(name)
    out = [rr(h, "A", ip)]
    if tlsa:
        out.append(rr("_25._tcp." + h, "TLSA", tlsa))
    return out


# ---------------------------------------------------------------- PKI (openssl CLI)
import subprocess  # noqa: E402




def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw).stdout


def make_ca(pki):
    os.makedirs(pki, exist_ok=True)
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", os.path.join(pki, "ca.key"), "-out", os.path.join(pki, "ca.pem"), "-days", "3650",
         "-subj", "/O=mxcutover sandbox/CN=mxcutover sandbox CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=hash"])


def make_key(path):
    run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
    os.chmod(path, 0o600)


def issue(pki, names, out_cert, key, expired=False):
    """Issue a leaf cert for names (list of DNS names) with the sandbox CA, signing key `key`."""
    import secrets
    import tempfile
    ca, cakey = os.path.join(pki, "ca.pem"), os.path.join(pki, "ca.key")
    san = ",".join("DNS:" + n for n in names)
    if not expired:  # one openssl run (OpenSSL >= 3.0: req -x509 -CA)
        tmp = out_cert + ".tmp%d.%s" % (os.getpid(), secrets.token_hex(4))
        run(["openssl", "req", "-new", "-x509", "-key", key, "-CA", ca, "-CAkey", cakey,
             "-subj", "/CN=" + names[0][:64], "-days", "825", "-set_serial", "0x" + secrets.token_hex(12),
             "-addext", "subjectAltName=" + san, "-addext", "basicConstraints=critical,CA:FALSE",
             "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=serverAuth",
             "-out", tmp])
        os.replace(tmp, out_cert)
        return
    with tempfile.TemporaryDirectory(dir=pki) as td:
        csr = os.path.join(td, "r.csr")
        run(["openssl", "req", "-new", "-key", key, "-subj", "/CN=" + names[0][:64], "-out", csr])
        ext = os.path.join(td, "ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                    "authorityKeyIdentifier=keyid\n" % san)
        tmp = out_cert + ".tmp%d" % os.getpid()
        if not expired:
            run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-days", "825",
                 "-set_serial", "0x" + secrets.token_hex(12), "-extfile", ext, "-out", tmp])
        else:
            cnf = os.path.join(td, "ca.cnf")
            os.makedirs(os.path.join(td, "new"))
            open(os.path.join(td, "index.txt"), "w").close()
            with open(os.path.join(td, "serial"), "w") as f:
                f.write(secrets.token_hex(8) + "\n")
            with open(cnf, "w") as f:
                f.write("[ca]\ndefault_ca=sbx\n[sbx]\ndatabase=%s/index.txt\nnew_certs_dir=%s/new\n"
                        "serial=%s/serial\ndefault_md=sha256\npolicy=pol\nunique_subject=no\n"
                        "[pol]\ncommonName=supplied\n" % (td, td, td))
            run(["openssl", "ca", "-batch", "-notext", "-config", cnf, "-cert", ca, "-keyfile", cakey,
                 "-in", csr, "-out", tmp, "-startdate", "20200101000000Z", "-enddate", "20200301000000Z",
                 "-extfile", ext])
        os.replace(tmp, out_cert)


def spki_sha256(pem_path):
    pub = run(["openssl", "x509", "-noout", "-pubkey", "-in", pem_path])
    der = run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub)
    return hashlib.sha256(der).hexdigest().upper()
