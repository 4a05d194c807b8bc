"""Protocol tests for TLS and SMTP AUTH in the smtp role: STARTTLS (RFC 3207) and
implicit TLS (RFC 8314) checked with openssl s_client, smtplib and swaks; AUTH (RFC 4954)
with PLAIN, LOGIN and SCRAM-SHA-256 (tests/scram_client.py, an independent client); the
clear-text rule, the STARTTLS injection case (CVE-2011-0411), failure delays and lockout,
and a certificate reload on SIGHUP that leaves open TLS sessions alone."""
import base64
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time

import pytest

from scram_client import ScramClient

CRLF = b"\r\n"
ALICE, ALICE_PW = "alice@example.test", "alice-pw"


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the instance's certificate is self-signed
    return ctx


class Conn:
    """A bare SMTP client over a socket that can turn to TLS."""

    def __init__(self, port, implicit=False, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout)
        if implicit:
            self.sock = client_ctx().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            line = self.line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] == " ":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, text):
        self.send(text.encode() + CRLF)
        return self.reply()

    def starttls(self):
        code, text = self.cmd("STARTTLS")
        assert code == 220, text
        assert self.buf == b""
        self.sock = client_ctx().wrap_socket(self.sock)

    def close(self):
        self.sock.close()


def greet(port, implicit=False, tls=False):
    c = Conn(port, implicit)
    assert c.reply()[0] == 220
    code, text = c.cmd("EHLO client.test")
    assert code == 250, text
    if tls:
        c.starttls()
        code, text = c.cmd("EHLO client.test")
        assert code == 250, text
    return c, text


def b64(data):
    return base64.b64encode(data).decode()


def plain(user, pw):
    return b64(b"\0" + user.encode() + b"\0" + pw.encode())


def s_client(args, stdin=b"QUIT\r\n"):
    r = subprocess.run(["openssl", "s_client", "-brief", "-ign_eof"] + args, input=stdin,
                       capture_output=True, timeout=30)
    return r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")


def test_ehlo_offers(tern):
    c, text = greet(tern.ports["submission"])
    assert "STARTTLS" in text.split("\n")
    auth = [l for l in text.split("\n") if l.startswith("AUTH ")]
    # On loopback clear-text mechanisms are allowed (auth_plaintext_loopback = yes).
    assert auth and "SCRAM-SHA-256" in auth[0] and "PLAIN" in auth[0], text
    c.starttls()
    code, text = c.cmd("EHLO client.test")
    assert code == 250 and "STARTTLS" not in text.split("\n")
    assert any(l.startswith("AUTH ") and "PLAIN" in l for l in text.split("\n"))
    assert c.cmd("STARTTLS")[0] == 503
    c.close()
    # Port 25: neither TLS (not configured there) nor AUTH (smtp_auth_on_port25 = no).
    c, text = greet(tern.ports["smtp"])
    assert "STARTTLS" not in text and "AUTH" not in text
    assert c.cmd("STARTTLS")[0] == 502
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 502
    c.close()


def test_openssl_starttls_and_implicit(tern):
    out = s_client(["-connect", "127.0.0.1:%d" % tern.ports["submission"],
                    "-starttls", "smtp"])
    assert "Protocol version: TLSv1.3" in out, out
    out = s_client(["-connect", "127.0.0.1:%d" % tern.ports["submissions"]])
    assert "Protocol version: TLSv1.3" in out, out
    assert "220 mx.example.test" in out, out
    out = s_client(["-connect", "127.0.0.1:%d" % tern.ports["submissions"], "-tls1_2"])
    assert "Protocol version: TLSv1.2" in out, out
    # TLS 1.1 is off by default (RFC 8996).
    out = s_client(["-connect", "127.0.0.1:%d" % tern.ports["submissions"], "-tls1_1"])
    assert "Protocol version: TLSv1.1" not in out
    log = tern.log()
    assert "TLS from [127.0.0.1]" in log and "TLS1.3" in log and "TLS1.2" in log


