#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/fakes/exo_api.py — a local stand-in for Exchange Online's admin API
# (POST /adminapi/beta/{tenant}/InvokeCommand, {"CmdletInput":{"CmdletName","Parameters"}})
# and Microsoft Entra ID's token endpoint (POST /{tenant}/oauth2/v2.0/token, client
# credentials with a client secret or an RS256 certificate assertion checked with openssl:
# x5t#S256, signature, aud, iss/sub, exp; AADSTS errors; tokens that expire).
# The cmdlets served are exactly those of the product's contract: Get-AcceptedDomain,
# Enable-/Disable-/Get-DnssecStatusForVerifiedDomain, Enable-/Disable-SmtpDaneInbound,
# Get-SmtpDaneInboundStatus, Get-/Set-OutboundConnector. It is backed by the sandbox: the
# TLSA of a managed domain's target host (_25._tcp.<host> in the endpoint zone of the child
# PowerDNS) exists only while inbound DANE is enabled, and MxValidation reads the domain's
# live MX RRset. Only domains registered through /_ctl are managed (and lose or gain TLSA).
# Control through POST /_ctl (see cloud_fake.py):
#   {"domain": NAME, "dnssec": "Enabled"|"Disabled", "dane": "Enabled"|"Disabled",
#    "host": HOST}                    registers (or updates) an accepted domain
#   {"connector": {"Identity": N, "SmtpDaneMode": M, "MtaStsMode": M}}
#   {"permission": false}             the app lacks Exchange.ManageAsApp (401 on every call)
#   {"role": "admin"|"reader"|"none"} the app's Exchange role (403 on what it may not run)
#   {"unavailable": [CMDLET...]}      cmdlets this tenant does not have (CommandNotFound)
#   {"token_lifetime": S}, {"expire_tokens": true}, {"expire_after_calls": N} (every token
#   expires once N more calls have been answered), {"tlsa_delay": S}, "inject", "clear_log",
#   {"clear_calls": true}, {"list_tokens": true} (adds "tokens": every token issued)
# Every answer carries "tokens_issued", "credentials" (kinds used, in order), "calls"
# ("CMDLET param=value…", in order), "domains" and "connectors".
#   exo_api.py --port-file FILE TENANT CLIENT_ID SECRET_FILE [CERT_PEM]
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cloud_fake  # noqa: E402

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
SUFFIX = os.environ.get("MX_EXO_ENDPOINT_SUFFIX", "mx.microsoft.test")
LOCK = threading.Lock()
CFG = {}
STATE = {"token_lifetime": 3599, "tokens_issued": 0, "credentials": [], "calls": [],
         "permission": True, "role": "admin", "unavailable": [], "tlsa_delay": 0}
TOKENS = {}  # token -> expiry (time.time())
DOMAINS = {}  # name -> {"dnssec", "dane", "host"}
CONNECTORS = {}  # identity -> {"SmtpDaneMode", "MtaStsMode"}
PDNS = cloud_fake.Pdns()
WRITES = ("Enable-", "Disable-", "Set-")


def aad_error(error, code, text):
    return {"error": error, "error_description": "AADSTS%d: %s Trace ID: %s" %
            (code, text, uuid.uuid4()), "error_codes": [code],
            "timestamp": cloud_fake.now_iso(), "trace_id": str(uuid.uuid4())}


def exo_error(code, message):
    return {"error": {"code": code, "message": message}}


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def cert_thumbprint(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def verify_rs256(pem_path, signing_input, sig):
    with tempfile.TemporaryDirectory() as d:
        pub = os.path.join(d, "pub.pem")
        with open(pub, "wb") as f:
            f.write(subprocess.run(["openssl", "x509", "-in", pem_path, "-pubkey", "-noout"],
                                   capture_output=True, check=True).stdout)
        with open(os.path.join(d, "in"), "wb") as f:
            f.write(signing_input)
        with open(os.path.join(d, "sig"), "wb") as f:
            f.write(sig)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub, "-signature",
                            os.path.join(d, "sig"), os.path.join(d, "in")],
                           capture_output=True)
        return r.returncode == 0


def tlsa_name(host):
    return "_25._tcp." + host


def set_tlsa(host, present):
    """Publishes (or removes) the target's TLSA in the endpoint zone, as Microsoft does."""
    if not host.endswith("." + SUFFIX):
        return
    data = "3 1 1 " + os.environ.get("MX_TARGET_TLSA_311", "00" * 32)
    PDNS.replace(SUFFIX, tlsa_name(host), "TLSA", 3600, [data] if present else [])


