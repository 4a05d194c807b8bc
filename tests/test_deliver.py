"""`tern deliver`, the local delivery agent, and `tern biff` / `tern comsat`.

Each test makes an instance (not started: tern deliver needs no server) and runs
`tern deliver` on messages: exit codes (sysexits), the header lines it adds, the mail-loop
refusal, procmail recipes of a virtual user (folders confined to the user's folder,
programs refused unless deliver_allow_commands), forwards into the queue with the original
envelope sender, a message bigger than the filter limit, the comsat datagram, and the
notice comsat writes on a pseudo-terminal only when biff is on.
"""
import os
import pty
import select
import socket
import subprocess
import time

import pytest

from conftest import TERN, tern_env, read_queued, remove_queued

USER = "alice@example.test"
MSG = b"From: Bob <bob@example.org>\nTo: alice@example.test\nSubject: hello\n\nline 1\nline 2\n"


@pytest.fixture
def inst(tern_factory):
    return tern_factory(start=False)


def deliver(inst, data, *args):
    return subprocess.run([TERN, "deliver"] + list(args), input=data, env=tern_env(inst.conf),
                          capture_output=True, timeout=60)


def give(inst, path):
    """Files the test makes belong to the instance's account, as tern deliver runs as it
    when started as root."""
    st = os.stat(os.path.join(inst.dir, "inst", "data"))
    for dp, dns, fns in os.walk(path):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            os.chown(n, st.st_uid, st.st_gid)


def userdir(inst):
    md = inst.maildir(USER)
    os.makedirs(md, exist_ok=True)
    give(inst, os.path.join(inst.dir, "inst", "data", "mail"))
    return md


def rc(inst, text):
    with open(os.path.join(userdir(inst), ".procmailrc"), "w") as f:
        f.write(text)
    give(inst, inst.maildir(USER))


def test_plain_delivery_adds_return_path_and_delivered_to(inst):
    r = deliver(inst, MSG, "-f", "bob@example.org", "-a", USER)
    assert r.returncode == 0, r.stderr
    (msg,) = inst.read_messages(USER)
    assert msg == b"Return-Path: <bob@example.org>\nDelivered-To: %s\n%s" % (USER.encode(), MSG)


def test_from_line_gives_the_sender(inst):
    r = deliver(inst, b"From carol@example.net  Thu Nov 26 07:00:00 2026\n" + MSG, "-d", USER)
    assert r.returncode == 0, r.stderr
    (msg,) = inst.read_messages(USER)
    assert msg.startswith(b"Return-Path: <carol@example.net>\nDelivered-To: alice@example.test\n")
    assert b"From carol" not in msg


def test_exit_codes(inst):
    assert deliver(inst, MSG).returncode == 64
    assert deliver(inst, MSG, "-x", "-a", USER).returncode == 64
    r = deliver(inst, MSG, "-a", "nobody@example.test")
    assert r.returncode == 67 and b"5.1.1" in r.stderr
    assert deliver(inst, b"", "-a", USER).returncode == 65
    r = deliver(inst, MSG, "-a", USER, "-c", "/nonexistent/tern.conf")
    assert r.returncode == 78
    assert inst.read_messages(USER) == []


def test_mail_loop_is_refused(inst):
    looped = b"Delivered-To: Alice@Example.test\n" + MSG
    r = deliver(inst, looped, "-f", "bob@example.org", "-a", USER)
    assert r.returncode == 65
    assert b"5.4.6" in r.stderr
    assert inst.read_messages(USER) == []
    # another recipient's Delivered-To is no loop
    assert deliver(inst, b"Delivered-To: bob@example.test\n" + MSG, "-a", USER).returncode == 0


def test_unwritable_folder_is_no_permission(inst):
    md = userdir(inst)
    if os.geteuid() == 0 and os.stat(md).st_uid == 0:
        pytest.skip("deliver runs as root here, and root writes anywhere")
    os.makedirs(os.path.join(md, "tmp"), exist_ok=True)
    give(inst, md)
    os.chmod(os.path.join(md, "tmp"), 0o500)
    try:
        r = deliver(inst, MSG, "-a", USER)
        assert r.returncode == 77, r.stderr
    finally:
        os.chmod(os.path.join(md, "tmp"), 0o700)
    assert inst.read_messages(USER) == []


