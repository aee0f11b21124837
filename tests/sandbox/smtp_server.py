#!/usr/bin/env python3
"""Minimal ESMTP servers with STARTTLS for the sandbox.

  smtp_server.py DIR/smtp.json

One thread per listener and per connection. Supports EHLO/HELO, STARTTLS (real TLS handshake),
MAIL, RCPT, DATA (messages appended to <spool>/<ip>.mbox), RSET, NOOP, QUIT.
"""
import json
import os
import socket
import ssl
import sys
import threading

cfg = json.load(open(sys.argv[1]))
spool = cfg.get("spool")
if spool:
    os.makedirs(spool, exist_ok=True)
_mlock = threading.Lock()


class Conn:
    def __init__(self, sock, lst, ctx):
        self.sock, self.lst, self.ctx = sock, lst, ctx
        self.f = sock.makefile("rb")
        self.tls = False

    def send(self, s):
        self.sock.sendall(s.encode() + b"\r\n")

    def readline(self):
        line = self.f.readline(4096)
        if not line:
            raise EOFError
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def run(self):
        host = self.lst["host"]
        self.send("220 %s ESMTP sandbox" % host)
        mail = None
        while True:
            line = self.readline()
            cmd = line[:4].upper()
            if cmd in ("EHLO", "HELO"):
                if cmd == "HELO":
                    self.send("250 %s" % host)
                    continue
                ext = ["PIPELINING", "SIZE 10485760", "8BITMIME"]
                if self.lst.get("starttls") and not self.tls:
                    ext.append("STARTTLS")
                self.send("250-%s hello" % host)
                for i, e in enumerate(ext):
                    self.send(("250 " if i == len(ext) - 1 else "250-") + e)
            elif line.upper() == "STARTTLS":
                if not self.lst.get("starttls") or self.tls:
                    self.send("502 5.5.1 not supported")
                    continue
                self.send("220 2.0.0 ready to start TLS")
                self.sock = self.ctx.wrap_socket(self.sock, server_side=True)
                self.f = self.sock.makefile("rb")
                self.tls = True
                mail = None
            elif cmd == "MAIL":
                mail = {"from": line, "rcpt": []}
                self.send("250 2.1.0 ok")
            elif cmd == "RCPT":
                if mail is None:
                    self.send("503 5.5.1 MAIL first")
                else:
                    mail["rcpt"].append(line)
                    self.send("250 2.1.5 ok")
            elif cmd == "DATA":
                if not mail or not mail["rcpt"]:
                    self.send("503 5.5.1 RCPT first")
                    continue
                self.send("354 end with .")
                body = []
                while True:
                    l2 = self.readline()
                    if l2 == ".":
                        break
                    body.append(l2[1:] if l2.startswith("..") else l2)
                if spool:
                    with _mlock, open(os.path.join(spool, self.lst["ip"] + ".mbox"), "a") as fh:
                        fh.write("From sandbox\n%s\n%s\ntls=%s\n%s\n\n" % (mail["from"], "\n".join(mail["rcpt"]),
                                                                         self.tls, "\n".join(body)))
                mail = None
                self.send("250 2.0.0 queued")
            elif cmd == "RSET":
                mail = None
                self.send("250 2.0.0 ok")
            elif cmd == "NOOP":
                self.send("250 2.0.0 ok")
            elif cmd == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("500 5.5.2 unknown command")


def handle(sock, lst, ctx):
    sock.settimeout(60)
    try:
        Conn(sock, lst, ctx).run()
    except (EOFError, OSError, ssl.SSLError):
        pass
    finally:
        try:
            sock.close()
        except OSError:
            pass


def serve(lst):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(lst["cert"], lst["key"])
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((lst["ip"], lst.get("port", 25)))
    s.listen(128)
    return s, ctx


def loop(s, lst, ctx):
    while True:
        c, _ = s.accept()
        threading.Thread(target=handle, args=(c, lst, ctx), daemon=True).start()


socks = [(serve(l), l) for l in cfg["listeners"]]
for (s, ctx), l in socks:
    threading.Thread(target=loop, args=(s, l, ctx), daemon=True).start()
sys.stderr.write("smtp: listening on %s\n" % ", ".join(l["ip"] for l in cfg["listeners"]))
sys.stderr.flush()
threading.Event().wait()
