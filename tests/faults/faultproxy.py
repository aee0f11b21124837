#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/faults/faultproxy.py — a fault-injecting proxy for the provider APIs of the sandbox
# (PowerDNS's HTTP API, the cloud fakes in tests/fakes/) and, with --dns, for a DNS server
# over UDP and TCP (the RFC 2136 primary). Python stdlib only.
#
#   faultproxy.py --upstream http://127.0.0.1:8081 --port-file F [--rate 0.2] [--seed 1]
#                 [--kinds reset,stall,500,502,503,429,truncate,malformed,lost,lost502]
#                 [--max-stall N] [--stall S] [--log FILE] [--rate-file FILE]
#                 [--slow-writes S] [--rules-file FILE]
#   faultproxy.py --dns 127.0.4.2:53 --listen 127.0.9.1:53 [same options; DNS kinds:
#                 drop,lost,servfail,truncate,reset]
#
# Each request (HTTP) or message (DNS) is a fault with probability --rate (a file named by
# --rate-file, when present, overrides it while the proxy runs: the test turns faults off for
# the final check). The kind is drawn uniformly from --kinds. Decisions come from a random
# generator seeded with --seed and the request's number, so the same sequence of requests
# meets the same faults. HTTP kinds:
#   reset      the connection is reset before anything is forwarded
#   stall      nothing is forwarded and nothing answered for --stall seconds (default 40,
#              past the client's 30 s timeout), then the connection is reset; at most
#              --max-stall of them
#   500 502 503  that status (not forwarded)
#   429        429 with Retry-After: 1 (not forwarded)
#   truncate   forwarded; the answer's body is cut in half and the connection closed
#   malformed  forwarded; the answer's body is replaced by a broken document, same status
#   lost       forwarded and applied; the answer is dropped (connection reset)
#   lost502    forwarded and applied; the client gets 502 instead of the answer
# DNS kinds: drop (not forwarded, no answer), lost (forwarded, answer dropped), servfail
# (SERVFAIL, not forwarded), truncate (TC bit, empty answer: the client must use TCP),
# reset (TCP only: connection reset; over UDP it is a drop), refused (REFUSED: a lame
# server, not authoritative for the zone), stale (the first answer ever seen for the
# question, again and again: a server that stopped taking the zone's changes).
# --rules-file FILE: deterministic faults, read again whenever the file changes (the counts
# start over): a JSON list of {"method": "PUT"|"*", "path": substring, "skip": N,
# "times": M, "kind": K, "retry_after": S}. A request that matches a rule's method and path
# passes the rule's first N matches untouched, then meets K the next M times (default 1);
# K is an HTTP kind above, any status ("403", "429", "503": not forwarded, a JSON error
# body, Retry-After: S when given) or "delay": held "seconds" (default 1), then forwarded.
# Rules are tried in order before the random draw.
# --slow-writes S holds every write (not GET; in --dns mode, every UPDATE message) S seconds
# before forwarding it and S seconds before answering, so that a process killed at a random
# instant is often inside a write, and a write takes at least 2 S.
# --log FILE receives one JSON line per request: {"n","method","path","fault","t"}, with
# "update": true for a DNS UPDATE message and, for an HTTP request that was forwarded,
# "status": what the upstream answered (0: no answer), written once it answered (lines are
# then not in the order of "n", the order of arrival).
import argparse
import http.client
import json
import os
import random
import socket
import socketserver
import struct
import sys
import threading
import time
import urllib.parse

HTTP_KINDS = ["reset", "stall", "500", "502", "503", "429", "truncate", "malformed", "lost",
              "lost502"]
