"""ManageSieve (RFC 5804): every command and its error paths over a plain Python socket,
STARTTLS with the ssl module, the limits of tern.conf, the same files as `tern sieve`, and
the real client sieve-connect uploading, listing, activating, downloading and deleting a
script, then a delivery over SMTP that the uploaded active script files into a folder;
and a system user (a throwaway Unix account) whose session runs as that user.
"""
import base64
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

import scram_client
from sysaccounts import check_worker_uids, needs_root, status_uids, unix_user, wait_for  # noqa: F401

FILTER = (b'require "fileinto";\r\n'
          b'if header :contains "subject" "ms-test" { fileinto "Sorted"; }\r\n')


class Client:
    """A ManageSieve client: sends raw commands, reads responses (literals included)."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout)
        self.f = self.sock.makefile("rb")

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.f = self.sock.makefile("rb")

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        """One response line; a trailing literal {N} is read and joined to it."""
        out = b""
        while True:
            ln = self.f.readline()
            assert ln.endswith(b"\r\n"), (out, ln)
            out += ln[:-2]
            m = re.search(rb"\{(\d+)\}$", ln[:-2])
            if not m:
                return out
            out += b"\r\n" + self.f.read(int(m.group(1)))

    def response(self):
        """(data lines, status line) up to OK / NO / BYE."""
        lines = []
        while True:
            ln = self.line()
            if re.match(rb"(OK|NO|BYE)\b", ln):
                return lines, ln
            lines.append(ln)

    def cmd(self, data):
        self.send(data + ("\r\n" if isinstance(data, str) else b"\r\n"))
        return self.response()

    def login(self, user="alice@example.test", password="alice-pw"):
        ir = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        _, st = self.cmd('AUTHENTICATE "PLAIN" "%s"' % ir)
        assert st.startswith(b"OK"), st
        return st

    def close(self):
        self.sock.close()


def caps(lines):
    out = {}
    for ln in lines:
        m = re.match(rb'"([^"]+)"(?: "(.*)")?$', ln)
        assert m, ln
        out[m.group(1).decode().upper()] = m.group(2).decode() if m.group(2) is not None else None
    return out


def connect(tern):
    c = Client(tern.ports["sieve"])
    return c, caps(c.response()[0])


def sieve_dir(tern, user="alice"):
    return os.path.join(tern.dir, "inst", "data", "sieve", tern.domain, user)


def test_greeting_and_capability(tern):
    c, cap = connect(tern)
    assert cap["IMPLEMENTATION"].startswith("Tern")
    assert cap["VERSION"] == "1.0"
    assert "PLAIN" in cap["SASL"].split() and "LOGIN" in cap["SASL"].split()
    for ext in ("fileinto", "reject", "vacation", "imap4flags", "envelope", "body"):
        assert ext in cap["SIEVE"].split()
    assert "STARTTLS" in cap and cap["MAXREDIRECTS"].isdigit()
    assert "OWNER" not in cap
    lines, st = c.cmd("capability")
    assert st == b"OK" and caps(lines) == cap
    c.login()
    lines, st = c.cmd("CAPABILITY")
    after = caps(lines)
    assert after["OWNER"] == "alice@example.test" and "UNAUTHENTICATE" in after
    assert "STARTTLS" not in after and "SASL" not in after
    assert c.cmd("LOGOUT")[1].startswith(b"OK")
    assert c.f.read() == b""  # the server closed the connection


def test_authenticate_paths(tern):
    c, _ = connect(tern)
    # before login only AUTHENTICATE, STARTTLS, CAPABILITY, LOGOUT, NOOP
    assert c.cmd("LISTSCRIPTS")[1].startswith(b"NO")
    assert c.cmd("UNAUTHENTICATE")[1].startswith(b"NO")
    assert c.cmd('AUTHENTICATE "X-UNKNOWN"')[1].startswith(b"NO")
    # a wrong password: NO, after the failure delay
    t0 = time.time()
    ir = base64.b64encode(b"\0alice@example.test\0wrong").decode()
    assert c.cmd('AUTHENTICATE "PLAIN" "%s"' % ir)[1] == b'NO "authentication failed"'
    assert time.time() - t0 >= 0.5
    # LOGIN with challenges, cancelled with "*"
    c.send('AUTHENTICATE "LOGIN"\r\n')
    assert base64.b64decode(c.line().strip(b'"')).lower().startswith(b"user")
    assert c.cmd('"*"')[1].startswith(b"NO")
    # LOGIN to the end, the responses as a literal and as a quoted string
    c.send('AUTHENTICATE "LOGIN"\r\n')
    c.line()
    user = base64.b64encode(b"alice@example.test")
    c.send(b"{%d+}\r\n%s\r\n" % (len(user), user))
    c.line()
    _, st = c.cmd('"%s"' % base64.b64encode(b"alice-pw").decode())
    assert st.startswith(b"OK"), st
    # no second AUTHENTICATE in a session (RFC 5804 2.1)
    assert c.cmd('AUTHENTICATE "PLAIN" "%s"' % ir)[1].startswith(b"NO")
    lines, st = c.cmd("LISTSCRIPTS")
    assert st == b"OK" and lines == []
    # UNAUTHENTICATE: back to the start, then bob logs in
    assert c.cmd("UNAUTHENTICATE")[1].startswith(b"OK")
    assert c.cmd("LISTSCRIPTS")[1].startswith(b"NO")
    # PLAIN without an initial response: an empty challenge, then a literal (as KMail)
    c.send('AUTHENTICATE "PLAIN"\r\n')
    assert c.line() == b'""'
    creds = base64.b64encode(b"\0bob@example.test\0bob-pw")
    c.send(b"{%d+}\r\n%s\r\n" % (len(creds), creds))
    assert c.response()[1].startswith(b"OK")
    assert caps(c.cmd("CAPABILITY")[0])["OWNER"] == "bob@example.test"
    c.close()
    assert "auth: proto=managesieve, mech=PLAIN, user=<alice@example.test>" in tern.log()
    assert "wrong" not in tern.log() and "alice-pw" not in tern.log()


@pytest.mark.parametrize("mech,hash_name", [("SCRAM-SHA-256", "sha256"),
                                            ("SCRAM-SHA-1", "sha1")])
def test_scram(tern, mech, hash_name):
    """SCRAM-SHA-256, and SCRAM-SHA-1 which RFC 5804 section 2.1 makes mandatory, with the
    server's final message in OK (SASL ...)."""
    c, cap = connect(tern)
    assert mech in cap["SASL"].split()
    cl = scram_client.ScramClient("alice@example.test", "alice-pw", hash_name=hash_name)
    first = base64.b64encode(cl.client_first()).decode()
    c.send('AUTHENTICATE "%s" "%s"\r\n' % (mech, first))
    challenge = base64.b64decode(c.line().strip(b'"'))
    final = base64.b64encode(cl.client_final(challenge)).decode()
    _, st = c.cmd('"%s"' % final)
    m = re.match(rb'OK \(SASL "([^"]+)"\)', st)
    assert m, st
    assert cl.verify_server_final(base64.b64decode(m.group(1)))
    assert c.cmd("LISTSCRIPTS")[1] == b"OK"