def test_smtplib_starttls_login_received(tern):
    msg = b"Subject: tls\r\nFrom: alice@example.test\r\n\r\nover TLS\r\n"
    with smtplib.SMTP("127.0.0.1", tern.ports["submission"]) as s:
        s.starttls(context=client_ctx())
        s.login(ALICE, ALICE_PW)
        s.sendmail(ALICE, ["bob@example.test"], msg)
    files = tern.wait_messages("bob@example.test", 1)
    assert len(files) == 1
    data = open(files[0], "rb").read()
    assert b"with ESMTPSA (TLS1.3 TLS_" in data, data
    assert data.endswith(b"Subject: tls\nFrom: alice@example.test\n\nover TLS\n")


def test_smtp_ssl_login(tern):
    msg = b"Subject: implicit\r\n\r\nbody\r\n"
    with smtplib.SMTP_SSL("127.0.0.1", tern.ports["submissions"], context=client_ctx()) as s:
        s.ehlo()
        assert "starttls" not in s.esmtp_features
        s.login("bob@example.test", "bob-pw")
        s.sendmail("bob@example.test", [ALICE], msg)
    files = tern.wait_messages(ALICE, 1)
    assert b"with ESMTPSA (TLS1.3" in open(files[0], "rb").read()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_auth(tern, mech):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["submission"],
                        "--tls", "--auth", mech, "--auth-user", ALICE,
                        "--auth-password", ALICE_PW, "--from", ALICE,
                        "--to", "bob@example.test", "--h-Subject", "swaks " + mech],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "235 2.7.0" in r.stdout
    files = tern.wait_messages("bob@example.test", 1)
    assert len(files) == 1
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % tern.ports["submission"],
                        "--tls", "--auth", mech, "--auth-user", ALICE,
                        "--auth-password", "wrong", "--from", ALICE,
                        "--to", "bob@example.test"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "535 5.7.8" in r.stdout, r.stdout


def scram_auth(c, user, password):
    sc = ScramClient(user, password)
    code, text = c.cmd("AUTH SCRAM-SHA-256 " + b64(sc.client_first()))
    assert code == 334, text
    final = sc.client_final(base64.b64decode(text))
    code, text = c.cmd(b64(final))
    if code != 334:
        return code, text
    # RFC 4954 4: the server-final message comes as a last challenge.
    sc.verify_server_final(base64.b64decode(text))
    return c.cmd("")


def test_scram_sha256(tern):
    c, _ = greet(tern.ports["submission"], tls=True)
    code, text = scram_auth(c, ALICE, ALICE_PW)
    assert code == 235 and text.startswith("2.7.0"), text
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 503
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    c.close()
    c, _ = greet(tern.ports["submission"], tls=True)
    code, text = scram_auth(c, ALICE, "wrong-pw")
    assert (code, text[:5]) == (535, "5.7.8"), text
    c.close()
    assert "mech=SCRAM-SHA-256" in tern.log()


def test_auth_errors(tern):
    c = Conn(tern.ports["submission"])
    c.reply()
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 503  # before EHLO
    c.cmd("EHLO client.test")
    assert c.cmd("AUTH FOO")[0] == 504
    assert c.cmd("AUTH PLAIN !!!!")[:1] == (501,)
    code, text = c.cmd("AUTH PLAIN")
    assert code == 334 and text == ""
    code, text = c.cmd("*")
    assert (code, text[:5]) == (501, "5.0.0")
    code, text = c.cmd("AUTH LOGIN")
    assert code == 334 and base64.b64decode(text) == b"Username:"
    code, text = c.cmd("not base64!")
    assert (code, text[:5]) == (501, "5.5.2")
    # "=" is an empty initial response (RFC 4954 4): PLAIN cannot succeed with it.
    assert c.cmd("AUTH PLAIN =")[0] == 535
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 235
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 503  # twice
    c.close()
    c, _ = greet(tern.ports["submission"])
    assert c.cmd("AUTH LOGIN " + b64(ALICE.encode()))[0] == 334
    code, text = c.cmd(b64(ALICE_PW.encode()))
    assert code == 235, text
    assert c.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 503  # in a transaction
    c.close()


def test_plaintext_refused_without_tls(tern_factory):
    inst = tern_factory(options={"auth_plaintext_loopback": "no"})
    c, text = greet(inst.ports["submission"])
    auth = [l for l in text.split("\n") if l.startswith("AUTH ")]
    assert auth == ["AUTH SCRAM-SHA-256 SCRAM-SHA-1"], text
    code, text = c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))
    assert (code, text[:6]) == (538, "5.7.11"), text
    assert c.cmd("AUTH LOGIN")[0] == 538
    # SCRAM does not send the password: allowed in clear.
    assert scram_auth(c, ALICE, ALICE_PW)[0] == 235
    c.close()
    c, text = greet(inst.ports["submission"], tls=True)
    assert "PLAIN" in text
    assert c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 235
    c.close()