def set_tlsa_later(host, delay):
    def publish():
        with LOCK:
            d = next((v for v in DOMAINS.values() if v["host"] == host), None)
            if d and d["dane"] == "Enabled":
                set_tlsa(host, True)
    if delay > 0:
        threading.Timer(delay, publish).start()
    else:
        set_tlsa(host, True)


def live_mx(domain):
    """[(pref, host)] of the domain's MX RRset as its zone holds it, or None."""
    try:
        for name, rtype, _ttl, contents in PDNS.rrsets(domain):
            if name == domain and rtype == "MX":
                return [(int(c.split()[0]), c.split()[1].rstrip(".").lower()) for c in contents]
        return []
    except Exception:  # not a zone of the child PowerDNS
        return None


def mx_validation(domain, d):
    """MxValidation as Get-DnssecStatusForVerifiedDomain reports it: Microsoft expects its
    host alone, at preference 10."""
    if d["dnssec"] != "Enabled":
        return {"Status": "NotApplicable", "Errors": []}
    mx = live_mx(domain)
    if mx is None:
        return {"Status": "Unknown", "Errors": ["EX000: The MX record could not be read."]}
    errors = []
    ours = [p for p, h in mx if h == d["host"]]
    others = ["%d %s" % (p, h) for p, h in mx if h != d["host"]]
    if not ours:
        errors.append("EX001: No MX record points to %s." % d["host"])
    elif ours[0] != 10:
        errors.append("EX003: The MX record for %s has preference %d; the expected "
                      "preference is 10." % (d["host"], ours[0]))
    if others:
        errors.append("EX002: Other MX records were found: %s." % ", ".join(others))
    return {"Status": "Invalid" if errors else "Valid", "Errors": errors}