def test_plaintext_needs_tls(tern_factory):
    tern = tern_factory({"auth_plaintext_loopback": "no"})
    c, cap = connect(tern)
    assert "PLAIN" not in cap["SASL"].split() and "STARTTLS" in cap
    _, st = c.cmd('AUTHENTICATE "PLAIN" "%s"' % base64.b64encode(b"\0a\0b").decode())
    assert st.startswith(b"NO (ENCRYPT-NEEDED)"), st
    # commands sent in clear after STARTTLS are never read as commands under TLS
    c.send("STARTTLS\r\nLOGOUT\r\n")
    assert c.response()[1].startswith(b"OK")
    c.starttls()
    lines, st = c.response()  # the capabilities again (RFC 5804 2.2)
    cap = caps(lines)
    assert st == b"OK" and "PLAIN" in cap["SASL"].split() and "STARTTLS" not in cap
    c.login()
    assert c.cmd("STARTTLS")[1].startswith(b"NO")
    assert c.cmd("LISTSCRIPTS")[1] == b"OK"
    assert "discarded 8 octets" in tern.log()


def test_scripts(tern):
    c, _ = connect(tern)
    c.login()
    # PUTSCRIPT as a literal and as a quoted string
    _, st = c.cmd(b'PUTSCRIPT "filt" {%d+}\r\n%s' % (len(FILTER), FILTER))
    assert st == b"OK"
    assert c.cmd('PUTSCRIPT "second" "keep;"')[1] == b"OK"
    # a script that does not compile: NO with line and column, nothing stored
    bad = b'require "fileinto";\r\nif header :is "a" { fileinto 42; }\r\n'
    _, st = c.cmd(b'PUTSCRIPT "bad" {%d+}\r\n%s' % (len(bad), bad))
    assert re.match(rb'NO "line 2, column \d+: ', st), st
    assert c.cmd(b'CHECKSCRIPT {%d+}\r\n%s' % (len(bad), bad))[1].startswith(b"NO \"line 2")
    assert c.cmd(b'CHECKSCRIPT "discard;"')[1] == b"OK"
    assert not os.path.exists(os.path.join(sieve_dir(tern), "bad.sieve"))
    lines, st = c.cmd("LISTSCRIPTS")
    assert sorted(lines) == [b'"filt"', b'"second"'] and st == b"OK"
    # SETACTIVE, and the active one in LISTSCRIPTS and on disk
    assert c.cmd('SETACTIVE "nope"')[1].startswith(b"NO (NONEXISTENT)")
    assert c.cmd('SETACTIVE "filt"')[1] == b"OK"
    assert sorted(c.cmd("LISTSCRIPTS")[0]) == [b'"filt" ACTIVE', b'"second"']
    link = os.path.join(sieve_dir(tern), "active.sieve")
    assert os.readlink(link) == "filt.sieve"
    # GETSCRIPT gives the bytes back
    lines, st = c.cmd('GETSCRIPT "filt"')
    assert st == b"OK" and lines == [b"{%d}\r\n" % len(FILTER) + FILTER]
    assert c.cmd('GETSCRIPT "nope"')[1].startswith(b"NO (NONEXISTENT)")
    # the active script cannot be deleted
    assert c.cmd('DELETESCRIPT "filt"')[1].startswith(b"NO (ACTIVE)")
    assert c.cmd('DELETESCRIPT "nope"')[1].startswith(b"NO (NONEXISTENT)")
    # RENAMESCRIPT: the active link follows; no overwriting
    assert c.cmd('RENAMESCRIPT "filt" "second"')[1].startswith(b"NO (ALREADYEXISTS)")
    assert c.cmd('RENAMESCRIPT "nope" "x"')[1].startswith(b"NO (NONEXISTENT)")
    assert c.cmd('RENAMESCRIPT "filt" "r\xc3\xa8gles"'.encode("latin-1"))[1] == b"OK"
    assert os.readlink(link) == "r\u00e8gles.sieve"
    assert b'"r\xc3\xa8gles" ACTIVE' in c.cmd("LISTSCRIPTS")[0]
    # the same files as `tern sieve`
    r = tern.run("sieve", "list", "alice@example.test", check=True)
    assert "* r\u00e8gles" in r.stdout and "  second" in r.stdout
    # SETACTIVE "" deactivates; then the script may go
    assert c.cmd('SETACTIVE ""')[1] == b"OK"
    assert not os.path.lexists(link)
    assert c.cmd('DELETESCRIPT "second"')[1] == b"OK"
    assert c.cmd("LISTSCRIPTS")[0] == [b'"r\xc3\xa8gles"']
    # bad names: a path, a control character, a leading dot, an empty name
    for name in ('"a/b"', '"a\x01b"', '".hidden"', '""'):
        assert c.cmd('PUTSCRIPT %s "keep;"' % name)[1].startswith(b"NO"), name
    assert os.listdir(sieve_dir(tern)) == ["r\u00e8gles.sieve"]
    # NOOP with a tag (RFC 5804 2.13)
    assert c.cmd('NOOP "t1"')[1] == b'OK (TAG "t1") "Done"'
    assert c.cmd('NOOP')[1].startswith(b"OK")
    c.close()