def test_procmail_folders(inst):
    userdir(inst)
    rc(inst, ":0:\n* ^Subject:.*mbox\nbox\n:0\n* ^Subject:.*mh\nmh/.\n"
             ":0\n* ^Subject:.*md\nlists/\n")
    for subj in (b"to mbox", b"to mbox again", b"to mh", b"to md", b"other"):
        data = MSG.replace(b"hello", subj) + b"From the middle\n>From quoted\n"
        r = deliver(inst, data, "-f", "bob@example.org", "-a", USER)
        assert r.returncode == 0, r.stderr
    md = inst.maildir(USER)
    box = open(os.path.join(md, "box"), "rb").read()
    assert box.count(b"\nFrom bob@example.org  ") == 1 and box.startswith(b"From bob@example.org  ")
    assert b"\n>From the middle\n>>From quoted\n\n" in box  # mboxrd, empty line at the end
    assert not os.path.exists(os.path.join(md, "box.lock"))
    assert os.listdir(os.path.join(md, "mh")) == ["1"]
    mh = open(os.path.join(md, "mh", "1"), "rb").read()
    assert mh.startswith(b"Return-Path: <bob@example.org>\n")
    assert len(os.listdir(os.path.join(md, "lists", "new"))) == 1
    assert len(inst.read_messages(USER)) == 1  # "other" went to the INBOX (DEFAULT)


def test_procmail_paths_stay_in_the_users_folder(inst):
    userdir(inst)
    outside = os.path.join(inst.dir, "escape")
    rc(inst, ":0\n../../../../escape\n:0\n%s\n" % outside)
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    assert not os.path.exists(outside)
    assert not os.path.exists(os.path.join(inst.dir, "inst", "escape"))
    assert len(inst.read_messages(USER)) == 1


def test_procmail_commands_refused_by_default(inst):
    flag = os.path.join(userdir(inst), "ran")
    rc(inst, ":0 w\n| touch %s\n" % flag)
    r = deliver(inst, MSG, "-a", USER)
    assert r.returncode == 0
    assert not os.path.exists(flag)
    assert b"deliver_allow_commands" in r.stderr
    assert len(inst.read_messages(USER)) == 1  # the failed recipe fell through to DEFAULT
    inst.set_option("deliver_allow_commands", "yes")
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    assert os.path.exists(flag)
    assert len(inst.read_messages(USER)) == 1


def test_command_time_limit(inst):
    userdir(inst)
    inst.set_option("deliver_allow_commands", "yes")
    inst.set_option("deliver_command_timeout", "1s")
    rc(inst, ":0 w\n| sleep 30\n:0 e\nfailed/\n")
    t = time.time()
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    assert time.time() - t < 10
    assert len(os.listdir(os.path.join(inst.maildir(USER), "failed", "new"))) == 1


def test_forward_goes_into_the_queue_with_the_sender(inst):
    userdir(inst)
    rc(inst, ":0\n* ^Subject:.*hello\n! carol@example.net dave@example.org\n")
    assert deliver(inst, MSG, "-f", "bob@example.org", "-a", USER).returncode == 0
    qdir = os.path.join(inst.dir, "inst", "queue")
    (qid,) = os.listdir(os.path.join(qdir, "env"))
    env, data = read_queued(qdir, qid)
    assert "F bob@example.org\n" in env
    assert "R carol@example.net\t" in env and "R dave@example.org\t" in env
    assert data == b"Delivered-To: alice@example.test\n" + MSG
    assert inst.read_messages(USER) == []


def test_rc_with_syntax_error_delivers_to_inbox(inst):
    userdir(inst)
    rc(inst, ":0\n* ^Subject\n")  # no action
    r = deliver(inst, MSG, "-a", USER)
    assert r.returncode == 0
    assert len(inst.read_messages(USER)) == 1