class ExoHandler(cloud_fake.Handler):
    def fault_body(self, status):
        if status == 429:
            return exo_error("TooManyRequests", "The request was throttled. Retry later.")
        return exo_error("InternalServerError", "Injected failure (HTTP %d)." % status)

    def ctl(self, doc):
        with LOCK:
            for k in ("token_lifetime", "permission", "role", "unavailable", "tlsa_delay",
                      "expire_after_calls"):
                if k in doc:
                    STATE[k] = doc[k]
            if doc.get("expire_tokens"):
                for t in TOKENS:
                    TOKENS[t] = 0
            if doc.get("clear_log") or doc.get("clear_calls"):
                STATE["calls"] = []
                STATE["credentials"] = []
            if "domain" in doc:
                name = doc["domain"].lower()
                d = DOMAINS.setdefault(name, {"dnssec": "Disabled", "dane": "Disabled",
                                              "host": "%s.o-v1.%s" % (name.replace(".", "-"),
                                                                      SUFFIX)})
                for k in ("dnssec", "dane", "host"):
                    if k in doc:
                        d[k] = doc[k]
                set_tlsa(d["host"], d["dane"] == "Enabled")
            if "connector" in doc:
                c = dict(doc["connector"])
                CONNECTORS[c.pop("Identity")] = c
            out = {"tokens_issued": STATE["tokens_issued"],
                    "credentials": STATE["credentials"], "calls": STATE["calls"],
                    "domains": DOMAINS, "connectors": CONNECTORS}
            if doc.get("list_tokens"):
                out["tokens"] = list(TOKENS)
            return out

    def handle_api(self, method, path, query, body):
        parts = path.split("/")
        if method == "POST" and path.endswith("/oauth2/v2.0/token") and len(parts) == 5:
            return self.token(parts[1], body)
        if method == "POST" and len(parts) == 5 and parts[1:3] == ["adminapi", "beta"] and \
                parts[4] == "InvokeCommand":
            return self.invoke(parts[3], body)
        self.reply(404, exo_error("NotFound", "No such endpoint."))

    # ---------------------------------------------------------------- sign-in
    def token(self, tenant, body):
        form = dict(urllib.parse.parse_qsl(body.decode()))
        base = "http://" + self.headers.get("Host", "")
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
            if form.get("scope") != base + "/.default":
                return self.reply(400, aad_error("invalid_scope", 70011,
                                                 "The provided value for scope is not valid."))
            if "client_assertion" in form or "client_assertion_type" in form:
                problem = self.check_assertion(form, base + "/%s/oauth2/v2.0/token" % tenant)
                if problem:
                    return self.reply(401, aad_error("invalid_client", problem[0], problem[1]))
                STATE["credentials"].append("certificate")
            elif form.get("client_secret") != CFG["secret"]:
                return self.reply(401, aad_error("invalid_client", 7000215,
                                                 "Invalid client secret provided."))
            else:
                STATE["credentials"].append("secret")
            tok = uuid.uuid4().hex + uuid.uuid4().hex
            TOKENS[tok] = time.time() + STATE["token_lifetime"]
            STATE["tokens_issued"] += 1
            life = STATE["token_lifetime"]
        self.reply(200, {"token_type": "Bearer", "expires_in": life, "ext_expires_in": life,
                         "access_token": tok})

    def check_assertion(self, form, token_url):
        """None, or (AADSTS code, text) of what is wrong with the certificate assertion."""
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return (700024, "Client assertion type is not supported.")
        if not CFG.get("cert"):
            return (700027, "The certificate used to sign the client assertion is not "
                            "registered on application.")
        try:
            h64, c64, s64 = form["client_assertion"].split(".")
            hdr = json.loads(b64url_decode(h64))
            claims = json.loads(b64url_decode(c64))
            sig = b64url_decode(s64)
        except (KeyError, ValueError):
            return (50027, "Invalid JWT token.")
        if hdr.get("alg") != "RS256":
            return (700027, "Client assertion contains an invalid signature algorithm.")
        thumb = hdr.get("x5t#S256") or hdr.get("x5t")
        if thumb != cert_thumbprint(CFG["cert"]):
            return (700027, "The certificate with identifier used to sign the client "
                            "assertion is not registered on application.")
        if not verify_rs256(CFG["cert"], ("%s.%s" % (h64, c64)).encode(), sig):
            return (700027, "Client assertion failed signature validation.")
        if claims.get("aud") != token_url:
            return (700021, "Client assertion audience claim does not match.")
        if claims.get("iss") != CFG["client"] or claims.get("sub") != CFG["client"]:
            return (700023, "Client assertion issuer or subject is not the application.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
            return (700024, "Client assertion is not within its valid time range.")
        return None

    # ---------------------------------------------------------------- InvokeCommand
    def invoke(self, tenant, body):
        h = self.headers.get("Authorization", "")
        with LOCK:
            exp = TOKENS.get(h[7:]) if h.startswith("Bearer ") else None
            if exp is None or exp < time.time():
                return self.reply(401, exo_error("InvalidAuthenticationToken",
                                                 "The access token is expired or invalid."),
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            if STATE.get("expire_after_calls"):
                # Tokens revoked while a command runs: its cached token stops working.
                STATE["expire_after_calls"] -= 1
                if STATE["expire_after_calls"] == 0:
                    for t in TOKENS:
                        TOKENS[t] = 0
            if tenant != CFG["tenant"]:
                return self.reply(400, exo_error("InvalidTenant", "Tenant '%s' is unknown." %
                                                 tenant))
            if not STATE["permission"]:
                return self.reply(401, exo_error("Unauthorized", "The token does not hold the "
                                                 "Exchange.ManageAsApp role."))
            try:
                cmd = json.loads(body)["CmdletInput"]
                name, params = cmd["CmdletName"], cmd.get("Parameters") or {}
                assert isinstance(name, str) and isinstance(params, dict)
            except (ValueError, KeyError, TypeError, AssertionError):
                return self.reply(400, exo_error("BadRequest", "The request body is invalid."))
            STATE["calls"].append(" ".join([name] + ["%s=%s" % kv for kv in
                                                     sorted(params.items())]))
            if name in STATE["unavailable"] or name not in CMDLETS:
                return self.reply(400, exo_error(
                    "CommandNotFound", "The term '%s' is not recognized as a name of a cmdlet, "
                    "function, script file, or executable program." % name))
            role = STATE["role"]
            if role == "none" or (role == "reader" and name.startswith(WRITES)):
                return self.reply(403, exo_error(
                    "Forbidden", "The app is not assigned a management role that includes "
                    "'%s'." % name))
            status, value = CMDLETS[name](params)
        if status != 200:
            return self.reply(status, value)
        self.reply(200, {"@odata.context": "http://%s/adminapi/beta/%s/$metadata#Collection"
                         % (self.headers.get("Host", ""), tenant), "value": value})


def not_found(ident):
    return 404, exo_error("ManagementObjectNotFound",
                          "The operation couldn't be performed because object '%s' couldn't "
                          "be found on 'EURP123A001.PROD.OUTLOOK.COM'." % ident)


def domain_of(params):
    name = str(params.get("DomainName", "")).lower()
    return name, DOMAINS.get(name)


def get_accepted_domain(params):
    out = [{"@odata.type": "#Exchange.AcceptedDomain", "DomainName": n,
            "DomainType": "Authoritative", "SmtpDaneStatus": d["dane"], "Default": False}
           for n, d in sorted(DOMAINS.items())]
    out.append({"DomainName": CFG["tenant"] if CFG["tenant"].endswith(".onmicrosoft.com")
                else "sandbox.onmicrosoft.com", "DomainType": "Authoritative",
                "SmtpDaneStatus": "Disabled", "Default": True})
    return 200, out


def enable_dnssec(params):
    name, d = domain_of(params)
    if d is None:
        return not_found(name)
    d["dnssec"] = "Enabled"
    return 200, [{"Result": "Success", "DnssecMxValue": d["host"], "ErrorData": None}]


def disable_dnssec(params):
    name, d = domain_of(params)
    if d is None:
        return not_found(name)
    d["dnssec"] = "Disabled"
    return 200, []


def dnssec_status(params):
    name, d = domain_of(params)
    if d is None:
        return not_found(name)
    enabled = d["dnssec"] == "Enabled"
    return 200, [{"DnssecFeatureStatus": d["dnssec"],
                  "ExpectedMxRecord": {"Record": "@ 60 IN MX 10 %s" % d["host"] if enabled
                                       else "", "RecordType": "MX"},
                  "MxValidation": mx_validation(name, d)}]


def set_dane(enable):
    def run(params):
        name, d = domain_of(params)
        if d is None:
            return not_found(name)
        if enable and d["dnssec"] != "Enabled":
            return 400, exo_error("InvalidOperation", "DNSSEC is not enabled for domain "
                                  "'%s'. Run Enable-DnssecForVerifiedDomain first." % name)
        d["dane"] = "Enabled" if enable else "Disabled"
        if enable:
            set_tlsa_later(d["host"], STATE["tlsa_delay"])
        else:
            set_tlsa(d["host"], False)
        return 200, []
    return run


def dane_status(params):
    name, d = domain_of(params)
    if d is None:
        return not_found(name)
    return 200, [{"DomainName": name, "DnssecFeatureStatus": d["dnssec"],
                  "SmtpDaneStatus": d["dane"]}]


def get_connector(params):
    ident = params.get("Identity")
    if ident is None:
        return 200, [dict(Identity=k, **v) for k, v in sorted(CONNECTORS.items())]
    if ident not in CONNECTORS:
        return not_found(ident)
    return 200, [dict(Identity=ident, **CONNECTORS[ident])]


def set_connector(params):
    ident = params.get("Identity")
    if ident not in CONNECTORS:
        return not_found(ident)
    allowed = {"SmtpDaneMode": ("Opportunistic", "Mandatory", "None"),
               "MtaStsMode": ("Opportunistic", "None")}
    for k, v in params.items():
        if k == "Identity":
            continue
        if k not in allowed or v not in allowed[k]:
            return 400, exo_error("ParameterBindingException", "Cannot bind parameter '%s' "
                                  "to the value '%s'." % (k, v))
    for k, v in params.items():
        if k != "Identity":
            CONNECTORS[ident][k] = v
    return 200, []


CMDLETS = {
    "Get-AcceptedDomain": get_accepted_domain,
    "Enable-DnssecForVerifiedDomain": enable_dnssec,
    "Disable-DnssecForVerifiedDomain": disable_dnssec,
    "Get-DnssecStatusForVerifiedDomain": dnssec_status,
    "Enable-SmtpDaneInbound": set_dane(True),
    "Disable-SmtpDaneInbound": set_dane(False),
    "Get-SmtpDaneInboundStatus": dane_status,
    "Get-OutboundConnector": get_connector,
    "Set-OutboundConnector": set_connector,
}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--port-file"]:
        CFG.update(tenant=sys.argv[3], client=sys.argv[4],
                   secret=open(sys.argv[5]).read().strip(),
                   cert=sys.argv[6] if len(sys.argv) > 6 else None)
        sys.argv = sys.argv[:3]
    cloud_fake.main(ExoHandler, sys.argv)
