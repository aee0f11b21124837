#!/usr/bin/env python3
"""Pre-issue the sandbox HTTPS server's per-host certificates (bench helper).

  precerts.py SANDBOX_DIR HOST...    (or host names on stdin, one a line)

tests/sandbox/https_server.py serves DIR/certs/<host>.pem (key: DIR/pki/https-leaf.key) when the
file exists, and otherwise issues one on the fly with `openssl` (sbxlib.issue) on the first TLS
handshake for that name. A first pass over 1000 fresh mta-sts hosts then spends seconds of CPU
minting certificates inside the timed run (before sandbox commit e03294e: two openssl runs per
host under one global lock, ~40 s for 1000, and fetches timed out). This writes the same
certificates up front (same CA, key and extensions as sbxlib.issue), in-process with
`cryptography` when it is importable, else with parallel openssl.
"""
import concurrent.futures as cf
import datetime
import os
import secrets
import subprocess
import sys
import tempfile


def with_cryptography(pki, certs, hosts):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate(open(os.path.join(pki, "ca.pem"), "rb").read())
    cakey = serialization.load_pem_private_key(open(os.path.join(pki, "ca.key"), "rb").read(), None)
    leaf = serialization.load_pem_private_key(
        open(os.path.join(pki, "https-leaf.key"), "rb").read(), None)
    pub = leaf.public_key()
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(cakey.public_key())
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    ku = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    for h in hosts:
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, h[:64])]))
                .issuer_name(ca.subject).public_key(pub)
                .serial_number(int.from_bytes(secrets.token_bytes(12), "big") >> 1)
                .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(h)]), False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
                .add_extension(ku, True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
                .add_extension(aki, False)
                .sign(cakey, hashes.SHA256()))
        write(certs, h, cert.public_bytes(serialization.Encoding.PEM))


def with_openssl(pki, certs, hosts):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "tests",
                                    "sandbox"))
    import sbxlib as L
    key = os.path.join(pki, "https-leaf.key")
    with cf.ThreadPoolExecutor(os.cpu_count() or 2) as ex:
        list(ex.map(lambda h: L.issue(pki, [h], os.path.join(certs, h + ".pem"), key), hosts))


def write(certs, host, pem):
    fd, tmp = tempfile.mkstemp(dir=certs, prefix=".pre")
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(tmp, 0o644)
    os.replace(tmp, os.path.join(certs, host + ".pem"))


def main():
    d = sys.argv[1]
    hosts = sys.argv[2:] or [l.strip() for l in sys.stdin if l.strip()]
    pki, certs = os.path.join(d, "pki"), os.path.join(d, "certs")
    os.makedirs(certs, exist_ok=True)
    hosts = [h.lower().rstrip(".") for h in hosts
             if not os.path.exists(os.path.join(certs, h.lower().rstrip(".") + ".pem"))]
    try:
        import cryptography.x509  # noqa: F401
        how = with_cryptography
    except ImportError:
        how = with_openssl
    how(pki, certs, hosts)
    print("%d certificates (%s)" % (len(hosts), "cryptography" if how is with_cryptography else "openssl"))


if __name__ == "__main__":
    main()