def test_message_bigger_than_the_filter_limit(inst):
    userdir(inst)
    inst.set_option("deliver_filter_max_size", "64k")
    inst.set_option("deliver_allow_commands", "yes")
    rc(inst, ":0 c\n* ^Subject:.*hello\nbig.mbox\n:0 wc\n| cat > %s/piped\n:0\nbig/\n"
       % inst.maildir(USER))
    body = b"".join(b"line %07d of a big message\n" % i for i in range(40000))  # ~1.1 MB
    data = MSG + body
    assert deliver(inst, data, "-f", "bob@example.org", "-a", USER).returncode == 0
    md = inst.maildir(USER)
    piped = open(os.path.join(md, "piped"), "rb").read()
    assert piped.endswith(data) and piped.startswith(b"From bob@example.org  ")
    (f,) = os.listdir(os.path.join(md, "big", "new"))
    content = open(os.path.join(md, "big", "new", f), "rb").read()
    assert content == b"Return-Path: <bob@example.org>\nDelivered-To: %s\n%s" % (
        USER.encode(), data)
    box = open(os.path.join(md, "big.mbox"), "rb").read()
    assert box.endswith(body + b"\n")



# ---- tern deliver -s: the messages of an mbox, each delivered on its own

BOB = "bob@example.test"


def mboxrd(sender, msg):
    """One message as an mbox entry: From_ line, mboxrd quoting, the empty line after."""
    import re as _re
    quoted = _re.sub(rb"(?m)^(>*From )", rb">\1", msg)
    return b"From %s  Thu Nov 26 07:00:00 2026\n%s\n" % (sender, quoted)


def delivered(inst, address):
    return sorted(inst.read_messages(address))


SPLIT_MSGS = [
    (b"a@example.org",
     b"From: a@example.org\nSubject: one\n\nFrom the start of a line\n>From quoted\n\n"),
    (b"b@example.org", b"From: b@example.org\nSubject: two\n\nbody\nFrom mid-paragraph\n"),
    (b"MAILER-DAEMON", b"Subject: three\n\n>>From twice\n" + b"x" * 3000000 + b"\n"),
]


def expect(address, sender, msg):
    return b"Return-Path: <%s>\nDelivered-To: %s\n%s" % (sender, address.encode(), msg)


def test_split_delivers_each_message_of_an_mbox(inst):
    userdir(inst)
    mbox = b"".join(mboxrd(s, m) for s, m in SPLIT_MSGS)
    r = deliver(inst, mbox, "-s", "-a", USER)
    assert r.returncode == 0, r.stderr
    # each byte for byte, with its own envelope sender (MAILER-DAEMON is the null sender);
    # the third is bigger than deliver_spool_memory (1M): spooled to a file
    want = [expect(USER, b"" if s == b"MAILER-DAEMON" else s, m) for s, m in SPLIT_MSGS]
    assert delivered(inst, USER) == sorted(want)
    # -f wins over the From_ lines; an input without From_ line is one message
    r = deliver(inst, mbox[:mbox.index(b"From b@")], "-s", "-f", "z@example.net", "-a", BOB)
    assert r.returncode == 0, r.stderr
    assert delivered(inst, BOB) == [expect(BOB, b"z@example.net", SPLIT_MSGS[0][1])]
    assert deliver(inst, MSG, "-s", "-a", BOB).returncode == 0
    assert len(inst.read_messages(BOB)) == 2 and expect(BOB, b"", MSG) in inst.read_messages(BOB)
    assert deliver(inst, b"", "-s", "-a", BOB).returncode == 0  # an empty mbox: nothing
    assert len(inst.read_messages(BOB)) == 2


def test_split_reads_back_what_the_mbox_writer_wrote(inst):
    """An rc file copies messages into an mbox (Tern's mboxrd writer); -s gives them back
    to another user byte for byte (after the first delivery's header lines)."""
    userdir(inst)
    rc(inst, ":0:\nsaved.mbox\n")
    msgs = [m for _, m in SPLIT_MSGS[:2]] + [MSG, b"Subject: x\n\n>From a\n\n\n\nFrom b\n"]
    for m in msgs:
        assert deliver(inst, m, "-f", "s@example.org", "-a", USER).returncode == 0
    box = open(os.path.join(inst.maildir(USER), "saved.mbox"), "rb").read()
    r = deliver(inst, box, "-s", "-a", BOB)
    assert r.returncode == 0, r.stderr
    want = [expect(BOB, b"s@example.org", expect(USER, b"s@example.org", m)) for m in msgs]
    assert delivered(inst, BOB) == sorted(want)


