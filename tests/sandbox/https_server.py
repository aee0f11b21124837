#!/usr/bin/env python3
"""MTA-STS policy HTTPS server for the sandbox.

  https_server.py DIR [IP] [PORT]

Serves https://<host>/<path> from DIR/www/<host>/<path>. The certificate for <host> is chosen by
SNI: DIR/certs/<host>.pem (+ .key) if present, otherwise issued on the fly by the sandbox CA
(DIR/pki) and cached there. Per-host behaviour files in DIR/www/<host>/:
  .status        "301 <location>" or "404" (any code [location]) instead of serving the file
  .content-type  Content-Type to send instead of text/plain
  .certname      present a certificate for this name instead of <host>
Unknown hosts get 404. Concurrent (one thread per connection).
"""
import http.server
import os
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sbxlib as L  # noqa: E402

D = os.path.abspath(sys.argv[1])
IP = sys.argv[2] if len(sys.argv) > 2 else "127.0.5.1"
PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 443
WWW = os.path.join(D, "www")
CERTS = os.path.join(D, "certs")
PKI = os.path.join(D, "pki")
LEAFKEY = os.path.join(PKI, "https-leaf.key")
os.makedirs(CERTS, exist_ok=True)

_lock = threading.Lock()
_ctx = {}


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


_name_locks = {}


def context_for(name):
    name = (name or "default.invalid").lower().rstrip(".")
    if "/" in name or name.startswith("."):
        name = "default.invalid"
    certname = _read(os.path.join(WWW, name, ".certname")) or name
    with _lock:
        c = _ctx.get(certname)
        if c:
            return c
        nl = _name_locks.setdefault(certname, threading.Lock())
    with nl:  # issue certificates for different names in parallel
        c = _ctx.get(certname)
        if c:
            return c
        pem = os.path.join(CERTS, certname + ".pem")
        key = os.path.join(CERTS, certname + ".key")
        if not os.path.exists(key):
            key = LEAFKEY
        if not os.path.exists(pem):
            L.issue(PKI, [certname], pem, LEAFKEY)
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        c.load_cert_chain(pem, key)
        with _lock:
            _ctx[certname] = c
        return c


def sni(sslsock, server_name, _base):
    try:
        sslsock.context = context_for(server_name)
    except Exception as e:  # noqa: BLE001
        sys.stderr.write("sni %s: %s\n" % (server_name, e))
        return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
    return None


base_ctx = context_for("default.invalid")
base_ctx.sni_callback = sni


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sbx-mtasts/1"

    def _send(self, code, body=b"", ctype="text/plain", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):
        host = (self.headers.get("Host") or "").split(":")[0].lower().rstrip(".")
        hdir = os.path.join(WWW, host)
        path = self.path.split("?")[0]
        if not host or "/" in host or host.startswith(".") or ".." in path:
            return self._send(400, b"bad request\n")
        st = _read(os.path.join(hdir, ".status"))
        if st:
            parts = st.split(None, 1)
            code = int(parts[0])
            extra = {"Location": parts[1]} if len(parts) > 1 else {}
            return self._send(code, ("%d\n" % code).encode(), extra=extra)
        fp = os.path.join(hdir, path.lstrip("/"))
        if not os.path.isfile(fp):
            return self._send(404, b"not found\n")
        with open(fp, "rb") as f:
            body = f.read()
        ctype = _read(os.path.join(hdir, ".content-type")) or "text/plain"
        return self._send(200, body, ctype)

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def finish_request(self, request, client_address):
        request.settimeout(30)
        try:
            tls = base_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            sys.stderr.write("tls handshake from %s: %s\n" % (client_address[0], e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        sys.stderr.write("error serving %s: %s\n" % (client_address[0], sys.exc_info()[1]))


if __name__ == "__main__":
    srv = Server((IP, PORT), Handler)
    sys.stderr.write("https: listening on %s:%d\n" % (IP, PORT))
    sys.stderr.flush()
    srv.serve_forever()