def test_implicit_tls(tern_factory):
    tern = tern_factory(start=False)
    text = open(tern.conf).read()
    text, n = re.subn(r"(listen sieve \{[^}]*tls = )starttls", r"\1implicit", text)
    assert n == 1
    open(tern.conf, "w").write(text)
    tern.start()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = Client(tern.ports["sieve"])
    c.sock = ctx.wrap_socket(c.sock)
    c.f = c.sock.makefile("rb")
    cap = caps(c.response()[0])  # the greeting comes after the handshake
    assert "STARTTLS" not in cap and "PLAIN" in cap["SASL"].split()
    c.login()
    assert c.cmd("LISTSCRIPTS")[1] == b"OK"


def test_tern_sieve_put_seen_by_managesieve(tern):
    tern.run("sieve", "put", "bob@example.test", "fromcli", input="discard;\n", check=True)
    tern.run("sieve", "activate", "bob@example.test", "fromcli", check=True)
    c, _ = connect(tern)
    c.login("bob@example.test", "bob-pw")
    assert c.cmd("LISTSCRIPTS")[0] == [b'"fromcli" ACTIVE']
    assert c.cmd('GETSCRIPT "fromcli"')[0] == [b"{9}\r\ndiscard;\n"]
    # alice sees none of bob's
    c.cmd("UNAUTHENTICATE")
    c.login()
    assert c.cmd("LISTSCRIPTS")[0] == []


