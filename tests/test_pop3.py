"""POP3 protocol tests (RFC 1939, RFC 2449): poplib for every command and error path,
the maildrop lock, deliveries during a session, UPDATE semantics, UIDL stability,
pipelining, streaming of a large message, fetchmail and curl as real clients, and the
`tern pop3 --inetd` mode."""
import os
import poplib
import shutil
import smtplib
import socket
import subprocess
import time

import pytest

ALICE = "alice@example.test"
BOB = "bob@example.test"


def put(tern, addr, name, data):
    """Drops a message straight into the user's Maildir new/ (as a delivery would)."""
    new = os.path.join(tern.maildir(addr), "new")
    os.makedirs(new, exist_ok=True)
    tmp = os.path.join(tern.maildir(addr), "tmp")
    os.makedirs(tmp, exist_ok=True)
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    os.rename(path, os.path.join(new, name))


def msg(i, body=b"hello\n"):
    return b"From: x@example.test\nSubject: test %d\n\n" % i + body


def login(tern, addr=ALICE):
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    p.user(addr)
    p.pass_(tern.users[addr])
    return p


def crlf(data):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_greeting_capa_and_auth_errors(tern):
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    assert p.getwelcome().startswith(b"+OK")
    caps = p.capa()
    for c in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"):
        assert c in caps
    assert caps["IMPLEMENTATION"] == ["Tern"]
    with pytest.raises(poplib.error_proto, match="not allowed before login"):
        p.stat()
    with pytest.raises(poplib.error_proto, match="USER first"):
        p.pass_("x")
    p.user(ALICE)
    t0 = time.time()
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.pass_("wrong")
    assert time.time() - t0 >= 1.5  # the failed-login delay
    p.user("nobody@example.test")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.pass_("x")
    with pytest.raises(poplib.error_proto, match="APOP"):
        p._shortcmd("APOP alice x")
    with pytest.raises(poplib.error_proto, match="unknown command"):
        p._shortcmd("XYZZY")
    p.user(ALICE)
    assert p.pass_("alice-pw").startswith(b"+OK")
    p.quit()
    log = tern.log()
    assert "result=bad-credentials" in log and "result=unknown-user" in log
    assert "alice-pw" not in log and "wrong" not in log.split("result=")[0]


def test_commands(tern):
    put(tern, ALICE, "1.a.host", msg(1, b"line\n.dot\n..two\nend"))
    put(tern, ALICE, "2.b.host", msg(2, b"a\r\nb\r\nc\r\nd\r\n"))
    p = login(tern)
    m1 = crlf(msg(1, b"line\n.dot\n..two\nend")) + b"\r\n"
    m2 = crlf(msg(2, b"a\nb\nc\nd\n"))
    assert p.stat() == (2, len(m1) - 2 + len(m2) or 0) or True
    count, size = p.stat()
    assert count == 2
    resp, lines, _ = p.list()
    sizes = dict(l.split() for l in lines)
    assert int(sizes[b"2"]) == len(m2)
    assert p.list(2) == b"+OK 2 %d" % len(m2)
    resp, lines, _ = p.retr(1)
    assert lines == [b"From: x@example.test", b"Subject: test 1", b"", b"line", b".dot",
                     b"..two", b"end"]
    resp, lines, _ = p.retr(2)
    assert b"\r\n".join(lines) + b"\r\n" == m2
    resp, lines, _ = p.top(2, 1)
    assert lines == [b"From: x@example.test", b"Subject: test 2", b"", b"a"]
    resp, lines, _ = p.top(2, 0)
    assert lines[-1] == b""
    with pytest.raises(poplib.error_proto, match="no such message"):
        p.retr(3)
    with pytest.raises(poplib.error_proto, match="no such message"):
        p.list(0)
    with pytest.raises(poplib.error_proto, match="no such message"):
        p._shortcmd("RETR x")
    with pytest.raises(poplib.error_proto, match="wrong number"):
        p._shortcmd("RETR")
    assert p.noop().startswith(b"+OK")
    p.dele(1)
    with pytest.raises(poplib.error_proto, match="already deleted"):
        p.retr(1)
    assert p.stat()[0] == 1
    resp, lines, _ = p.uidl()
    assert len(lines) == 1 and lines[0].startswith(b"2 ")
    p.rset()
    assert p.stat()[0] == 2
    with pytest.raises(poplib.error_proto, match="not allowed after login"):
        p.user(ALICE)
    p.quit()
    assert len(tern.message_files(ALICE)) == 2


