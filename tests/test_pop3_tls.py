"""POP3 over TLS and SASL (RFC 2595 STLS, RFC 8314 pop3s, RFC 5034 AUTH, RFC 3206 codes):
openssl s_client, poplib (stls() and POP3_SSL), curl and fetchmail as real clients; the
STLS command-injection hole; AUTH PLAIN / LOGIN / SCRAM-SHA-256 (tests/scram_client.py);
the plaintext rule off loopback; the shared lockout; failure delays that do not stall
other sessions; certificate reload on SIGHUP."""
import base64
import os
import poplib
import shutil
import socket
import ssl
import subprocess
import time

import pytest

import scram_client

ALICE = "alice@example.test"
BOB = "bob@example.test"


def put(tern, addr, name, data):
    """Drops a message straight into the user's Maildir new/ (as a delivery would)."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(tern.maildir(addr), sub), exist_ok=True)
    path = os.path.join(tern.maildir(addr), "tmp", name)
    with open(path, "wb") as f:
        f.write(data)
    os.rename(path, os.path.join(tern.maildir(addr), "new", name))


def msg(i):
    return b"From: x@example.test\nSubject: test %d\n\nbody %d\n" % (i, i)


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def client_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def b64(data):
    return base64.b64encode(data).decode()


def s_client(args, data, wait=2.0):
    """Runs openssl s_client with data on stdin (kept open for `wait` seconds)."""
    p = subprocess.Popen(["openssl", "s_client", "-quiet", "-ign_eof"] + args,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    p.stdin.write(data)
    p.stdin.flush()
    time.sleep(wait)
    p.stdin.close()
    p.stdin = None  # communicate() must not flush it again
    try:
        out, err = p.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return out, err


def test_openssl_starttls_and_implicit(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    cmds = b"CAPA\r\nUSER %s\r\nPASS alice-pw\r\nSTAT\r\nQUIT\r\n" % ALICE.encode()
    out, err = s_client(["-starttls", "pop3", "-connect",
                         "127.0.0.1:%d" % tern.ports["pop3"]], cmds)
    assert b"+OK Capability list follows" in out, (out, err)
    capa = out.split(b"+OK Capability list follows")[1].split(b"\r\n.\r\n")[0]
    assert b"STLS" not in capa and b"USER" in capa and b"SASL SCRAM-SHA-256 SCRAM-SHA-1 PLAIN" in capa
    assert b"+OK maildrop has 1 message" in out and b"+OK 1 " in out
    assert b"signing off" in out
    out, err = s_client(["-connect", "127.0.0.1:%d" % tern.ports["pop3s"]],
                        b"CAPA\r\n" + cmds)
    assert out.startswith(b"+OK Tern POP3 server ready"), (out, err)
    assert b"STLS" not in out and b"+OK maildrop has 1 message" in out
    assert "tls: ip=[127.0.0.1] TLS1.3" in tern.log()


def test_poplib_stls(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    caps = p.capa()
    assert "STLS" in caps and "SASL" in caps
    assert p.stls(client_ctx()).startswith(b"+OK")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    assert caps["SASL"] == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN"]
    with pytest.raises(poplib.error_proto, match="already under TLS"):
        p._shortcmd("STLS")
    p.user(ALICE)
    assert p.pass_("alice-pw").startswith(b"+OK")
    assert "STLS" not in p.capa() and "USER" not in p.capa()
    assert p.retr(1)[1][1] == b"Subject: test 1"
    p.quit()


def test_poplib_pop3s(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    p = poplib.POP3_SSL("127.0.0.1", tern.ports["pop3s"], context=client_ctx(), timeout=20)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    assert "STLS" not in caps and "USER" in caps
    with pytest.raises(poplib.error_proto, match="already under TLS"):
        p._shortcmd("STLS")
    p.user(ALICE)
    p.pass_("alice-pw")
    resp, lines, _ = p.retr(1)
    assert b"\r\n".join(lines) + b"\r\n" == crlf(msg(1))
    p.quit()


def tls_pop(tern):
    return poplib.POP3_SSL("127.0.0.1", tern.ports["pop3s"], context=client_ctx(), timeout=20)


def test_auth_plain_login(tern):
    p = tls_pop(tern)
    resp = p._longcmd("AUTH")
    assert resp[1] == [b"SCRAM-SHA-256", b"SCRAM-SHA-1", b"PLAIN", b"LOGIN"]
    ir = b64(b"\0" + ALICE.encode() + b"\0alice-pw")
    assert p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK maildrop has 0")
    with pytest.raises(poplib.error_proto, match="not allowed after login"):
        p._shortcmd("AUTH PLAIN " + ir)
    p.quit()
    # PLAIN without an initial response: an empty challenge first
    p = tls_pop(tern)
    assert p._shortcmd("AUTH PLAIN") == b"+ "
    assert p._shortcmd(b64(b"\0" + BOB.encode() + b"\0bob-pw")).startswith(b"+OK")
    p.quit()
    # LOGIN: "Username:" and "Password:" challenges
    p = tls_pop(tern)
    r = p._shortcmd("AUTH LOGIN")
    assert base64.b64decode(r[2:]) == b"Username:"
    r = p._shortcmd(b64(ALICE.encode()))
    assert base64.b64decode(r[2:]) == b"Password:"
    assert p._shortcmd(b64(b"alice-pw")).startswith(b"+OK")
    p.quit()
    log = tern.log()
    assert "auth: proto=pop3, mech=PLAIN, user=<alice@example.test>, ip=[127.0.0.1], " \
           "result=ok" in log
    assert "mech=LOGIN" in log and "alice-pw" not in log


def test_auth_errors(tern_factory):
    tern = tern_factory(options={"auth_failure_delay": "0"})
    p = tls_pop(tern)
    with pytest.raises(poplib.error_proto, match="unsupported authentication mechanism"):
        p._shortcmd("AUTH CRAM-MD5")
    assert p._shortcmd("AUTH PLAIN") == b"+ "
    with pytest.raises(poplib.error_proto, match="authentication cancelled"):
        p._shortcmd("*")
    with pytest.raises(poplib.error_proto, match="invalid base64"):
        p._shortcmd("AUTH PLAIN !!!!")
    assert p._shortcmd("AUTH LOGIN").startswith(b"+ ")
    with pytest.raises(poplib.error_proto, match="invalid base64"):
        p._shortcmd("a=b=")
    with pytest.raises(poplib.error_proto, match=r"^b'-ERR \[AUTH\] authentication failed"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0" + ALICE.encode() + b"\0wrong"))
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0nobody@example.test\0x"))
    # a long response line (RFC 5034: no 255-octet limit after the AUTH line)
    assert p._shortcmd("AUTH PLAIN") == b"+ "
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._shortcmd(b64(b"\0" + ALICE.encode() + b"\0" + b"x" * 250))
    # the session still works after all this
    assert p._shortcmd("AUTH PLAIN " + b64(b"\0" + ALICE.encode() + b"\0alice-pw")) \
        .startswith(b"+OK")
    p.quit()
    log = tern.log()
    assert "result=cancelled" in log and "result=bad-credentials" in log
    assert "result=unknown-user" in log


def scram_login(p, user, password, mech="SCRAM-SHA-256"):
    """AUTH SCRAM-SHA-256 (or -1) with scram_client over a poplib connection; returns the
    reply."""
    state = {"first": True}

    def send(data):
        if state["first"]:
            state["first"] = False
            state["reply"] = p._shortcmd("AUTH %s %s" % (mech, b64(data)))
        else:
            state["reply"] = p._shortcmd(b64(data))

    def recv():
        r = state["reply"]
        assert r.startswith(b"+ "), r
        return base64.b64decode(r[2:])

    hash_name = "sha1" if mech == "SCRAM-SHA-1" else "sha256"
    assert scram_client.scram_exchange(send, recv, user, password, hash_name=hash_name)
    return p._shortcmd("")  # the empty response to the server-final challenge


def test_auth_scram(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    # SCRAM never shows the password: offered without TLS too
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    assert "SCRAM-SHA-256" in p.capa()["SASL"]
    assert scram_login(p, ALICE, "alice-pw").startswith(b"+OK maildrop has 1")
    assert p.stat()[0] == 1
    p.quit()
    p = tls_pop(tern)
    with pytest.raises((poplib.error_proto, AssertionError)):
        scram_login(p, ALICE, "wrong")
    p.quit()
    assert "mech=SCRAM-SHA-256, user=<alice@example.test>, ip=[127.0.0.1], result=ok" \
        in tern.log()
    # SCRAM-SHA-1 (RFC 5802), from the second secret `tern user add` stores
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    assert "SCRAM-SHA-1" in p.capa()["SASL"]
    assert scram_login(p, ALICE, "alice-pw", "SCRAM-SHA-1").startswith(b"+OK maildrop has 1")
    p.quit()
    assert "mech=SCRAM-SHA-1, user=<alice@example.test>, ip=[127.0.0.1], result=ok" \
        in tern.log()


def test_curl_tls(tern):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed")
    put(tern, ALICE, "1.x.host", msg(1))
    for url in ("pop3://127.0.0.1:%d/1" % tern.ports["pop3"],
                "pop3s://127.0.0.1:%d/1" % tern.ports["pop3s"]):
        r = subprocess.run([curl, "-s", "-k", "--ssl-reqd", "-u", ALICE + ":alice-pw", url],
                           capture_output=True, timeout=30)
        assert r.returncode == 0 and r.stdout == crlf(msg(1)), (url, r)
    # curl's SASL: PLAIN chosen from CAPA over TLS
    r = subprocess.run([curl, "-s", "-k", "--ssl-reqd", "--login-options", "AUTH=PLAIN",
                        "-u", ALICE + ":alice-pw",
                        "pop3://127.0.0.1:%d/" % tern.ports["pop3"]],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and r.stdout.startswith(b"1 "), r
    assert tern.log().count("tls: ip=[127.0.0.1]") >= 3


def test_stls_injection(tern):
    """STLS and CAPA in one write: the CAPA must not be answered inside TLS."""
    s = socket.create_connection(("127.0.0.1", tern.ports["pop3"]), 20)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"STLS\r\nCAPA\r\n")
    assert f.readline() == b"+OK Begin TLS negotiation\r\n"
    t = client_ctx().wrap_socket(s)
    t.settimeout(1.0)
    with pytest.raises(socket.timeout):
        data = t.recv(4096)
        assert data == b"", data  # the injected CAPA got no answer
    t.settimeout(20)
    t.sendall(b"CAPA\r\n")
    data = b""
    while not data.endswith(b"\r\n.\r\n"):
        data += t.recv(4096)
    assert data.count(b"+OK") == 1 and b"STLS" not in data
    t.sendall(b"QUIT\r\n")
    assert t.recv(4096).startswith(b"+OK")
    t.close()
    assert "stls: ip=[127.0.0.1] discarded 6 octets sent before the TLS handshake" \
        in tern.log()


def test_stls_injection_split(tern):
    """The injected bytes arrive in a second packet, before the ClientHello."""
    s = socket.create_connection(("127.0.0.1", tern.ports["pop3"]), 20)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"STLS\r\n")
    assert f.readline() == b"+OK Begin TLS negotiation\r\n"
    s.sendall(b"CAPA\r\n")  # lands before the handshake: it breaks it, never runs
    t = client_ctx()
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        c = t.wrap_socket(s)
        c.settimeout(1.0)
        c.recv(4096)
        raise ssl.SSLError("handshake survived garbage")
    s.close()


def test_plaintext_refused_off_loopback(tern_factory):
    """auth_plaintext_loopback = no: the loopback client is treated as a remote one."""
    tern = tern_factory(options={"auth_plaintext_loopback": "no"})
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    caps = p.capa()
    assert "USER" not in caps and "STLS" in caps
    assert caps["SASL"] == ["SCRAM-SHA-256", "SCRAM-SHA-1"]
    assert p._longcmd("AUTH")[1] == [b"SCRAM-SHA-256", b"SCRAM-SHA-1"]
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] plaintext authentication"):
        p.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] plaintext authentication"):
        p.pass_("alice-pw")
    for mech in ("PLAIN", "LOGIN"):
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\] plaintext authentication"):
            p._shortcmd("AUTH %s" % mech)
    p.stls(client_ctx())
    caps = p.capa()
    assert "USER" in caps
    assert caps["SASL"] == ["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "LOGIN"]
    p.user(ALICE)
    assert p.pass_("alice-pw").startswith(b"+OK")
    p.quit()
    q = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    assert scram_login(q, BOB, "bob-pw").startswith(b"+OK")
    q.quit()


def test_plaintext_listener_127_0_0_2(tern_factory):
    """A listener on 127.0.0.2 with no TLS at all: only SCRAM is possible there."""
    tern = tern_factory(options={"auth_plaintext_loopback": "no"}, start=False)
    port = scram_free_port()
    with open(tern.conf, "a") as f:
        f.write("listen pop3x {\n    address = 127.0.0.2:%d\n    protocol = pop3\n}\n" % port)
    tern.start(wait_port="pop3")
    try:
        p = poplib.POP3("127.0.0.2", port, timeout=20)
    except OSError:
        pytest.skip("127.0.0.2 not usable here")
    caps = p.capa()
    assert "STLS" not in caps and "USER" not in caps
    with pytest.raises(poplib.error_proto, match="TLS is not available"):
        p._shortcmd("STLS")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0" + ALICE.encode() + b"\0alice-pw"))
    assert scram_login(p, ALICE, "alice-pw").startswith(b"+OK")
    p.quit()


def scram_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        return s.getsockname()[1]


def test_lockout_shared_policy(tern_factory):
    tern = tern_factory(options={"auth_max_failures": "3", "auth_failure_delay": "1s",
                                 "auth_lockout_time": "1h"})
    p = tls_pop(tern)
    other = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    p.user(ALICE)
    p._putcmd("PASS wrong")
    # while the failure waits on its timer, another session is served at once
    t0 = time.time()
    assert "UIDL" in other.capa()
    assert time.time() - t0 < 0.5
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._getresp()
    assert time.time() - t0 >= 0.9
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0" + ALICE.encode() + b"\0wrong"))
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        scram_login(other, ALICE, "wrong")
    # locked: the right password gets the same LOGIN-DELAY, by every mechanism
    p.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
        p.pass_("alice-pw")
    with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0" + BOB.encode() + b"\0bob-pw"))
    p.close()
    other.close()
    log = tern.log()
    assert "now locked out" in log and "result=locked-out" in log


def test_handshake_failure_logged(tern):
    s = socket.create_connection(("127.0.0.1", tern.ports["pop3s"]), 20)
    s.sendall(b"USER alice\r\n" * 10)
    s.settimeout(5)
    try:
        data = s.recv(4096)
    except OSError:
        data = b""
    s.close()
    assert b"+OK" not in data
    time.sleep(0.3)
    assert "handshake failed" in tern.log()
    p = tls_pop(tern)  # the worker is fine
    p.quit()


def test_sighup_reloads_certificate(tern):
    tls = os.path.join(os.path.dirname(tern.conf), "tls")
    before = ssl.get_server_certificate(("127.0.0.1", tern.ports["pop3s"]))
    st = os.stat(os.path.join(tls, "key.pem"))
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
                        "2", "-subj", "/CN=reloaded.example.test",
                        "-keyout", os.path.join(tls, "key.pem.new"),
                        "-out", os.path.join(tls, "cert.pem.new")], capture_output=True)
    assert r.returncode == 0, r.stderr
    for name in ("key.pem", "cert.pem"):
        os.chown(os.path.join(tls, name + ".new"), st.st_uid, st.st_gid)
        os.rename(os.path.join(tls, name + ".new"), os.path.join(tls, name))
    tern.reload()
    deadline = time.time() + 10
    while time.time() < deadline:
        after = ssl.get_server_certificate(("127.0.0.1", tern.ports["pop3s"]))
        if after != before:
            break
        time.sleep(0.2)
    assert after != before
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    p.stls(client_ctx())
    p.user(ALICE)
    p.pass_("alice-pw")
    p.quit()


def test_fetchmail_tls(tern, tmp_path):
    fetchmail = shutil.which("fetchmail")
    if fetchmail is None:
        pytest.skip("fetchmail not installed")
    for i in range(20):
        put(tern, ALICE, "%03d.x.host" % i, msg(i))
    out = tmp_path / "out"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text("#!/bin/sh\nf=$(mktemp %s/m.XXXXXXXX)\ncat > $f\n" % out)
    mda.chmod(0o755)
    for port, opts in ((tern.ports["pop3s"], "ssl no sslcertck"),
                       (tern.ports["pop3"], "sslproto tls1.2+ no sslcertck")):
        rc = tmp_path / "rc"
        rc.write_text("set no syslog\nset idfile %s\npoll 127.0.0.1 service %d protocol pop3"
                      " uidl\n  user '%s' there with password 'alice-pw' is 'x' here keep %s\n"
                      "  mda '%s'\n" % (tmp_path / ("ids%d" % port), port, ALICE, opts, mda))
        rc.chmod(0o600)
        # its lock file (--pidfile) and state here: run as root, fetchmail puts the lock in
        # /var/run whatever FETCHMAILHOME says, and another test run may hold it
        env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
        r = subprocess.run([fetchmail, "-f", str(rc), "--nosyslog", "-v",
                            "--pidfile", str(tmp_path / "fetchmail.pid")], env=env,
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert len(os.listdir(out)) == 20
        for f in os.listdir(out):
            os.unlink(out / f)
    assert tern.log().count("tls: ip=[127.0.0.1]") >= 2


def worker_pid(tern, role):
    for pid in tern.pids():
        try:
            if open("/proc/%d/cmdline" % pid).read().startswith("tern\0worker\0%s" % role):
                return pid
        except OSError:
            pass
    raise AssertionError("no %s worker" % role)


def vm_hwm_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_big_retr_over_stls_bounded(tern):
    """A 30 MB message after STLS: the TLS layer must not buffer it all (constant memory)."""
    body = (b"y" * 78 + b"\n") * (30 * 1024 * 1024 // 79)
    put(tern, ALICE, "big.x.host", b"Subject: big\n\n" + body)
    pid = worker_pid(tern, "pop3")
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=60)
    p.stls(client_ctx())
    p.user(ALICE)
    p.pass_("alice-pw")
    before = vm_hwm_kb(pid)
    p._putcmd("RETR 1")
    assert p._getresp().startswith(b"+OK")
    time.sleep(1.0)  # the client does not read: the server must stop at its window
    assert vm_hwm_kb(pid) - before < 8 * 1024
    n = 0
    while True:
        line, _ = p._getline()
        if line == b".":
            break
        n += 1
    assert n == 2 + body.count(b"\n")
    assert vm_hwm_kb(pid) - before < 16 * 1024
    p.quit()