NETNS = "tern-subm-test"
NETNS_CLIENT = r"""
import base64, socket, sys
s = socket.create_connection(("10.231.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
def reply():
    out = []
    while True:
        l = f.readline().decode().rstrip("\r\n")
        out.append(l)
        if l[3:4] == " ":
            return out
reply()
s.sendall(b"EHLO ns.test\r\n"); print("|".join(reply()))
cred = base64.b64encode(b"\0alice@example.test\0alice-pw").decode()
s.sendall(("AUTH PLAIN %s\r\n" % cred).encode()); print("|".join(reply()))
"""


def netns_setup():
    cmds = [["ip", "netns", "add", NETNS],
            ["ip", "link", "add", "vtern0", "type", "veth", "peer", "name", "vtern1"],
            ["ip", "link", "set", "vtern1", "netns", NETNS],
            ["ip", "addr", "add", "10.231.0.1/24", "dev", "vtern0"],
            ["ip", "link", "set", "vtern0", "up"],
            ["ip", "netns", "exec", NETNS, "ip", "addr", "add", "10.231.0.2/24", "dev",
             "vtern1"],
            ["ip", "netns", "exec", NETNS, "ip", "link", "set", "vtern1", "up"],
            ["ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up"]]
    for c in cmds:
        if subprocess.run(c, capture_output=True).returncode != 0:
            return False
    return True


def netns_teardown():
    subprocess.run(["ip", "link", "del", "vtern0"], capture_output=True)
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)


def test_plaintext_refused_off_loopback(tern_factory):
    """A real non-loopback client, from a network namespace over a veth pair."""
    if shutil.which("ip") is None:
        pytest.skip("no ip(8)")
    netns_teardown()
    if not netns_setup():
        netns_teardown()
        pytest.skip("ip netns / veth not permitted here")
    try:
        inst = tern_factory(start=False)
        text = open(inst.conf).read()
        text = text.replace("address = 127.0.0.1:%d" % inst.ports["submission"],
                            "address = 10.231.0.1:%d" % inst.ports["submission"])
        open(inst.conf, "w").write(text)
        inst.start()
        r = subprocess.run(["ip", "netns", "exec", NETNS, "/usr/bin/python3", "-c",
                            NETNS_CLIENT, str(inst.ports["submission"])],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        ehlo, auth = r.stdout.strip().split("\n")
        assert "250 AUTH SCRAM-SHA-256 SCRAM-SHA-1" in ehlo and "PLAIN" not in ehlo, ehlo
        assert auth.startswith("538 5.7.11"), auth
    finally:
        netns_teardown()


def test_starttls_injection(tern):
    """CVE-2011-0411: a command sent with STARTTLS in one write is never run in TLS."""
    c = Conn(tern.ports["submission"])
    c.reply()
    c.cmd("EHLO client.test")
    c.send(b"STARTTLS\r\nNOOP\r\n")
    code, text = c.reply()
    assert code == 220, text
    c.sock = client_ctx().wrap_socket(c.sock)
    # The first reply inside TLS answers our EHLO, not the injected NOOP.
    code, text = c.cmd("EHLO again.test")
    assert code == 250 and text.startswith("mx.example.test"), text
    assert c.cmd("NOOP") == (250, "2.0.0 Ok")
    # The state was reset (RFC 3207 4.2): EHLO is needed again after STARTTLS.
    c.close()
    assert "discarded 6 bytes" in tern.log()
    c, _ = greet(tern.ports["submission"], tls=False)
    c.starttls()
    code, text = c.cmd("MAIL FROM:<%s>" % ALICE)
    assert code == 503, text
    c.close()


def test_lockout(tern_factory):
    inst = tern_factory(options={"auth_failure_delay": "0s", "auth_max_failures": "3",
                                 "auth_lockout_time": "1m"})
    c, _ = greet(inst.ports["submission"])
    for _ in range(3):
        assert c.cmd("AUTH PLAIN " + plain(ALICE, "wrong"))[0] == 535
    code, text = c.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))
    assert (code, text[:5]) == (454, "4.7.0"), text
    c.close()
    c, _ = greet(inst.ports["submission"])
    assert c.cmd("AUTH PLAIN " + plain("bob@example.test", "bob-pw"))[0] == 454
    c.close()
    log = inst.log()
    assert "now locked out" in log and "locked out for" in log, log


