"""Local submission (doc/system-users.md, src/smtpd/smtpd-local.c): an ordinary Unix user,
who may not write the queue, sends mail with `tern sendmail` and with mail(1) (bsd-mailx)
through the socket DATA/run/submit, where the server learns the uid from the kernel.
The message arrives byte for byte; the envelope sender is the user's own address and -f
cannot change it (the server refuses another sender itself: 553 5.7.1); mail for another
domain is accepted and queued as Postfix's sendmail does; with the server stopped the
command exits 75 and nothing is half-sent; root still writes the queue directly; the
session limits of SMTP and the per-uid cap apply; -bs works over the socket too."""
import os
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import TERN, free_port, read_queued, remove_queued
from sysaccounts import needs_root, unix_user, wait_for  # noqa: F401

pytestmark = needs_root

BODY = ("plain line\n"
        ".a line with a leading dot\n"
        "..two dots\n"
        ".\n"
        "trailing space \n"
        "caf\u00e9 \u2013 8-bit\n"
        + "x" * 3000 + "\n"
        "\n"
        "last line\n")


def instance(tern_factory, **options):
    opts = {"user_source": "system", "system_mailbox": "maildir:~/Maildir"}
    opts.update(options)
    tern = tern_factory(options=opts, start=False)
    # tern init makes the instance and DATA searchable by all, so that users can read
    # tern.conf and reach the socket, with nothing in them listable
    inst = os.path.dirname(tern.conf)
    for d in (inst, os.path.join(inst, "data")):
        assert os.stat(d).st_mode & 0o777 == 0o751, d
    tern.start()
    sock = os.path.join(inst, "data", "run", "submit")
    assert wait_for(lambda: os.path.exists(sock)), tern.log()
    assert os.stat(sock).st_mode & 0o777 == 0o666
    return tern


def as_user(user, args, tern, input=None, env=None):
    e = dict(os.environ, TERN_CONF=tern.conf, HOME=user.home, USER=user.name,
             LOGNAME=user.name)
    e.update(env or {})
    return subprocess.run(["setpriv", "--reuid", str(user.uid), "--regid", str(user.gid),
                           "--init-groups"] + args, input=input, capture_output=True,
                          env=e, cwd="/", timeout=60)


def inbox(user):
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(user.home, "Maildir", sub)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    return [open(f, "rb").read() for f in out]


def wait_inbox(user, n, timeout=15):
    wait_for(lambda: len(inbox(user)) >= n, timeout)
    return inbox(user)


def queue_files(tern):
    """The queue IDs with a file in the queue (queued, env/, or being written, msg/)."""
    q = os.path.join(os.path.dirname(tern.conf), "queue")
    return sorted({f for sub in ("env", "msg") if os.path.isdir(os.path.join(q, sub))
                   for f in os.listdir(os.path.join(q, sub))})