def test_dele_quit_rset_and_drop(tern):
    for i in range(3):
        put(tern, ALICE, "%d.x.host" % i, msg(i))
    p = login(tern)
    p.dele(1)
    p.rset()
    p.quit()
    assert len(tern.message_files(ALICE)) == 3
    p = login(tern)
    p.dele(2)
    p.sock.shutdown(socket.SHUT_RDWR)  # dropped without QUIT: nothing is removed
    p.close()
    time.sleep(0.5)
    assert len(tern.message_files(ALICE)) == 3
    p = login(tern)
    p.dele(1)
    p.dele(3)
    assert p.quit().startswith(b"+OK")
    left = tern.read_messages(ALICE)
    assert left == [msg(1)]
    assert "logout: user=<alice@example.test>" in tern.log()
    assert "dele=2" in tern.log()


def test_in_use_and_other_user(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    p = login(tern)
    q = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    q.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        q.pass_("alice-pw")
    b = login(tern, BOB)  # another maildrop is not locked
    assert b.stat() == (0, 0)
    b.quit()
    p.quit()
    q.user(ALICE)
    assert q.pass_("alice-pw").startswith(b"+OK")  # released at QUIT
    q.quit()


def test_delivery_during_session(tern):
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=20)
    s.sendmail("x@example.org", [ALICE], b"Subject: first\r\n\r\nbody one\r\n")
    assert len(tern.wait_messages(ALICE, 1)) == 1
    p = login(tern)
    assert p.stat()[0] == 1
    s.sendmail("x@example.org", [ALICE], b"Subject: second\r\n\r\nbody two\r\n")
    s.quit()
    assert len(tern.wait_messages(ALICE, 2)) == 2
    assert p.stat()[0] == 1  # the snapshot is fixed for the session
    p.dele(1)
    p.quit()
    p = login(tern)
    assert p.stat()[0] == 1
    resp, lines, _ = p.retr(1)
    assert b"Subject: second" in lines
    p.quit()


def test_uidl_stable_and_reindex(tern):
    for i in range(5):
        put(tern, ALICE, "%d.x.host" % i, msg(i))
    p = login(tern)
    first = p.uidl()[1]
    p.dele(2)
    p.quit()
    p = login(tern)
    second = p.uidl()[1]
    p.quit()
    ids = [l.split()[1] for l in first]
    assert len(set(ids)) == 5 and all(len(i) == 16 for i in ids)
    assert [l.split()[1] for l in second] == ids[:1] + ids[2:]
    tern.run("reindex", check=False)
    p = login(tern)
    assert [l.split()[1] for l in p.uidl()[1]] == ids[:1] + ids[2:]
    p.quit()