DNS_KINDS = ["drop", "lost", "servfail", "truncate", "reset", "refused", "stale"]
REASONS = {200: "OK", 201: "Created", 204: "No Content", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class Decider:
    def __init__(self, args, kinds):
        self.rate = args.rate
        self.rate_file = args.rate_file
        self.seed = args.seed
        self.kinds = kinds
        self.max_stall = args.max_stall
        self.rules_file = getattr(args, "rules_file", None)
        self.rules, self.rules_stamp = [], None
        self.stalls = 0
        self.n = 0
        self.lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.log = open(args.log, "a", buffering=1) if args.log else None

    def current_rate(self):
        if self.rate_file:
            try:
                with open(self.rate_file) as f:
                    return float(f.read().strip() or 0)
            except (OSError, ValueError):
                pass
        return self.rate

    def current_rules(self):
        """The rules of --rules-file, loaded again (counts reset) when the file changes."""
        if not self.rules_file:
            return []
        try:
            st = os.stat(self.rules_file)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self.rules_stamp:
                with open(self.rules_file) as f:
                    self.rules = json.load(f)
                self.rules_stamp = stamp
        except (OSError, ValueError):
            self.rules, self.rules_stamp = [], None
        return self.rules

    def rule_for(self, method, path):
        for r in self.current_rules():
            if r.get("method", "*") not in ("*", method) or r.get("path", "") not in path:
                continue
            if r.get("skip", 0) > 0:
                r["skip"] -= 1
                continue
            if r.get("times", 1) <= 0:
                continue
            r["times"] = r.get("times", 1) - 1
            return r
        return None

    def decide(self, method, path, update=False, defer=False):
        """(kind, rule): the fault this request meets (None: none) and the rule that chose
        it (None: the random draw). update: a DNS UPDATE message (logged as such). defer:
        (kind, rule, row) instead, and the log row is the caller's to write (record), once
        it knows the upstream's status."""
        with self.lock:
            self.n += 1
            n = self.n
            rng = random.Random("%s:%d" % (self.seed, n))
            kind = None
            rule = self.rule_for(method, path)
            if rule:
                kind = str(rule.get("kind", "500"))
            elif rng.random() < self.current_rate():
                kind = rng.choice(self.kinds)
                if kind == "stall":
                    if self.max_stall is not None and self.stalls >= self.max_stall:
                        kind = rng.choice([k for k in self.kinds if k != "stall"] or [None])
                    else:
                        self.stalls += 1
            row = {"n": n, "method": method, "path": path, "fault": kind,
                   "t": round(time.time(), 3)}
            if update:
                row["update"] = True
            if defer:
                return kind, rule, row
            self.record(row)
            return kind, rule

    def record(self, row, status=None):
        """Writes row to the log; status: what the upstream answered a forwarded request."""
        if not self.log:
            return
        if status is not None:
            row["status"] = status
        with self.log_lock:
            self.log.write(json.dumps(row) + "\n")


def hard_close(sock):
    """Closes with a TCP reset (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def broken(body, ctype):
    """A document of the same kind that does not parse."""
    if b"<" in body[:64] or "xml" in ctype:
        return b"<?xml version=\"1.0\"?><Response><Unclosed>" + body[:len(body) // 3]
    return b"{\"result\": [ {\"id\": " + body[:len(body) // 3] + b" ,,"


# ------------------------------------------------------------------------------ HTTP

class HttpProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def read_request(rfile):
    """(method, target, headers[list], body) or None at EOF."""
    line = rfile.readline(65537)
    if not line:
        return None
    while line in (b"\r\n", b"\n"):
        line = rfile.readline(65537)
        if not line:
            return None
    method, target, _ = line.decode("latin-1").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers.append((k.strip(), v.strip()))
    hmap = {k.lower(): v for k, v in headers}
    body = b""
    if "chunked" in hmap.get("transfer-encoding", "").lower():
        while True:
            size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            body += rfile.read(size)
            rfile.readline()
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
    elif "content-length" in hmap:
        body = rfile.read(int(hmap["content-length"]))
    if hmap.get("expect", "").lower() == "100-continue":
        headers = [(k, v) for k, v in headers if k.lower() != "expect"]
    return method, target, headers, body


class HttpHandler(socketserver.StreamRequestHandler):
    def send(self, status, headers, body, length=None):
        out = "HTTP/1.1 %d %s\r\n" % (status, REASONS.get(status, "Status"))
        for k, v in headers:
            out += "%s: %s\r\n" % (k, v)
        out += "Content-Length: %d\r\n\r\n" % (len(body) if length is None else length)
        self.wfile.write(out.encode("latin-1") + body)
        self.wfile.flush()

    def forward(self, method, target, headers, body):
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=60)
        path = target
        if up.path and up.path != "/":
            path = up.path.rstrip("/") + target
        # The Host header is passed on as the client sent it: a signature (SigV4) covers it.
        hdrs = {k: v for k, v in headers if k.lower() not in ("connection", "content-length")}
        if not any(k.lower() == "host" for k in hdrs):
            hdrs["Host"] = up.netloc
        if body or method in ("POST", "PUT", "PATCH"):
            hdrs["Content-Length"] = str(len(body))
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body or None)
        r = conn.getresponse()
        data = r.read()
        rh = [(k, v) for k, v in r.getheaders()
              if k.lower() not in ("content-length", "transfer-encoding", "connection")]
        conn.close()
        return r.status, rh, data

    def handle(self):
        srv = self.server
        while True:
            try:
                req = read_request(self.rfile)
            except (OSError, ValueError):
                return
            if req is None:
                return
            method, target, headers, body = req
            kind, rule, row = srv.decider.decide(method, target, defer=True)
            if kind == "delay":  # held, then forwarded and answered as it is
                time.sleep(float(rule.get("seconds", 1)))
                kind = None
            forwarded = not ((rule and kind and kind.isdigit()) or kind in (
                "reset", "stall", "500", "502", "503", "429"))
            if not forwarded:
                srv.decider.record(row)
            if rule and kind and kind.isdigit():
                hdrs = [("Content-Type", "application/json")]
                if kind == "429" or "retry_after" in rule:
                    hdrs.append(("Retry-After", str(rule.get("retry_after", 1))))
                self.send(int(kind), hdrs, b'{"error": "injected fault %s"}' % kind.encode())
                continue
            if kind == "reset":
                return hard_close(self.connection)
            if kind == "stall":
                time.sleep(srv.stall)
                return hard_close(self.connection)
            if kind in ("500", "502", "503"):
                self.send(int(kind), [("Content-Type", "application/json")],
                          b'{"error": "injected fault"}')
                continue
            if kind == "429":
                self.send(429, [("Content-Type", "application/json"), ("Retry-After", "1")],
                          b'{"error": "slow down"}')
                continue
            slow = srv.slow_writes if method not in ("GET", "HEAD") else 0
            time.sleep(slow)
            try:
                status, rh, data = self.forward(method, target, headers, body)
            except (OSError, http.client.HTTPException) as e:
                sys.stderr.write("faultproxy: upstream: %r\n" % e)
                srv.decider.record(row, 0)
                self.send(502, [], b"")
                continue
            # Logged once the upstream answered: a forwarded write it refused (a busy
            # backend's 500) is told from one it applied.
            srv.decider.record(row, status)
            time.sleep(slow)
            if kind == "lost":
                return hard_close(self.connection)
            if kind == "lost502":
                self.send(502, [("Content-Type", "text/html")], b"<html>Bad Gateway</html>")
                continue
            if kind == "truncate":
                if not data:
                    return hard_close(self.connection)
                self.send(status, rh, data[:len(data) // 2], length=len(data))
                return hard_close(self.connection)
            if kind == "malformed":
                ctype = dict((k.lower(), v) for k, v in rh).get("content-type", "")
                data = broken(data, ctype)
            self.send(status, rh, data)


# ------------------------------------------------------------------------------ DNS

STALE = {}


def stale(query, answer):
    """The first answer seen for query's question, with query's id."""
    q = question(query).lower()
    if answer is not None and q not in STALE:
        STALE[q] = answer
    first = STALE.get(q)
    return query[:2] + first[2:] if first else answer


def servfail(query, rcode=2):
    if len(query) < 12:
        return None
    flags = struct.unpack("!H", query[2:4])[0]
    flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # QR, opcode+RD kept, RA
    return query[:2] + struct.pack("!H", flags) + query[4:6] + b"\0\0\0\0\0\0" + question(query)


def question(msg):
    """The question section of msg (qdcount 1) or b""."""
    i = 12
    try:
        while msg[i]:
            i += msg[i] + 1
        return msg[12:i + 5]
    except IndexError:
        return b""


def truncated(answer):
    flags = struct.unpack("!H", answer[2:4])[0] | 0x0200
    return answer[:2] + struct.pack("!H", flags) + answer[4:6] + b"\0\0\0\0\0\0" + \
        question(answer)


def ask_upstream_udp(up, msg, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(msg, up)
        return s.recvfrom(65535)[0]
    except OSError:
        return None
    finally:
        s.close()


def ask_upstream_tcp(up, msg, timeout=10):
    try:
        with socket.create_connection(up, timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            n = struct.unpack("!H", recv_exact(s, 2))[0]
            return recv_exact(s, n)
    except (OSError, struct.error):
        return None


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise OSError("short read")
        out += b
    return out


def dns_udp(srv_sock, decider, up):
    while True:
        msg, peer = srv_sock.recvfrom(65535)
        threading.Thread(target=dns_udp_one, args=(srv_sock, decider, up, msg, peer),
                         daemon=True).start()


def is_update(msg):
    """Is msg a DNS UPDATE (opcode 5)?"""
    return len(msg) > 3 and (msg[2] >> 3) & 0xF == 5


def dns_udp_one(srv_sock, decider, up, msg, peer):
    kind, _ = decider.decide("UDP", question(msg).hex(), is_update(msg))
    if kind in ("drop", "reset"):
        return
    if kind in ("servfail", "refused"):
        out = servfail(msg, 2 if kind == "servfail" else 5)
        if out:
            srv_sock.sendto(out, peer)
        return
    slow = decider.slow_writes if is_update(msg) else 0
    time.sleep(slow)
    ans = ask_upstream_udp(up, msg)
    time.sleep(slow)
    if kind == "stale":
        ans = stale(msg, ans)
    elif ans is not None and question(msg).lower() not in STALE:
        STALE[question(msg).lower()] = ans
    if ans is None or kind == "lost":
        return
    srv_sock.sendto(truncated(ans) if kind == "truncate" else ans, peer)


class DnsTcpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        while True:
            try:
                n = struct.unpack("!H", recv_exact(s, 2))[0]
                msg = recv_exact(s, n)
            except (OSError, struct.error):
                return
            kind, _ = self.server.decider.decide("TCP", question(msg).hex(), is_update(msg))
            if kind == "reset":
                return hard_close(s)
            if kind == "drop":
                time.sleep(self.server.stall)
                return hard_close(s)
            if kind in ("servfail", "refused"):
                out = servfail(msg, 2 if kind == "servfail" else 5)
            else:
                slow = self.server.decider.slow_writes if is_update(msg) else 0
                time.sleep(slow)
                out = ask_upstream_tcp(self.server.upstream, msg)
                time.sleep(slow)
                if kind == "stale":
                    out = stale(msg, out)
                if out is None or kind == "lost":
                    return hard_close(s)
                # TC has no meaning over TCP: a truncated TCP answer is cut short instead.
                if kind == "truncate":
                    s.sendall(struct.pack("!H", len(out)) + out[:len(out) // 2])
                    return hard_close(s)
            s.sendall(struct.pack("!H", len(out)) + out)


class DnsTcp(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def hostport(text, default):
    host, _, port = text.rpartition(":")
    return (host, int(port)) if host else (text, default)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--upstream", help="http://HOST:PORT[/prefix] of the API")
    ap.add_argument("--dns", help="HOST:PORT of the DNS server to proxy (UDP and TCP)")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on")
    ap.add_argument("--port-file", help="file that receives the port listened on")
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--rate-file")
    ap.add_argument("--seed", default="1")
    ap.add_argument("--kinds")
    ap.add_argument("--max-stall", type=int)
    ap.add_argument("--stall", type=float, default=40.0)
    ap.add_argument("--log")
    ap.add_argument("--slow-writes", type=float, default=0.0)
    ap.add_argument("--rules-file")
    args = ap.parse_args()
    if bool(args.upstream) == bool(args.dns):
        ap.error("give exactly one of --upstream and --dns")
    allowed = DNS_KINDS if args.dns else HTTP_KINDS
    kinds = args.kinds.split(",") if args.kinds else list(allowed)
    bad = [k for k in kinds if k not in allowed]
    if bad:
        ap.error("unknown fault kind(s) %s; known: %s" % (",".join(bad), ",".join(allowed)))
    decider = Decider(args, kinds)
    decider.slow_writes = args.slow_writes
    listen = hostport(args.listen, 0)
    if args.upstream:
        srv = HttpProxy(listen, HttpHandler)
        srv.upstream = urllib.parse.urlsplit(args.upstream)
        srv.decider = decider
        srv.stall = args.stall
        srv.slow_writes = args.slow_writes
        port = srv.server_address[1]
        threads = [threading.Thread(target=srv.serve_forever, daemon=True)]
    else:
        up = hostport(args.dns, 53)
        tcp = DnsTcp(listen, DnsTcpHandler)
        tcp.upstream, tcp.decider, tcp.stall = up, decider, args.stall
        port = tcp.server_address[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind((listen[0], port))
        threads = [threading.Thread(target=tcp.serve_forever, daemon=True),
                   threading.Thread(target=dns_udp, args=(udp, decider, up), daemon=True)]
    for t in threads:
        t.start()
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