def test_sendmail_t_as_an_ordinary_user(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    dom = tern.domain
    header = ("To: %s\nSubject: from a user\nX-Check: 1\n" % b.address(dom))
    msg = (header + "\n" + BODY).encode()
    r = as_user(a, [TERN, "sendmail", "-t", "-i"], tern, input=msg)
    assert r.returncode == 0, r.stderr
    got = wait_inbox(b, 1)
    assert len(got) == 1, tern.log()
    m = got[0]
    head, body = m.split(b"\n\n", 1)
    assert body == BODY.encode(), body
    # the user's header, as written, then the fields sendmail adds
    assert header.encode() in head + b"\n"
    assert b"\nFrom: %s@%s\n" % (a.name.encode(), dom.encode()) in head + b"\n"
    assert b"\nDate: " in head and b"\nMessage-ID: <" in head
    assert m.startswith(b"Return-Path: <%s>\n" % a.address(dom).encode()), m[:300]
    # the trace field of a local submission: the uid as the kernel told the server
    assert b"(Tern sendmail, from userid %d)" % a.uid in head
    assert head.count(b"Received:") == 1
    assert "client=local uid=%d" % a.uid in tern.log()


def test_mail_command_as_an_ordinary_user(tern_factory, unix_user):
    mail = shutil.which("bsd-mailx") or shutil.which("mail")
    if mail is None:
        pytest.skip("bsd-mailx is not installed")
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    # mail(1) runs "sendmail": the tern binary under that name
    bindir = os.path.join(tern.dir, "bin")
    os.mkdir(bindir)
    os.symlink(TERN, os.path.join(bindir, "sendmail"))
    rc = a.write_home_file(".mailrc", "set sendmail=%s/sendmail\n" % bindir)
    r = as_user(a, [mail, "-s", "by mail(1)", b.name], tern, input=BODY.encode(),
                env={"MAILRC": rc})
    assert r.returncode == 0, r.stderr
    got = wait_inbox(b, 1)
    assert len(got) == 1, tern.log()
    head, body = got[0].split(b"\n\n", 1)
    assert body == BODY.encode(), body
    assert b"\nSubject: by mail(1)\n" in head
    assert got[0].startswith(b"Return-Path: <%s>\n" % a.address(tern.domain).encode())


def test_mutt_as_an_ordinary_user(tern_factory, unix_user):
    mutt = shutil.which("mutt")
    if mutt is None:
        pytest.skip("mutt is not installed")
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    bindir = os.path.join(tern.dir, "bin")
    os.mkdir(bindir)
    os.symlink(TERN, os.path.join(bindir, "sendmail"))
    # batch mode: mutt runs "sendmail -oem -oi -- RCPT" with the message it made
    r = as_user(a, [mutt, "-n", "-F", "/dev/null", "-e", "set sendmail=%s/sendmail" % bindir,
                    "-s", "by mutt", "--", b.address(tern.domain)], tern,
                input=b"written in mutt\n")
    assert r.returncode == 0, r.stderr
    got = wait_inbox(b, 1)
    assert len(got) == 1, tern.log()
    assert b"\nSubject: by mutt\n" in got[0] and got[0].endswith(b"\n\nwritten in mutt\n")
    assert got[0].startswith(b"Return-Path: <%s>\n" % a.address(tern.domain).encode())


def test_sender_cannot_be_forged(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    dom = tern.domain
    boss = "boss@" + dom
    r = as_user(a, [TERN, "sendmail", "-f", boss, b.name], tern,
                input=b"Subject: forged?\n\nhi\n")
    assert r.returncode == 0, r.stderr
    assert b"-f " + boss.encode() + b" ignored" in r.stderr
    got = wait_inbox(b, 1)
    assert got and got[0].startswith(b"Return-Path: <%s>\n" % a.address(dom).encode()), got
    # the null sender (vacation(1), RFC 3834) is anyone's
    r = as_user(a, [TERN, "sendmail", "-f", "<>", b.name], tern, input=b"Subject: auto\n\nx\n")
    assert r.returncode == 0, r.stderr
    got = wait_inbox(b, 2)
    assert len(got) == 2 and any(m.startswith(b"Return-Path: <>\n") for m in got), got
    # the server's own rule, whatever the client: a raw session on the socket
    sock = os.path.join(os.path.dirname(tern.conf), "data", "run", "submit")
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f=s.makefile('rwb')\n"
        "def cmd(c):\n"
        "    f.write(c.encode()+b'\\r\\n'); f.flush()\n"
        "    while True:\n"
        "        l=f.readline()\n"
        "        if l[3:4]!=b'-': return l.decode().strip()\n"
        "print(f.readline().decode().strip())\n"
        "print(cmd('EHLO x'))\n"
        "print(cmd('MAIL FROM:<%s>'))\n"
        "print(cmd('MAIL FROM:<%s>'))\n"
        "print(cmd('QUIT'))\n" % (boss, a.address(dom).upper()))
    r = as_user(a, ["/usr/bin/python3", "-c", script, sock], tern)
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith("220 "), r.stdout
    assert lines[2].startswith("553 5.7.1"), lines
    assert lines[3].startswith("250 "), lines  # its own address (case does not matter)


def test_trusted_user_may_set_the_sender(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory, sendmail_trusted_users=a.name)
    r = as_user(a, [TERN, "sendmail", "-f", "lists@example.org", b.name], tern,
                input=b"Subject: list\n\nfrom a list\n")
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    got = wait_inbox(b, 1)
    assert got and got[0].startswith(b"Return-Path: <lists@example.org>\n"), got


def test_relay_from_a_local_user_is_queued(tern_factory, unix_user):
    a = unix_user()
    # the next hop refuses connections: the message stays in the queue, deferred
    tern = instance(tern_factory, relayhost="[127.0.0.1]:%d" % free_port())
    r = as_user(a, [TERN, "sendmail", "someone@remote.example"], tern,
                input=b"Subject: out\n\nto the world\n")
    assert r.returncode == 0, r.stderr
    assert wait_for(lambda: "someone@remote.example" in tern.run("queue", "list").stdout)
    # the envelope records who sent it, as a direct submission does (doc/queue-format.md)
    envdir = os.path.join(os.path.dirname(tern.conf), "queue", "env")
    env = [read_queued(os.path.dirname(envdir), f)[0] for f in os.listdir(envdir)]
    env = [e for e in env if "R someone@remote.example" in e]
    assert len(env) == 1, env
    assert "\nF %s\n" % a.address(tern.domain) in env[0], env[0]
    assert "\nA uid %d\n" % a.uid in env[0] and "\nA origin sendmail\n" in env[0], env[0]
    assert wait_for(lambda: "to=<someone@remote.example>" in tern.log()
                    and "status=deferred" in tern.log()), tern.log()


def test_server_stopped_exit_75_and_nothing_lost(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    tern.stop()
    before = queue_files(tern)
    r = as_user(a, [TERN, "sendmail", b.name], tern, input=b"Subject: later\n\nwait\n")
    assert r.returncode == 75, (r.returncode, r.stderr)
    assert b"not sent" in r.stderr and b"try again later" in r.stderr, r.stderr
    assert queue_files(tern) == before
    # mail(1) sees the failure and keeps the message in ~/dead.letter
    mail = shutil.which("bsd-mailx")
    if mail is not None:
        bindir = os.path.join(tern.dir, "bin")
        os.mkdir(bindir)
        os.symlink(TERN, os.path.join(bindir, "sendmail"))
        rc = a.write_home_file(".mailrc", "set sendmail=%s/sendmail\n" % bindir)
        r = as_user(a, [mail, "-s", "kept", b.name], tern, input=b"keep me safe\n",
                    env={"MAILRC": rc})
        assert b"error code 75" in r.stderr, r.stderr
        dead = os.path.join(a.home, "dead.letter")
        assert wait_for(lambda: os.path.exists(dead) and b"keep me safe" in open(dead, "rb").read())
        # all of it: sendmail leaves a file given as its input where it found it
        assert b"Subject: kept\n" in open(dead, "rb").read()
        assert queue_files(tern) == before
    # root writes the queue directly, server or not: delivered once it runs again
    r = tern.run("sendmail", b.name, input="Subject: by root\n\nqueued while down\n")
    assert r.returncode == 0, r.stderr
    assert len(queue_files(tern)) == len(before) + 1
    tern.start()
    got = wait_inbox(b, 1)
    assert len(got) == 1 and b"queued while down" in got[0], tern.log()
    assert b"(Tern sendmail, from userid 0)" in got[0]
    # and the user's send works again, now that the server is back
    r = as_user(a, [TERN, "sendmail", b.name], tern, input=b"Subject: again\n\nnow\n")
    assert r.returncode == 0, r.stderr
    assert len(wait_inbox(b, 2)) == 2


def test_limits_apply_to_local_sessions(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory, smtp_max_message_size="20k", local_submit_max_per_user="1")
    before = queue_files(tern)
    big = b"Subject: big\n\n" + (b"y" * 99 + b"\n") * 300
    r = as_user(a, [TERN, "sendmail", b.name], tern, input=big)
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert b"larger than" in r.stderr
    # a second session of the same uid while one is open: 421
    sock = os.path.join(os.path.dirname(tern.conf), "data", "run", "submit")
    script = ("import socket,sys\n"
              "s1=socket.socket(socket.AF_UNIX); s1.connect(sys.argv[1])\n"
              "print(s1.makefile('rb').readline().decode().strip())\n"
              "s2=socket.socket(socket.AF_UNIX); s2.connect(sys.argv[1])\n"
              "print(s2.makefile('rb').readline().decode().strip())\n")
    r = as_user(a, ["/usr/bin/python3", "-c", script, sock], tern)
    lines = r.stdout.decode().splitlines()
    assert lines[0].startswith("220 ") and lines[1].startswith("421 4.7.0"), (lines, r.stderr)
    time.sleep(0.3)
    assert queue_files(tern) == before


def test_bs_over_the_socket(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    dom = tern.domain
    session = ("EHLO me\r\nMAIL FROM:<root@%s>\r\nMAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n"
               "DATA\r\nSubject: bs\r\n\r\n..dot\r\n.\r\nQUIT\r\n"
               % (dom, a.address(dom), b.address(dom)))
    r = as_user(a, [TERN, "sendmail", "-bs"], tern, input=session.encode())
    assert r.returncode == 0, r.stderr
    codes = [l[:3] for l in r.stdout.decode().splitlines() if l[3:4] == " "]
    assert codes == ["220", "250", "553", "250", "250", "354", "250", "221"], r.stdout
    got = wait_inbox(b, 1)
    assert len(got) == 1 and got[0].endswith(b"\n\n.dot\n"), got
    assert got[0].startswith(b"Return-Path: <%s>\n" % a.address(dom).encode())


def test_virtual_mode_user_sends_to_a_virtual_user(tern_factory, unix_user):
    a = unix_user()
    tern = tern_factory(start=False)
    tern.start()
    r = as_user(a, [TERN, "sendmail", "-t"], tern,
                input=b"To: alice@example.test\nSubject: v\n\nto a virtual user\n")
    assert r.returncode == 0, r.stderr
    got = tern.wait_messages("alice@example.test", 1)
    assert len(got) == 1, tern.log()
    m = open(got[0], "rb").read()
    assert m.startswith(b"Return-Path: <%s@example.test>\n" % a.name.encode()), m[:200]
    assert m.endswith(b"\n\nto a virtual user\n")


def both_ways(tern, user, rcpt, msg):
    """Submits msg as an ordinary user (through the socket) and as root (writing the queue
    itself): the two results."""
    by_user = as_user(user, [TERN, "sendmail", rcpt.name], tern, input=msg)
    by_root = tern.run("sendmail", rcpt.name, input=msg)
    return by_user, by_root


def bodies(user, n):
    got = wait_inbox(user, n)
    assert len(got) == n, got
    return [m.split(b"\n\n", 1) for m in got]


def test_long_lines_are_broken_the_same_both_ways(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory, smtp_max_line_length="1k")
    body = (b"a" * 3000 + b"\n"          # broken twice
            + b"c" * 1024 + b"\r\n"       # exactly the limit (CRLF not counted): kept
            + b"d" * 1024 + b".\n"         # the rest is a lone dot: not the end
            + b"after\n"
            + b"e" * 1500)                 # the last line, without its LF
    msg = b"Subject: long\nX-Long: " + b"h" * 2500 + b"\n\n" + body
    for r in both_ways(tern, a, b, msg):
        assert r.returncode == 0, r.stderr
        assert b"4 lines longer than 1024 bytes (smtp_max_line_length) broken" in r.stderr, \
            r.stderr
    want_body = (b"a" * 1024 + b"\n" + b"a" * 1024 + b"\n" + b"a" * 952 + b"\n"
                 + b"c" * 1024 + b"\n"
                 + b"d" * 1024 + b"\n.\n"
                 + b"after\n"
                 + b"e" * 1024 + b"\n" + b"e" * 476 + b"\n")
    field = b"h" * 2500
    first = 1024 - len(b"X-Long: ")
    want_field = (b"X-Long: " + field[:first] + b"\n " + field[first:first + 1023] + b"\n "
                  + field[first + 1023:] + b"\n")
    got = bodies(b, 2)
    for head, gbody in got:
        assert gbody == want_body, gbody[:200]
        assert want_field in head + b"\n", head[:300]
        assert max(len(l) for l in (head + b"\n\n" + gbody).split(b"\n")) <= 1024
    # the server's limit still holds for SMTP clients: 552 after the data
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10) as s:
        s.ehlo("client.example")
        s.mail("x@client.example")
        s.rcpt(b.address(tern.domain))
        code, text = s.data(b"Subject: net\r\n\r\n" + b"z" * 1025 + b"\r\n")
        assert code == 552, (code, text)


def test_nul_follows_smtp_nul_both_ways(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    msg = b"Subject: nul\n\nbefore\x00after\nsecond line\n"
    before = queue_files(tern)
    for r in both_ways(tern, a, b, msg):
        # smtp_nul = reject (the default): refused, nothing queued or half sent
        assert r.returncode == 65, (r.returncode, r.stderr)
        assert b"NUL" in r.stderr and b"smtp_nul = reject" in r.stderr, r.stderr
    # (the server drops the transaction the socket client cut once it sees the close)
    assert wait_for(lambda: queue_files(tern) == before, 10), (queue_files(tern), before)
    time.sleep(0.3)
    assert inbox(b) == []
    # with smtp_nul = accept the bytes arrive as they were, both ways
    tern.stop()
    tern.set_option("smtp_nul", "accept")
    tern.start()
    for r in both_ways(tern, a, b, msg):
        assert r.returncode == 0, r.stderr
    for head, body in bodies(b, 2):
        assert body == b"before\x00after\nsecond line\n", body
        assert b"\nSubject: nul\n" in head


def test_bare_cr_and_crlf_kept_the_same_both_ways(tern_factory, unix_user):
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory)
    msg = b"Subject: cr\r\n\r\nline one\r\nbare\rcr\nlast\r\r\n"
    for r in both_ways(tern, a, b, msg):
        assert r.returncode == 0, r.stderr
    for head, body in bodies(b, 2):
        assert body == b"line one\nbare\rcr\nlast\r\n", body


def test_mail_command_long_line_as_an_ordinary_user(tern_factory, unix_user):
    mail = shutil.which("bsd-mailx")
    if mail is None:
        pytest.skip("bsd-mailx is not installed")
    a, b = unix_user(), unix_user()
    tern = instance(tern_factory, smtp_max_line_length="1k")
    bindir = os.path.join(tern.dir, "bin")
    os.mkdir(bindir)
    os.symlink(TERN, os.path.join(bindir, "sendmail"))
    rc = a.write_home_file(".mailrc", "set sendmail=%s/sendmail\n" % bindir)
    # a script's output with one very long line, piped to mail(1)
    text = b"start\n" + b"0123456789" * 300 + b"\nend\n"
    r = as_user(a, [mail, "-s", "report", b.name], tern, input=text, env={"MAILRC": rc})
    assert r.returncode == 0, r.stderr
    got = wait_inbox(b, 1)
    assert len(got) == 1, tern.log()
    body = got[0].split(b"\n\n", 1)[1]
    assert body.replace(b"\n", b"") == text.replace(b"\n", b"")
    assert [len(l) for l in body.split(b"\n")] == [5, 1024, 1024, 952, 3, 0], body[:100]