def test_limits(tern_factory):
    tern = tern_factory({"managesieve_max_script_size": "100", "managesieve_max_scripts": "2",
                         "managesieve_max_literal": "2000", "managesieve_max_errors": "5"})
    c, _ = connect(tern)
    c.login()
    assert c.cmd('HAVESPACE "a" 100')[1] == b"OK"
    assert c.cmd('HAVESPACE "a" 101')[1].startswith(b"NO (QUOTA/MAXSIZE)")
    big = b"# " + b"x" * 120 + b"\r\nkeep;\r\n"
    assert c.cmd(b'PUTSCRIPT "a" {%d+}\r\n%s' % (len(big), big))[1].startswith(
        b"NO (QUOTA/MAXSIZE)")
    assert c.cmd(b'CHECKSCRIPT {%d+}\r\n%s' % (len(big), big))[1].startswith(
        b"NO (QUOTA/MAXSIZE)")
    assert c.cmd('PUTSCRIPT "a" "keep;"')[1] == b"OK"
    assert c.cmd('PUTSCRIPT "b" "keep;"')[1] == b"OK"
    assert c.cmd('HAVESPACE "c" 10')[1].startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert c.cmd('PUTSCRIPT "c" "keep;"')[1].startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert c.cmd('PUTSCRIPT "b" "discard;"')[1] == b"OK"  # replacing counts no more
    assert c.cmd('HAVESPACE "b" 10')[1] == b"OK"
    # a literal over managesieve_max_literal is skipped unread, the session goes on
    huge = b"y" * 5000
    _, st = c.cmd(b'PUTSCRIPT "d" {%d+}\r\n%s' % (len(huge), huge))
    assert st.startswith(b"NO (QUOTA/MAXSIZE)"), st
    assert c.cmd("NOOP")[1].startswith(b"OK")
    # a line over managesieve_max_line (8k): NO, and the next command is read
    assert c.cmd('NOOP "%s"' % ("z" * 9000))[1].startswith(b"NO")
    # syntax errors and unknown commands (the two above counted too), then BYE at the
    # fifth, managesieve_max_errors
    assert c.cmd('NOOP "open')[1].startswith(b"NO")
    assert c.cmd("FROB")[1] == b'NO "unknown command"'
    c.send("GETSCRIPT\r\n")  # wrong number of arguments
    assert c.line().startswith(b"NO")
    assert c.line() == b'BYE "too many errors"'
    assert c.f.read() == b""


def test_login_timeout(tern_factory):
    tern = tern_factory({"managesieve_login_timeout": "1s"})
    c, _ = connect(tern)
    t0 = time.time()
    assert c.response()[1].startswith(b"BYE")
    assert 0.5 < time.time() - t0 < 10
    assert c.f.read() == b""