def test_split_stops_at_the_first_failure_and_says_where(inst):
    """A message refused (a mail loop, 65) stops the run: the ones before it are
    delivered, it and the rest are not, and stderr names its byte offset, from which the
    rest can be delivered again without a duplicate."""
    userdir(inst)
    first = mboxrd(b"a@example.org", SPLIT_MSGS[0][1])
    loop = mboxrd(b"b@example.org", b"Delivered-To: alice@example.test\nSubject: loop\n\nx\n")
    rest = mboxrd(b"c@example.org", MSG)
    r = deliver(inst, first + loop + rest, "-s", "-a", USER)
    assert r.returncode == 65
    err = r.stderr.decode()
    assert "message 2 (byte %d of the input) not delivered: 5.4.6" % len(first) in err, err
    assert "1 delivered before it" in err
    assert delivered(inst, USER) == [expect(USER, b"a@example.org", SPLIT_MSGS[0][1])]
    r = deliver(inst, (first + loop + rest)[len(first) + len(loop):], "-s", "-a", USER)
    assert r.returncode == 0, r.stderr
    assert len(inst.read_messages(USER)) == 2


def test_split_runs_each_message_through_the_filters(inst):
    userdir(inst)
    rc(inst, ":0\n* ^Subject:.*one\nones/\n:0\n* ^From:.*b@\\/[a-z.]+\nby-$MATCH/\n")
    mbox = b"".join(mboxrd(s, m) for s, m in SPLIT_MSGS[:2]) * 3
    assert deliver(inst, mbox, "-s", "-a", USER).returncode == 0
    md = inst.maildir(USER)
    assert len(os.listdir(os.path.join(md, "ones", "new"))) == 3
    assert len(os.listdir(os.path.join(md, "by-example.org", "new"))) == 3
    assert inst.read_messages(USER) == []


def udp_listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def test_delivery_sends_the_comsat_datagram(inst):
    s = udp_listener()
    inst.set_option("comsat_address", "127.0.0.1:%d" % s.getsockname()[1])
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    data = s.recv(1024).decode()
    (path,) = inst.message_files(USER)
    assert data == "alice@0:%s" % path
    # into a folder other than the INBOX: no datagram
    rc(inst, ":0\nother/\n")
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    s.settimeout(0.5)
    with pytest.raises(socket.timeout):
        s.recv(1024)


def read_pty(master, timeout=5):
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        elif out:
            break
    return out


