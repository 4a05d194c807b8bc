"""IMAP over TLS and the login policy: STARTTLS (RFC 9051 6.2.1) and its injection rule
(RFC 2595 3.1), implicit TLS on imaps (RFC 8314), LOGINDISABLED where clear-text
passwords are not allowed, AUTHENTICATE PLAIN/LOGIN/SCRAM-SHA-256 with SASL-IR (RFC 4959),
IMAP4rev2 ENABLE, and certificate reload on SIGHUP. Clients: imaplib, raw sockets, and the
independent SCRAM client in scram_client.py.
"""
import base64
import imaplib
import os
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import scram_client  # noqa: E402


def _ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _read_until(sock, end, timeout=5):
    sock.settimeout(timeout)
    data = b""
    while end not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_starttls_injection_is_discarded(tern):
    s = socket.create_connection(("127.0.0.1", tern.ports["imap"]), 5)
    greeting = _read_until(s, b"\r\n")
    assert b"STARTTLS" in greeting
    s.sendall(b"a STARTTLS\r\nb NOOP\r\n")
    assert _read_until(s, b"a OK").startswith(b"a OK")
    t = _ctx().wrap_socket(s)
    t.sendall(b"c NOOP\r\n")
    reply = _read_until(t, b"c OK")
    assert b"b " not in reply.replace(b"c OK", b""), reply
    assert reply.startswith(b"c OK"), reply
    t.sendall(b"d STARTTLS\r\n")
    assert _read_until(t, b"d ").startswith(b"d BAD")
    t.close()
    deadline = time.time() + 5
    while "discarded" not in tern.log() and time.time() < deadline:
        time.sleep(0.05)
    assert "discarded 8 octets" in tern.log()


def test_imaplib_starttls_and_imaps(tern):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.starttls(ssl_context=_ctx())
    assert "STARTTLS" not in m.capabilities
    m.login("alice@example.test", "alice-pw")
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    m = imaplib.IMAP4_SSL("127.0.0.1", tern.ports["imaps"], ssl_context=_ctx())
    assert "STARTTLS" not in m.capabilities
    m.login("alice@example.test", "alice-pw")
    typ, data = m._simple_command("ENABLE", "IMAP4rev2")
    assert typ == "OK"
    assert b"IMAP4rev2" in m.untagged_responses.get("ENABLED", [b""])[0]
    m.logout()


def test_logindisabled_without_tls(tern_factory):
    inst = tern_factory(options={"auth_plaintext_loopback": "no"})
    m = imaplib.IMAP4("127.0.0.1", inst.ports["imap"])
    assert "LOGINDISABLED" in m.capabilities
    assert "AUTH=PLAIN" not in m.capabilities
    assert "AUTH=SCRAM-SHA-256" in m.capabilities
    try:
        m.login("alice@example.test", "alice-pw")
        raise AssertionError("LOGIN accepted in clear")
    except imaplib.IMAP4.error as e:
        assert "PRIVACYREQUIRED" in str(e)
    m.starttls(ssl_context=_ctx())
    assert "LOGINDISABLED" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    m.login("alice@example.test", "alice-pw")
    m.logout()


def test_authenticate_plain_sasl_ir_and_login(tern):
    s = socket.create_connection(("127.0.0.1", tern.ports["imap"]), 5)
    _read_until(s, b"\r\n")
    ir = base64.b64encode(b"\0alice@example.test\0alice-pw")
    s.sendall(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
    assert b"a OK" in _read_until(s, b"a ")
    s.close()
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    answers = iter([b"alice@example.test", b"alice-pw"])
    m.authenticate("LOGIN", lambda _: next(answers))
    assert m.state == "AUTH"
    m.logout()
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    try:
        m.authenticate("PLAIN", lambda _: b"\0alice@example.test\0wrong")
        raise AssertionError("a wrong password was accepted")
    except imaplib.IMAP4.error as e:
        assert "AUTHENTICATIONFAILED" in str(e)


def test_authenticate_scram(tern):
    s = _ctx().wrap_socket(socket.create_connection(("127.0.0.1", tern.ports["imaps"]), 5))
    _read_until(s, b"\r\n")
    state = {"first": True}

    def send(msg):
        b64 = base64.b64encode(msg)
        if state["first"]:
            state["first"] = False
            s.sendall(b"a AUTHENTICATE SCRAM-SHA-256 " + b64 + b"\r\n")
        else:
            s.sendall(b64 + b"\r\n")

    def recv():
        line = _read_until(s, b"\r\n")
        assert line.startswith(b"+ "), line
        return base64.b64decode(line[2:].strip())

    assert scram_client.scram_exchange(send, recv, "alice@example.test", "alice-pw")
    s.sendall(b"\r\n")
    assert b"a OK" in _read_until(s, b"a ")
    s.close()


def test_sighup_reloads_certificate(tern):
    def cert_der():
        t = _ctx().wrap_socket(socket.create_connection(("127.0.0.1", tern.ports["imaps"]), 5))
        der = t.getpeercert(binary_form=True)
        t.close()
        return der

    before = cert_der()
    inst_dir = os.path.dirname(tern.conf)
    cert, key = os.path.join(inst_dir, "tls", "cert.pem"), os.path.join(inst_dir, "tls", "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=reloaded.example.test", "-keyout", key + ".new",
                    "-out", cert + ".new"], check=True, capture_output=True)
    st = os.stat(key)  # the worker runs unprivileged: keep the key's owner and mode
    os.chown(key + ".new", st.st_uid, st.st_gid)
    os.chmod(key + ".new", st.st_mode & 0o777)
    os.replace(key + ".new", key)
    os.replace(cert + ".new", cert)
    tern.reload()
    deadline = time.time() + 10
    while time.time() < deadline and cert_der() == before:
        time.sleep(0.2)
    assert cert_der() != before