def test_inetd_session(tern):
    """`tern managesieve --inetd` over pipes: a local session."""
    ir = base64.b64encode(b"\0alice@example.test\0alice-pw").decode()
    script = ('AUTHENTICATE "PLAIN" "%s"\r\nPUTSCRIPT "p" "keep;"\r\nLISTSCRIPTS\r\n'
              'LOGOUT\r\n' % ir)
    r = tern.run("managesieve", "--inetd", "-c", tern.conf, input=script.encode(), check=True)
    assert b'\r\nOK "Logged in"\r\nOK\r\n"p"\r\nOK\r\nOK "Logout"\r\n' in r.stdout


def sieve_connect(tern, *args, password="alice-pw"):
    """Runs sieve-connect against the instance (STARTTLS with the self-signed
    certificate, PLAIN); the password goes in on a pipe (--passwordfd)."""
    rd, wr = os.pipe()
    os.write(wr, password.encode() + b"\n")
    os.close(wr)
    try:
        return subprocess.run(
            ["sieve-connect", "-s", "127.0.0.1", "-p", str(tern.ports["sieve"]),
             "-u", "alice@example.test", "--passwordfd", str(rd), "--notlsverify",
             "--authmech", "PLAIN"] + list(args),
            capture_output=True, text=True, timeout=60, pass_fds=(rd,))
    finally:
        os.close(rd)


@pytest.mark.skipif(shutil.which("sieve-connect") is None, reason="sieve-connect is not installed")
def test_sieve_connect_and_delivery(tern, tmp_path):
    local = tmp_path / "filter.sieve"
    local.write_bytes(FILTER)
    r = sieve_connect(tern, "--upload", "--localsieve", str(local), "--remotesieve", "sorter")
    assert r.returncode == 0, r.stdout + r.stderr
    r = sieve_connect(tern, "--list")
    assert r.returncode == 0 and r.stdout.split() == ['"sorter"'], r.stdout + r.stderr
    r = sieve_connect(tern, "--activate", "--remotesieve", "sorter")
    assert r.returncode == 0, r.stdout + r.stderr
    r = sieve_connect(tern, "--list")
    assert "sorter" in r.stdout and "ACTIVE" in r.stdout, r.stdout
    back = tmp_path / "back.sieve"
    r = sieve_connect(tern, "--download", "--remotesieve", "sorter", "--localsieve", str(back))
    assert r.returncode == 0 and back.read_bytes() == FILTER, r.stdout + r.stderr
    # a delivery: the uploaded active script files the message into Sorted
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as s:
        s.sendmail("x@example.org", ["alice@example.test"],
                   b"From: x@example.org\r\nSubject: ms-test 1\r\n\r\nsorted\r\n")
        s.sendmail("x@example.org", ["alice@example.test"],
                   b"From: x@example.org\r\nSubject: other\r\n\r\ninbox\r\n")
    sorted_new = os.path.join(tern.maildir("alice@example.test"), ".Sorted", "new")
    deadline = time.time() + 20
    while time.time() < deadline and not (os.path.isdir(sorted_new) and os.listdir(sorted_new)):
        time.sleep(0.1)
    files = os.listdir(sorted_new)
    assert len(files) == 1
    assert b"Subject: ms-test 1" in open(os.path.join(sorted_new, files[0]), "rb").read()
    inbox = tern.wait_messages("alice@example.test", 1)
    assert len(inbox) == 1 and b"Subject: other" in open(inbox[0], "rb").read()
    # the active script cannot be deleted; once deactivated it can
    r = sieve_connect(tern, "--delete", "--remotesieve", "sorter")
    assert r.returncode != 0
    r = sieve_connect(tern, "--deactivate")
    assert r.returncode == 0, r.stdout + r.stderr
    r = sieve_connect(tern, "--delete", "--remotesieve", "sorter")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sieve_connect(tern, "--list").stdout.split() == []
    assert os.listdir(sieve_dir(tern)) == []