def test_failure_delay_does_not_block(tern_factory):
    inst = tern_factory(options={"auth_failure_delay": "3s"})
    a, _ = greet(inst.ports["submission"])
    t0 = time.time()
    a.send(("AUTH PLAIN %s\r\n" % plain(ALICE, "wrong")).encode())
    time.sleep(0.2)
    b, _ = greet(inst.ports["submission"])  # served while a waits
    assert b.cmd("NOOP")[0] == 250
    assert time.time() - t0 < 2.5
    b.close()
    code, _ = a.reply()
    assert code == 535 and time.time() - t0 >= 2.9
    a.close()


def make_cert(directory, cn):
    cert, key = os.path.join(directory, cn + ".pem"), os.path.join(directory, cn + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    return cert, key


def peer_cert(port, implicit=True):
    if implicit:
        c = Conn(port, implicit=True)
        c.reply()
    else:
        c, _ = greet(port, tls=True)
    der = c.sock.getpeercert(binary_form=True)
    c.close()
    return der


def test_sighup_new_certificate(tern):
    tls_dir = os.path.join(os.path.dirname(tern.conf), "tls")
    before = peer_cert(tern.ports["submissions"])
    old, _ = greet(tern.ports["submissions"], implicit=True)
    cert, key = make_cert(tern.dir, "renewed.example.test")
    shutil.copy(cert, os.path.join(tls_dir, "cert.pem"))
    shutil.copy(key, os.path.join(tls_dir, "key.pem"))
    tern.reload()
    deadline = time.time() + 10
    while time.time() < deadline and peer_cert(tern.ports["submissions"]) == before:
        time.sleep(0.1)
    after = peer_cert(tern.ports["submissions"])
    assert after != before
    assert after == ssl.PEM_cert_to_DER_cert(open(cert).read())
    assert peer_cert(tern.ports["submission"], implicit=False) == after
    # The session opened before the reload goes on with its TLS session.
    assert old.cmd("AUTH PLAIN " + plain(ALICE, ALICE_PW))[0] == 235
    assert old.cmd("MAIL FROM:<%s>" % ALICE)[0] == 250
    assert old.cmd("RCPT TO:<bob@example.test>")[0] == 250
    assert old.cmd("DATA")[0] == 354
    code, text = old.cmd("Subject: after reload\r\n\r\nstill here\r\n.")
    assert code == 250, text
    old.close()
    assert len(tern.wait_messages("bob@example.test", 1)) == 1


def test_listener_certificate_and_handshake_failure(tern_factory):
    inst = tern_factory(start=False)
    cert, key = make_cert(inst.dir, "submissions.example.test")
    os.chmod(key, 0o644)  # the workers run as the unprivileged run_user
    text = open(inst.conf).read()
    anchor = "address = 127.0.0.1:%d\n" % inst.ports["submissions"]
    assert anchor in text
    text = text.replace(anchor, anchor + "    tls_cert = %s\n    tls_key = %s\n" % (cert, key))
    open(inst.conf, "w").write(text)
    inst.start()
    own = ssl.PEM_cert_to_DER_cert(open(cert).read())
    assert peer_cert(inst.ports["submissions"]) == own
    assert peer_cert(inst.ports["submission"], implicit=False) != own
    # A client speaking clear text to the implicit TLS port: the handshake fails, logged.
    s = socket.create_connection(("127.0.0.1", inst.ports["submissions"]), 10)
    s.sendall(b"EHLO plain.test\r\n")
    s.settimeout(10)
    try:
        while s.recv(4096):
            pass
    except ConnectionResetError:
        pass
    s.close()
    deadline = time.time() + 5
    while "TLS handshake failed" not in inst.log() and time.time() < deadline:
        time.sleep(0.05)
    assert "TLS handshake failed from [127.0.0.1]" in inst.log()