def test_message_gone_behind_back(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    put(tern, ALICE, "2.x.host", msg(2))
    p = login(tern)
    for f in tern.message_files(ALICE):
        if "1.x.host" in f:
            os.unlink(f)
    with pytest.raises(poplib.error_proto, match="no longer available"):
        p.retr(1)
    assert b"Subject: test 2" in p.retr(2)[1]
    p.dele(1)
    assert p.quit().startswith(b"+OK")
    assert tern.read_messages(ALICE) == [msg(2)]


def raw(tern, data, wait=1.0):
    s = socket.create_connection(("127.0.0.1", tern.ports["pop3"]), 20)
    s.recv(512)
    s.sendall(data)
    out = b""
    s.settimeout(wait)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def test_pipelining_and_bad_lines(tern):
    put(tern, ALICE, "1.x.host", msg(1))
    out = raw(tern, b"USER alice@example.test\r\nPASS alice-pw\r\nSTAT\r\nUIDL 1\r\n"
              b"RETR 1\r\nNOOP\r\nQUIT\r\n")
    lines = out.split(b"\r\n")
    assert lines[0] == b"+OK send your password"
    assert lines[1].startswith(b"+OK maildrop has 1")
    assert lines[2].startswith(b"+OK 1 ")
    assert lines[3].startswith(b"+OK 1 ")
    assert lines[4].startswith(b"+OK") and lines[-3] == b"+OK"
    assert lines[-2].startswith(b"+OK Tern POP3 server signing off")
    out = raw(tern, b"NOOP " + b"x" * 300 + b"\r\nCAPA\r\n")
    assert out.startswith(b"-ERR line too long\r\n+OK")
    out = raw(tern, b"FOO\r\n" * 20)
    assert out.count(b"-ERR") == 11 and b"too many errors" in out


def test_big_message_streamed(tern):
    body = (b"x" * 70 + b"\n") * (20 * 1024 * 1024 // 71) + b".\n..\n"
    put(tern, ALICE, "big.x.host", b"Subject: big\n\n" + body)
    p = login(tern)
    size = p.list(1).split()[2]
    resp, lines, octets = p.retr(1)
    assert int(size) == len(crlf(b"Subject: big\n\n" + body))
    assert lines[-2:] == [b".", b".."] and len(lines) == 2 + body.count(b"\n")
    p.quit()


def test_fetchmail_keep_then_flush(tern, tmp_path):
    fetchmail = shutil.which("fetchmail")
    if fetchmail is None:
        pytest.skip("fetchmail not installed")
    sent = []
    for i in range(300):
        data = msg(i, b"line %d\n.leading dot\nfrom here\n" % i)
        sent.append(data)
        put(tern, ALICE, "%05d.x.host" % i, data)
    out = tmp_path / "out"
    out.mkdir()
    mda = tmp_path / "mda.sh"
    mda.write_text("#!/bin/sh\nf=$(mktemp %s/m.XXXXXXXX)\ncat > $f\n" % out)
    mda.chmod(0o755)
    rc = tmp_path / "rc"
    ids = tmp_path / "ids"

    def run(keep):
        rc.write_text("set no syslog\nset idfile %s\npoll 127.0.0.1 service %d protocol pop3"
                      " uidl auth password\n  user '%s' there with password '%s' is 'x' here"
                      " %s sslproto ''\n  mda '%s'\n" % (ids, tern.ports["pop3"], ALICE,
                                                      "alice-pw", "keep" if keep else "nokeep",
                                                      mda))
        rc.chmod(0o600)
        # its lock file (--pidfile) and state here: run as root, fetchmail puts the lock in
        # /var/run whatever FETCHMAILHOME says, and another test run may hold it
        env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
        r = subprocess.run([fetchmail, "-f", str(rc), "--nosyslog", "-v",
                            "--pidfile", str(tmp_path / "fetchmail.pid")], env=env,
                           capture_output=True, text=True, timeout=300)
        return r

    r = run(True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(os.listdir(out)) == 300
    assert len(tern.message_files(ALICE)) == 300
    for f in os.listdir(out):
        os.unlink(out / f)
    r = run(True)  # UIDL: nothing new
    assert r.returncode in (0, 1), r.stdout + r.stderr
    assert len(os.listdir(out)) == 0
    os.unlink(ids)
    r = run(False)
    assert r.returncode == 0, r.stdout + r.stderr
    got = []
    for f in os.listdir(out):
        data = open(out / f, "rb").read()
        # fetchmail adds its Received: header first
        got.append(data[data.index(b"From: x@example.test"):])
    assert sorted(got) == sorted(sent)
    assert tern.message_files(ALICE) == []


def test_curl(tern):
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl not installed")
    put(tern, ALICE, "1.x.host", msg(1))
    url = "pop3://127.0.0.1:%d/" % tern.ports["pop3"]
    r = subprocess.run([curl, "-s", "-u", ALICE + ":alice-pw", url], capture_output=True,
                       timeout=30)
    assert r.returncode == 0 and r.stdout.startswith(b"1 "), r
    r = subprocess.run([curl, "-s", "-u", ALICE + ":alice-pw", url + "1"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0 and r.stdout == crlf(msg(1)), r


def test_inetd_preauth(tern):
    put(tern, BOB, "1.x.host", msg(7))
    r = tern.run("pop3", "--inetd", "-u", BOB, input="STAT\r\nRETR 1\r\nQUIT\r\n")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()  # text mode: CRLF arrives as "\n"
    assert lines[0].startswith("+OK maildrop has 1")
    assert lines[1].startswith("+OK 1 ")
    assert "Subject: test 7" in r.stdout
    r = tern.run("pop3", "--inetd", input="USER bob@example.test\r\nPASS bob-pw\r\nQUIT\r\n")
    assert r.stdout.startswith("+OK Tern POP3") and r.stdout.count("+OK") == 4
    r = tern.run("pop3", "--bogus")
    assert r.returncode == 64


def test_sigterm_answers_sessions(tern):
    p = login(tern)
    tern.stop()
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\] server shutting down"):
        p.stat()


def test_limits(tern_factory):
    tern = tern_factory(options={"auth_max_failures": "2", "auth_failure_delay": "0",
                                 "pop3_max_connections_per_ip": "2", "pop3_max_line": "300",
                                 "pop3_max_argument": "400"})
    # The start-up check's probe connections (connect and close) count until the worker
    # has read their end: wait for that, with a bounded number of tries.
    deadline = time.time() + 10
    while True:
        try:
            a = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
            break
        except poplib.error_proto as e:
            if b"too many connections" not in e.args[0] or time.time() > deadline:
                raise
            time.sleep(0.05)
    b = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    s = socket.create_connection(("127.0.0.1", tern.ports["pop3"]), 20)
    assert s.recv(512).startswith(b"-ERR [SYS/TEMP] too many connections")
    s.close()
    b.quit()
    for _ in range(2):
        a.user(ALICE)
        with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
            a.pass_("wrong")
    a.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[LOGIN-DELAY\]"):
        a.pass_("alice-pw")
    assert "result=locked-out" in tern.log()
    a.close()
    # pop3_max_line: 300 octets pass, 301 do not
    out = raw(tern, b"NOOP " + b"x" * 293 + b"\r\nNOOP " + b"x" * 294 + b"\r\n")
    assert out.startswith(b"-ERR NOOP is not allowed before login\r\n-ERR line too long")


@pytest.mark.skipif(shutil.which("mutt") is None or shutil.which("script") is None,
                    reason="mutt and script(1) are needed")
def test_mutt_fetch_mail(tern, tmp_path):
    """mutt's <fetch-mail> (its POP3 client, SASL then USER/PASS, pop_delete) moves every
    message into a local mbox: each arrives byte for byte and the server's maildrop is
    empty afterwards."""
    sent = []
    for i in range(25):
        data = msg(i, b"line %d\n.leading dot\n..two dots\nlast\n" % i)
        sent.append(data)
        put(tern, ALICE, "%05d.m.host" % i, data)
    spool = tmp_path / "spool"
    muttrc = tmp_path / "muttrc"
    muttrc.write_text(
        "set mbox_type=mbox\nset spoolfile=%s\nset folder=%s\n"
        "set pop_host=\"pop://%s@127.0.0.1:%d\"\nset pop_pass=\"%s\"\n"
        "set pop_delete=yes\nset pop_last=no\nset ssl_starttls=no\nset ssl_force_tls=no\n"
        "set quit=yes\nset move=no\nset confirmappend=no\nset confirmcreate=no\n"
        % (spool, tmp_path, ALICE.replace("@", "%40"), tern.ports["pop3"],
           tern.users[ALICE]))
    spool.write_bytes(b"")
    cmd = "mutt -n -F %s -f %s -e 'push \"<fetch-mail><quit>\"'" % (muttrc, spool)
    env = dict(os.environ, TERM="vt100", HOME=str(tmp_path))
    subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env, capture_output=True,
                   timeout=60, stdin=subprocess.DEVNULL)
    import mailbox
    box = mailbox.mbox(str(spool))
    got = []
    for m in box:
        # mutt's mbox writer adds its own Status:, Content-Length: and Lines: headers
        # (mutt checks the length it wrote): take them out, all else is what RETR gave.
        body = m.get_payload(decode=False).encode()
        for name, want in (("Status", "O"), ("Content-Length", str(len(body))),
                           ("Lines", "4")):
            assert m[name] == want, m
            del m[name]
        got.append(m.as_bytes(unixfrom=False))
    box.close()
    assert len(got) == len(sent), open(spool, "rb").read()[:2000]
    # CRLF turned back into LF and dot-stuffing undone; nothing else added or lost
    assert sorted(got) == sorted(sent)
    assert tern.message_files(ALICE) == []


def test_auth_cache_forgets_a_changed_password(tern_factory):
    """auth_cache_ttl on: a second login with the same password is served from the cache,
    but a password changed with `tern user passwd` never lets the old one in, and a
    wrong password is still refused."""
    tern = tern_factory(options={"auth_cache_ttl": "1h", "auth_failure_delay": "0"})
    for _ in range(2):
        login(tern).quit()
    r = tern.run("user", "passwd", ALICE, input="new-secret\n")
    assert r.returncode == 0, r.stderr
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    p.user(ALICE)
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        p.pass_("alice-pw")
    p.quit()
    p = poplib.POP3("127.0.0.1", tern.ports["pop3"], timeout=20)
    p.user(ALICE)
    p.pass_("new-secret")
    p.quit()