@needs_root
def test_system_user(tern_factory, unix_user):
    """user_source = system: the pre-login worker (run_user, chrooted) hands the login to
    the auth process, which starts `tern managesieve --inetd -u USER` as the user; the
    scripts are ~/sieve/NAME.sieve and the ~/.dovecot.sieve link, the user's own files,
    and a delivery runs the uploaded one."""
    u = unix_user()
    tern = tern_factory({"user_source": "system", "system_mailbox": "maildir:~/Maildir"})
    c, cap = connect(tern)
    assert cap["SASL"].split() == ["PLAIN", "LOGIN"]  # shadow holds no SCRAM secrets
    t0 = time.time()
    ir = base64.b64encode(b"\0" + u.name.encode() + b"\0wrong").decode()
    assert c.cmd('AUTHENTICATE "PLAIN" "%s"' % ir)[1] == b'NO "authentication failed"'
    assert time.time() - t0 >= 0.5
    assert c.login(u.name, u.password) == b'OK "Logged in"'
    assert c.cmd(b'PUTSCRIPT "sys" {%d+}\r\n%s' % (len(FILTER), FILTER))[1] == b"OK"
    assert c.cmd('SETACTIVE "sys"')[1] == b"OK"
    assert c.cmd("LISTSCRIPTS")[0] == [b'"sys" ACTIVE']
    caps_after = caps(c.cmd("CAPABILITY")[0])
    assert caps_after["OWNER"] == u.name or caps_after["OWNER"].startswith(u.name + "@")
    assert "UNAUTHENTICATE" not in caps_after  # the session process is the user's
    script = os.path.join(u.home, "sieve", "sys.sieve")
    link = os.path.join(u.home, ".dovecot.sieve")
    assert open(script, "rb").read() == FILTER
    assert os.readlink(link) == "sieve/sys.sieve"
    assert os.stat(script).st_uid == u.uid and os.lstat(link).st_uid == u.uid
    # the session is a process of the user's
    sessions = []
    for p in os.listdir("/proc"):
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if b"managesieve" in cmd and b"--inetd" in cmd and u.name.encode() in cmd:
            sessions.append(int(p))
    assert len(sessions) == 1
    assert status_uids(sessions[0]) == [u.uid] * 4
    assert c.cmd("LOGOUT")[1].startswith(b"OK")
    c.close()
    c, _ = connect(tern)
    c.login(u.name, u.password)
    assert c.cmd("UNAUTHENTICATE")[1].startswith(b"BYE")
    assert c.f.read() == b""
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as s:
        s.sendmail("x@example.org", [u.address(tern.domain)],
                   b"From: x@example.org\r\nSubject: ms-test sys\r\n\r\nsorted\r\n")
    sorted_new = os.path.join(u.home, "Maildir", ".Sorted", "new")
    assert wait_for(lambda: os.path.isdir(sorted_new) and len(os.listdir(sorted_new)) == 1)
    # the pre-login worker is chrooted into DATA/login, as run_user
    roles = check_worker_uids(tern)
    assert "sieve" in roles


def _sievelib():
    try:
        import sievelib.managesieve
        return sievelib.managesieve
    except ImportError:
        return None


@pytest.mark.skipif(_sievelib() is None, reason="python3-sievelib is not installed")
def test_sievelib_client(tern):
    """A second real client: Debian's python3-sievelib (the library of modoboa and other
    web front-ends), over STARTTLS with PLAIN, through every script command it has."""
    ms = _sievelib()
    cl = ms.Client("127.0.0.1", tern.ports["sieve"])
    assert cl.connect("alice@example.test", "alice-pw", starttls=True, authmech="PLAIN")
    assert "fileinto" in cl.get_sieve_capabilities()
    assert cl.get_implementation().startswith("Tern")
    text = FILTER.decode()
    assert cl.havespace("lib", len(text))
    assert cl.checkscript(text)
    assert not cl.checkscript('require "nope";\r\n')
    assert cl.putscript("lib", text)
    assert not cl.putscript("bad", "if true {")
    assert cl.setactive("lib")
    active, others = cl.listscripts()
    assert active == "lib" and others == []
    # (sievelib gives the script back without its last line end)
    assert cl.getscript("lib").replace("\r\n", "\n") == text.replace("\r\n", "\n").rstrip()
    assert cl.renamescript("lib", "lib2")
    assert cl.listscripts() == ("lib2", [])
    assert not cl.deletescript("lib2")  # the active one
    assert cl.setactive("")
    assert cl.deletescript("lib2")
    assert cl.listscripts() == (None, [])
    cl.logout()