def comsat_once(tty, datagram):
    """Runs `tern comsat --inetd` with one datagram on its stdin socket."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    a.send(datagram)
    r = subprocess.run([TERN, "comsat", "--inetd", "--tty", tty], stdin=b, capture_output=True,
                       timeout=20, env=tern_env())
    a.close()
    b.close()
    return r


def test_biff_and_comsat_on_a_pty(tmp_path):
    import pwd
    user = pwd.getpwuid(os.geteuid()).pw_name
    master, slave = pty.openpty()
    tty = os.ttyname(slave)
    msg = tmp_path / "msg"
    msg.write_bytes(b"Return-Path: <x@y>\nFrom: Bob <bob@example.org>\nSubject: Lunch?\n"
                    b"X-Other: no\n\nAre you free at noon?\n" + b"more\n" * 20)
    try:
        # biff n: no notice
        r = subprocess.run([TERN, "biff", "n"], stdin=slave, capture_output=True, env=tern_env())
        assert r.returncode == 1
        assert not os.stat(tty).st_mode & 0o100
        r = subprocess.run([TERN, "biff"], stdin=slave, capture_output=True, env=tern_env())
        assert r.stdout == b"is n\n" and r.returncode == 1
        assert comsat_once(tty, b"%s@0:%s" % (user.encode(), str(msg).encode())).returncode == 0
        assert read_pty(master, 1) == b""
        # biff y: the notice
        r = subprocess.run([TERN, "biff", "y"], stdin=slave, capture_output=True, env=tern_env())
        assert r.returncode == 0 and os.stat(tty).st_mode & 0o100
        assert comsat_once(tty, b"%s@0:%s" % (user.encode(), str(msg).encode())).returncode == 0
        text = read_pty(master).replace(b"\r", b"")
        assert b"New mail for %s@" % user.encode() in text
        assert b"has arrived:" in text
        assert b"From: Bob <bob@example.org>\n" in text and b"Subject: Lunch?\n" in text
        assert b"X-Other" not in text and b"Return-Path" not in text
        assert b"Are you free at noon?\n" in text and b"...more..." in text
        # a datagram for a file that is not the user's, or malformed: nothing shown
        other = tmp_path / "other"
        other.write_bytes(b"Subject: secret\n\nsecret\n")
        if os.geteuid() == 0:
            os.chown(other, 65534, 65534)
        else:
            other = "/etc/passwd"
        assert comsat_once(tty, b"%s@0:%s" % (user.encode(), str(other).encode())).returncode == 0
        shown = read_pty(master, 1)
        assert b"secret" not in shown and b"root:" not in shown
        assert comsat_once(tty, b"garbage").returncode == 0
    finally:
        os.close(master)
        os.close(slave)


def test_comsat_udp_service(tmp_path):
    import pwd
    user = pwd.getpwuid(os.geteuid()).pw_name
    master, slave = pty.openpty()
    tty = os.ttyname(slave)
    os.chmod(tty, os.stat(tty).st_mode | 0o100)
    mbox = tmp_path / "mbox"
    mbox.write_bytes(b"From a@b  Thu Nov 26 07:00:00 2026\nSubject: first\n\nx\n\n")
    offset = mbox.stat().st_size
    with open(mbox, "ab") as f:
        f.write(b"From a@b  Thu Nov 26 07:00:01 2026\nSubject: second\n\ny\n\n")
    port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port.bind(("127.0.0.1", 0))
    n = port.getsockname()[1]
    port.close()
    p = subprocess.Popen([TERN, "comsat", "--port", str(n), "--once", "--tty", tty],
                         env=tern_env(), stderr=subprocess.PIPE)
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.time() + 10
        text = b""
        while time.time() < deadline and p.poll() is None:
            s.sendto(b"%s@%d:%s" % (user.encode(), offset, str(mbox).encode()),
                     ("127.0.0.1", n))
            text += read_pty(master, 0.5)
        p.wait(10)
        assert b"Subject: second" in text and b"Subject: first" not in text
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)


def sieve(inst, text):
    d = os.path.join(inst.dir, "inst", "data", "sieve", "example.test", "alice")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "active.sieve"), "w") as f:
        f.write(text)
    give(inst, os.path.join(inst.dir, "inst", "data", "sieve"))


def test_sieve_actions(inst):
    sieve(inst, 'require ["fileinto", "vacation", "reject"];\n'
                'if header :contains "subject" "list" { fileinto "Lists/dev"; stop; }\n'
                'if header :contains "subject" "fwd" { redirect "x@example.net"; }\n'
                'if header :contains "subject" "away" { vacation :days 1 "I am away"; }\n'
                'if header :contains "subject" "refuse" { reject "go away"; }\n')
    codes = {}
    for subj in ("list", "fwd", "away", "away again", "refuse", "plain"):
        data = MSG.replace(b"hello", subj.encode())
        codes[subj] = deliver(inst, data, "-f", "bob@example.org", "-a", USER)
    assert {k: r.returncode for k, r in codes.items()} == {
        "list": 0, "fwd": 0, "away": 0, "away again": 0, "refuse": 69, "plain": 0}
    assert b"5.7.1" in codes["refuse"].stderr
    md = inst.maildir(USER)
    assert len(os.listdir(os.path.join(md, ".Lists.dev", "new"))) == 1
    subjects = sorted(m.split(b"Subject: ")[1].split(b"\n")[0] for m in inst.read_messages(USER))
    assert subjects == [b"away", b"away again", b"plain"]
    qdir = os.path.join(inst.dir, "inst", "queue")
    queued = {}
    for qid in os.listdir(os.path.join(qdir, "env")):
        env, data = read_queued(qdir, qid)
        rcpt = [l.split()[1] for l in env.splitlines() if l.startswith("R ")]
        sender = [l[2:] for l in env.splitlines() if l.startswith("F ")][0]
        queued[tuple(rcpt)] = (sender, data)
    assert sorted(queued) == [("bob@example.org",), ("x@example.net",)]
    assert queued[("x@example.net",)][0] == "bob@example.org"  # redirect keeps the sender
    sender, reply = queued[("bob@example.org",)]  # one vacation reply, from <>
    assert sender == "" and b"Auto-Submitted: auto-replied" in reply and b"I am away" in reply


def test_sieve_error_delivers_to_inbox(inst):
    sieve(inst, 'if header :contains "subject" "x" {\n  fileinto "A";\n')
    r = deliver(inst, MSG, "-a", USER)
    assert r.returncode == 0
    assert b"active.sieve:3:" in r.stderr or b"active.sieve:2:" in r.stderr
    assert len(inst.read_messages(USER)) == 1


def test_procmail_rc_wins_over_sieve(inst):
    sieve(inst, 'discard;\n')
    userdir(inst)
    rc(inst, ":0\nfrom-procmail/\n")
    assert deliver(inst, MSG, "-a", USER).returncode == 0
    assert len(os.listdir(os.path.join(inst.maildir(USER), "from-procmail", "new"))) == 1


def test_smtp_mail_goes_through_procmail_and_sieve(tern_factory):
    import smtplib
    inst = tern_factory(start=False)
    userdir(inst)
    rc(inst, ":0\n* ^Subject:.*lists\nlists/\n:0\n* ^Subject:.*fwd\n! bob@example.test\n")
    d = os.path.join(inst.dir, "inst", "data", "sieve", "example.test", "bob")
    os.makedirs(d)
    with open(os.path.join(d, "active.sieve"), "w") as f:
        f.write('require "fileinto";\nfileinto "From-Sieve";\n')
    give(inst, os.path.join(inst.dir, "inst", "data", "sieve"))
    inst.start()
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        for subj in ("for lists", "fwd this", "plain"):
            s.sendmail("carol@example.net", [USER],
                       b"From: carol@example.net\nSubject: %s\n\nbody\n" % subj.encode())
    md = inst.maildir(USER)
    lists = os.path.join(md, "lists", "new")
    bob = os.path.join(inst.maildir("bob@example.test"), ".From-Sieve", "new")
    deadline = time.time() + 20
    while time.time() < deadline:
        if (os.path.isdir(lists) and os.listdir(lists) and os.path.isdir(bob)
                and os.listdir(bob) and inst.message_files(USER)):
            break
        time.sleep(0.1)
    assert len(os.listdir(lists)) == 1
    (plain,) = inst.read_messages(USER)
    assert b"Subject: plain" in plain
    (fwd,) = os.listdir(bob)  # alice's procmail forward, then bob's Sieve fileinto
    data = open(os.path.join(bob, fwd), "rb").read()
    assert data.startswith(b"Return-Path: <carol@example.net>\nDelivered-To: bob@example.test\n")
    assert b"Delivered-To: alice@example.test\n" in data and b"Subject: fwd this" in data


def test_subaddress_finds_the_users_filters(inst):
    rc(inst, ":0\n* ^Delivered-To: alice\\+news@\nnews/\n")
    r = deliver(inst, MSG, "-f", "bob@example.org", "-a", "alice+news@example.test")
    assert r.returncode == 0, r.stderr
    (f,) = os.listdir(os.path.join(inst.maildir(USER), "news", "new"))
    data = open(os.path.join(inst.maildir(USER), "news", "new", f), "rb").read()
    assert data.startswith(b"Return-Path: <bob@example.org>\nDelivered-To: alice+news@example.test\n")
