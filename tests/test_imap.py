"""IMAP server tests (role imap, src/imapd) with the standard library's imaplib and raw
sockets, against a running instance: login, LIST with special-use folders, SELECT, FETCH of
every item, STORE, COPY/MOVE with UIDPLUS, SEARCH/ESEARCH, EXPUNGE seen by a second session,
IDLE woken by an SMTP delivery, APPEND of a large literal in bounded memory, and refusal of
an oversized literal before it is sent.
"""
import imaplib
import os
import re
import smtplib
import socket
import time

import pytest

from conftest import SANITIZE  # ASan's quarantine keeps freed memory: RSS means nothing

ALICE = "alice@example.test"
BOB = "bob@example.test"

MSG = (b"From: Bob Example <bob@example.test>\r\n"
       b"To: alice@example.test\r\n"
       b"Subject: Hello there\r\n"
       b"Date: Thu, 26 Nov 2026 07:00:00 +0000\r\n"
       b"Message-ID: <m1@example.test>\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=XX\r\n"
       b"\r\n"
       b"--XX\r\n"
       b"Content-Type: text/plain; charset=utf-8\r\n"
       b"\r\n"
       b"first part body\r\n"
       b"--XX\r\n"
       b"Content-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: base64\r\n"
       b"\r\n"
       b"aGVsbG8gd29ybGQ=\r\n"
       b"--XX--\r\n")


def login(tern, user=ALICE):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    m.login(user, tern.users[user])
    return m


def deliver(tern, subject, rcpt=ALICE, body="body text\n"):
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        s.sendmail("bob@example.test", [rcpt],
                   "From: bob@example.test\r\nTo: %s\r\nSubject: %s\r\n\r\n%s" %
                   (rcpt, subject, body))


def append(m, mailbox=b"INBOX", flags=None, msg=MSG):
    typ, data = m.append(mailbox, flags, None, msg)
    assert typ == "OK", data
    return data


def imap_worker_pid(tern):
    for pid in tern.pids()[1:]:
        try:
            cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if b"worker" in cmd and b"imap" in cmd:
            return pid
    return None


def vmrss_kb(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Raw:
    """A line-level IMAP client for what imaplib cannot do (IDLE, refused literals)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), 10)
        self.f = self.sock.makefile("rb")
        self.line()

    def send(self, data):
        self.sock.sendall(data)

    def line(self, timeout=10):
        self.sock.settimeout(timeout)
        return self.f.readline()

    def until(self, tag):
        lines = []
        while True:
            line = self.line()
            assert line, "connection closed"
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def close(self):
        self.sock.close()


def test_login_capability_list(tern):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    assert "IMAP4REV1" in m.capabilities
    with pytest.raises(imaplib.IMAP4.error):
        m.login(ALICE, "wrong")
    m.login(ALICE, "alice-pw")
    typ, data = m.list()
    assert typ == "OK"
    text = b"\n".join(data)
    for name, attr in (("Sent", b"\\Sent"), ("Drafts", b"\\Drafts"), ("Trash", b"\\Trash"),
                       ("Junk", b"\\Junk"), ("Archive", b"\\Archive")):
        assert re.search(rb"\(.*%s.*\) \"/\" %s" % (re.escape(attr), name.encode()), text)
    assert b'"/" INBOX' in text
    assert m.create("Lists/tern")[0] == "OK"
    typ, data = m.list("\"\"", "Lists/%")
    assert data == [b'(\\HasNoChildren) "/" Lists/tern']
    typ, data = m.list("\"\"", "%")
    assert b'(\\Noselect \\HasChildren) "/" Lists' in data  # Maildir++: no parent folder
    assert m.rename("Lists/tern", "Lists/other")[0] == "OK"
    assert m.delete("Lists/other")[0] == "OK"
    assert m.subscribe("Sent")[0] == "OK"
    typ, data = m.lsub("\"\"", "*")
    assert b'() "/" Sent' in data
    typ, data = m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")
    assert typ == "OK" and b"MESSAGES 0" in data[0]
    m.logout()
    assert "login: user=<alice@example.test> ip=[127.0.0.1] result=ok" in tern.log()
    assert "alice-pw" not in tern.log()


def test_special_use_folders_made_at_first_login(tern):
    """A Maildir made by other means (no special-use folders, no subscriptions): the first
    login makes the folders (directories only: no index until one is used) and subscribes
    them; LIST shows their attributes; a later login leaves a deleted one deleted only
    until then (it is made again, as a client expects them)."""
    import shutil
    md = tern.maildir(ALICE)
    specials = ("Sent", "Drafts", "Trash", "Junk", "Archive")
    for name in specials:
        shutil.rmtree(os.path.join(md, "." + name))
    os.unlink(os.path.join(md, "subscriptions"))
    deliver(tern, "before the first login")
    tern.wait_messages(ALICE, 1)
    m = login(tern)
    for name in specials:
        for part in ("cur", "new", "tmp", "maildirfolder"):
            assert os.path.exists(os.path.join(md, "." + name, part)), (name, part)
        assert not os.path.exists(os.path.join(md, "." + name, "tern-index.sqlite"))
    typ, data = m.list('""', "*")
    assert typ == "OK"
    text = b"\n".join(data)
    for name in specials:
        assert re.search(rb"\(.*\\%s.*\) \"/\" %s" % (name.encode(), name.encode()), text), text
    typ, data = m.lsub('""', "*")
    assert sorted(d.rsplit(b" ", 1)[1] for d in data) == sorted(n.encode() for n in specials)
    typ, data = m.status("Sent", "(MESSAGES UIDNEXT)")
    assert typ == "OK" and b"MESSAGES 0" in data[0] and b"UIDNEXT 1" in data[0], data
    assert os.path.exists(os.path.join(md, ".Sent", "tern-index.sqlite"))
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"1"]
    m.logout()


def test_fetch_every_item(tern):
    m = login(tern)
    data = append(m, flags="(\\Flagged)")
    assert b"APPENDUID" in data[0]
    typ, data = m.select("INBOX")
    assert data == [b"1"]
    typ, data = m.fetch("1", "(FLAGS UID INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE "
                             "MODSEQ)")
    assert typ == "OK"
    head = data[0] if isinstance(data[0], bytes) else data[0][0]
    assert b"\\Flagged" in head and b"UID 1" in head
    assert b"RFC822.SIZE %d" % len(MSG) in head
    assert b'"Hello there"' in head
    assert b'(("Bob Example" NIL "bob" "example.test"))' in head
    assert b'"mixed"' in head.lower() or b'"MIXED"' in head
    assert b"MODSEQ (" in head
    typ, data = m.fetch("1", "(BODY.PEEK[])")
    assert data[0][1] == MSG
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" not in data[0]
    typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Subject)])")
    assert data[0][1] == b"Subject: Hello there\r\n\r\n"
    typ, data = m.fetch("1", "(BODY.PEEK[1])")
    assert data[0][1] == b"first part body"
    typ, data = m.fetch("1", "(BODY.PEEK[2.MIME])")
    assert data[0][1].startswith(b"Content-Type: application/octet-stream")
    typ, data = m.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    joined = b"".join(x if isinstance(x, bytes) else x[0] + x[1] for x in data)
    assert b"hello world" in joined and b"BINARY.SIZE[2] 11" in joined
    typ, data = m.fetch("1", "(BODY.PEEK[]<0.4>)")
    assert data[0][1] == b"From"
    typ, data = m.fetch("1", "(RFC822.HEADER)")
    assert data[0][1].endswith(b"\r\n\r\n") and b"Subject: Hello there" in data[0][1]
    typ, data = m.fetch("1", "(BODY[TEXT])")
    assert data[0][1].startswith(b"--XX")
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"\\Seen" in data[0]
    typ, data = m.fetch("1", "(RFC822)")
    assert data[0][1] == MSG
    m.logout()


def test_smtp_delivery_and_bare_lf(tern):
    deliver(tern, "via smtp")
    assert len(tern.wait_messages(ALICE, 1)) == 1
    m = login(tern)
    m.select("INBOX")
    typ, data = m.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    body = data[0][1]
    size = int(re.search(rb"RFC822.SIZE (\d+)", data[0][0]).group(1))
    assert size == len(body)
    assert b"Subject: via smtp" in body
    assert b"\n" not in body.replace(b"\r\n", b"")
    m.logout()


def test_store_copy_move_uidplus(tern):
    m = login(tern)
    for _ in range(3):
        append(m)
    m.select("INBOX")
    typ, data = m.store("1:2", "+FLAGS", "(\\Deleted $Label1)")
    assert typ == "OK" and b"$Label1" in data[0]
    typ, data = m.store("2", "-FLAGS.SILENT", "(\\Deleted)")
    assert typ == "OK"
    typ, data = m._simple_command("UID", "COPY", "1:3", "Archive")
    assert typ == "OK"
    assert re.match(rb"\[COPYUID \d+ 1:3 1:3\]", data[0]), data
    typ, data = m._simple_command("UID", "MOVE", "3", "Trash")
    assert typ == "OK"
    assert "EXPUNGE" in m.untagged_responses
    typ, data = m.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    typ, data = m.expunge()
    assert data[-1] == b"1"
    typ, data = m.search(None, "ALL")
    assert data == [b"1"]
    typ, data = m.fetch("1", "(FLAGS)")
    assert b"$Label1" in data[0] and b"\\Deleted" not in data[0]
    m.logout()


def test_search(tern):
    m = login(tern)
    append(m)
    append(m, msg=b"Subject: other\r\nFrom: carol@example.test\r\n\r\nneedle in body\r\n")
    append(m, flags="(\\Seen)", msg=b"Subject: third\r\n\r\nx\r\n")
    m.select("INBOX")
    assert m.search(None, "SUBJECT", "hello")[1] == [b"1"]
    assert m.search(None, "FROM", "carol")[1] == [b"2"]
    assert m.search(None, "BODY", "needle")[1] == [b"2"]
    assert m.search(None, "TEXT", "carol")[1] == [b"2"]
    assert m.search(None, "UNSEEN")[1] == [b"1 2"]
    assert m.search(None, "OR", "SEEN", "SUBJECT", "other")[1] == [b"2 3"]
    assert m.search(None, "NOT", "2")[1] == [b"1 3"]
    assert m.search(None, "LARGER", "100")[1] == [b"1"]
    assert m.search(None, "SENTON", "26-Nov-2026")[1] == [b"1"]
    assert m.uid("SEARCH", "UID", "2:*")[1] == [b"2 3"]
    typ, data = m._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "ALL")
    assert typ == "OK"
    assert m.untagged_responses["ESEARCH"][0].endswith(b"MIN 1 MAX 3 COUNT 3 ALL 1:3")
    typ, data = m._simple_command("SEARCH", "RETURN", "(SAVE)", "UNSEEN")
    assert typ == "OK"
    typ, data = m.fetch("$", "(UID)")
    assert len([d for d in data if d]) == 2
    m.logout()


def test_envelope_and_size_of_odd_files(tern):
    """The first FETCH of ENVELOPE and RFC822.SIZE (the parse that fills the cache) gives
    the sizes of the CRLF form sent, and the same ENVELOPE as a FETCH with BODYSTRUCTURE
    after the index is dropped. Files written behind the server's back with mixed line
    ends, no body, no header, and a header longer than one read."""
    m = login(tern)
    m.logout()
    root = tern.maildir(ALICE)
    st = os.stat(os.path.join(root, "cur"))
    msgs = [b"Subject: mixed\nFrom: A <a@x.example>\r\nTo: b@y.example\n\r\nline1\nline2\r\n"
            b"line3\n",
            b"Subject: no body\nFrom: c@z.example\n",
            b"\nno header at all\n",
            b"X-Long: " + b"w " * 12000 + b"\nSubject: long\nFrom: d@w.example\n\nbody\n",
            b"Subject: crlf\r\nFrom: e@v.example\r\n\r\n--b\r\nnot a part\r\n"]
    for i, data in enumerate(msgs):
        path = os.path.join(root, "cur", "1700000000.M%dP1.test:2,S" % i)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, st.st_uid, st.st_gid)

    def fetch_all(items):
        m = login(tern)
        m.select("INBOX")
        typ, data = m.fetch("1:*", items)
        assert typ == "OK"
        typ, bodies = m.fetch("1:*", "(BODY.PEEK[])")
        m.logout()
        heads = [x[0] if isinstance(x, tuple) else x for x in data if x != b")"]
        return heads, [x[1] for x in bodies if isinstance(x, tuple)]

    heads, bodies = fetch_all("(RFC822.SIZE ENVELOPE)")
    assert len(heads) == len(msgs) and len(bodies) == len(msgs)
    for head, body, data in zip(heads, bodies, msgs):
        size = int(re.search(rb"RFC822.SIZE (\d+)", head).group(1))
        assert size == len(body) == len(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    assert b'"mixed"' in heads[0] and b'"no body"' in heads[1] and b'"long"' in heads[3]
    for p in os.listdir(root):
        if p.startswith("tern-index.sqlite"):
            os.unlink(os.path.join(root, p))
    whole, _ = fetch_all("(RFC822.SIZE ENVELOPE BODYSTRUCTURE)")
    for head, full in zip(heads, whole):
        env = head.split(b"ENVELOPE ", 1)[1][:-1]  # up to the FETCH's closing ")"
        assert rb"ENVELOPE " + env + b" BODYSTRUCTURE" in full


def test_expunge_seen_by_second_session(tern):
    a = login(tern)
    for _ in range(2):
        append(a)
    a.select("INBOX")
    b = login(tern)
    b.select("INBOX")
    a.store("1", "+FLAGS", "(\\Deleted)")
    a.expunge()
    typ, data = b.noop()
    assert b.untagged_responses.get("EXPUNGE") == [b"1"] or \
        any(b"EXPUNGE" in x for x in data if x)
    append(a)
    b.noop()
    assert b.untagged_responses.get("EXISTS", [b""])[-1] == b"2"
    a.logout()
    b.logout()


def test_idle_sees_delivery_within_a_second(tern):
    r = Raw(tern.ports["imap"])
    r.send(b"a LOGIN alice@example.test alice-pw\r\n")
    r.until(b"a")
    r.send(b"b SELECT INBOX\r\n")
    r.until(b"b")
    r.send(b"c IDLE\r\n")
    assert r.line().startswith(b"+")
    deliver(tern, "while idling")
    tern.wait_messages(ALICE, 1)
    t0 = time.time()
    line = r.line(timeout=5)
    assert line == b"* 1 EXISTS\r\n", line
    assert time.time() - t0 < 1.0
    r.send(b"DONE\r\n")
    assert r.until(b"c")[-1].startswith(b"c OK")
    r.close()


MANY_SESSIONS = {"imap_max_connections": "1000", "imap_max_connections_per_ip": "1000",
                 "imap_max_sessions_per_user": "1000"}


def idle_sessions(tern, n):
    """n sessions of alice's, each with INBOX selected and in IDLE (tag c)."""
    sessions = []
    for _ in range(n):
        r = Raw(tern.ports["imap"])
        r.send(b"a LOGIN alice@example.test alice-pw\r\nb SELECT INBOX\r\nc IDLE\r\n")
        r.until(b"b")
        assert r.line().startswith(b"+")
        sessions.append(r)
    return sessions


def idle_done(sessions):
    for r in sessions:
        r.send(b"DONE\r\n")
        assert r.until(b"c")[-1].startswith(b"c OK")
        r.close()


def test_idle_sessions_stay_small(tern_factory):
    """Sessions in IDLE cost the worker little memory (issue #6: a tenth of Dovecot's per
    idle connection), also after the IDLE poll has read the index again: it gives the
    index's page cache back each time (before, every idle session kept a 20-page cache of
    16 KB pages, about 160 KB resident)."""
    n = 150
    tern = tern_factory(options=MANY_SESSIONS)
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"]) as s:
        for i in range(30):
            s.sendmail("bob@example.test", [ALICE],
                       "Subject: idle %d\r\n\r\nbody %d\r\n" % (i, i))
    tern.wait_messages(ALICE, 30)
    first = Raw(tern.ports["imap"])  # the folder's index is built, the worker warmed up
    first.send(b"a LOGIN alice@example.test alice-pw\r\nb SELECT INBOX\r\nc LOGOUT\r\n")
    first.until(b"c")
    first.close()
    pid = imap_worker_pid(tern)
    before = vmrss_kb(pid)
    sessions = idle_sessions(tern, n)
    time.sleep(2.5)  # past the first IDLE poll of every session
    grown = (vmrss_kb(pid) - before) / n
    idle_done(sessions)
    assert SANITIZE or grown < 100, "%.1f KB per idle session" % grown


def test_many_idle_sessions_share_one_watch(tern_factory):
    """100 sessions in IDLE on one folder: the worker watches it with one inotify instance
    (not one per session: the kernel allows 128 per user by default), and a delivery
    reaches every session as EXISTS within a second; DONE then ends each, and the watch
    goes with the last."""
    n = 100
    tern = tern_factory(options=MANY_SESSIONS)
    deliver(tern, "before")
    tern.wait_messages(ALICE, 1)
    sessions = idle_sessions(tern, n)
    pid = imap_worker_pid(tern)

    def inotify():
        """(inotify instances of the worker, watches in them: fdinfo's "inotify wd:" lines)"""
        fds = [fd for fd in os.listdir("/proc/%d/fd" % pid)
               if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:inotify"]
        watches = sum(open("/proc/%d/fdinfo/%s" % (pid, fd)).read().count("inotify wd:")
                      for fd in fds)
        return len(fds), watches
    assert inotify() == (1, 2)  # new/ and cur/ of INBOX
    deliver(tern, "while idling")
    tern.wait_messages(ALICE, 2)
    t0 = time.time()
    for r in sessions:
        line = r.line(timeout=5)
        assert line == b"* 2 EXISTS\r\n", line
    assert time.time() - t0 < 1.5
    idle_done(sessions)
    assert inotify() == (1, 0)  # the instance stays for the next IDLE, its watches do not


def test_idle_on_several_folders_wakes_only_their_sessions(tern):
    """Sessions in IDLE on different folders of one worker share its inotify instance:
    an arrival in one folder reaches the sessions on that folder within a second and no
    other, whichever folder's events came before."""
    sessions = {}
    for folder in (b"INBOX", b"Archive", b"Archive"):
        r = Raw(tern.ports["imap"])
        r.send(b"a LOGIN alice@example.test alice-pw\r\nx ENABLE IMAP4rev2\r\n"
               b"b SELECT %s\r\nc IDLE\r\n" % folder)  # rev2: EXISTS, no RECENT
        r.until(b"b")
        assert r.line().startswith(b"+")
        sessions.setdefault(folder, []).append(r)
    other = login(tern)
    for round_, folder in enumerate((b"Archive", b"INBOX", b"Archive")):
        if folder == b"INBOX":
            deliver(tern, "to the INBOX")
            tern.wait_messages(ALICE, 1)
        else:
            append(other, folder)
        t0 = time.time()
        for r in sessions[folder]:
            line = r.line(timeout=5)
            assert line.endswith(b" EXISTS\r\n"), line
        assert time.time() - t0 < 1.5
        for f, lst in sessions.items():
            if f != folder:
                for r in lst:  # nothing for the others
                    r.sock.settimeout(0.3)
                    with pytest.raises(socket.timeout):
                        r.sock.recv(100)
    other.logout()
    idle_done(sessions[b"INBOX"] + sessions[b"Archive"])


def test_large_append_bounded_memory(tern):
    size = 40 * 1024 * 1024
    r = Raw(tern.ports["imap"])
    r.send(b"a LOGIN alice@example.test alice-pw\r\n")
    r.until(b"a")
    pid = imap_worker_pid(tern)
    assert pid
    before = vmrss_kb(pid)
    r.send(b"b APPEND INBOX {%d}\r\n" % size)
    assert r.line().startswith(b"+")
    line = b"x" * 998 + b"\r\n"
    chunk = b"Subject: big\r\n\r\n" + line * (1024 * 1024 // len(line))
    sent, peak = 0, 0
    while sent < size:
        part = chunk[:size - sent]
        r.send(part)
        sent += len(part)
        peak = max(peak, vmrss_kb(pid))
    r.send(b"\r\n")
    reply = r.until(b"b")[-1]
    assert reply.startswith(b"b OK [APPENDUID"), reply
    assert SANITIZE or peak - before < 16 * 1024, (before, peak)
    r.send(b"c SELECT INBOX\r\nd FETCH 1 RFC822.SIZE\r\n")
    lines = r.until(b"d")
    assert any(b"RFC822.SIZE %d" % size in x for x in lines)
    r.send(b"e FETCH 1 BODY.PEEK[]\r\n")
    head = r.line()
    assert head.endswith(b"{%d}\r\n" % size)
    got = 0
    r.sock.settimeout(30)
    while got < size:
        data = r.f.read(min(1 << 20, size - got))
        assert data
        got += len(data)
        peak = max(peak, vmrss_kb(pid))
    assert r.until(b"e")[-1].startswith(b"e OK")
    assert SANITIZE or peak - before < 16 * 1024, (before, peak)
    r.close()


def test_oversized_literal_refused_before_read(tern_factory):
    tern = tern_factory(options={"imap_max_literal": "1M"})
    r = Raw(tern.ports["imap"])
    r.send(b"a LOGIN alice@example.test alice-pw\r\n")
    r.until(b"a")
    r.send(b"b APPEND INBOX {2000000}\r\n")
    line = r.line()
    assert line.startswith(b"b ") and b"TOOBIG" in line, line
    r.send(b"c NOOP\r\n")
    assert r.until(b"c")[-1].startswith(b"c OK")
    r.close()


def test_inetd_preauth(tern):
    import subprocess
    from conftest import TERN, tern_env
    p = subprocess.run([TERN, "imap", "--inetd", "-u", ALICE, "-c", tern.conf],
                       input=b"a SELECT INBOX\r\nb LOGOUT\r\n", capture_output=True,
                       env=tern_env(), timeout=30)
    assert p.stdout.startswith(b"* PREAUTH"), p.stdout
    assert b"a OK [READ-WRITE]" in p.stdout and b"b OK" in p.stdout


def test_authenticate_plain(tern):
    m = imaplib.IMAP4("127.0.0.1", tern.ports["imap"])
    assert "AUTH=PLAIN" in m.capabilities
    typ, data = m.authenticate("PLAIN", lambda _: b"\0alice@example.test\0alice-pw")
    assert typ == "OK"
    assert m.select("INBOX")[0] == "OK"
    m.logout()
    r = Raw(tern.ports["imap"])
    r.send(b"a AUTHENTICATE PLAIN AGJvYkBleGFtcGxlLnRlc3QAYm9iLXB3\r\n")  # SASL-IR
    assert r.until(b"a")[-1].startswith(b"a OK")
    r.close()


def test_sigterm_says_bye(tern):
    import signal
    r = Raw(tern.ports["imap"])
    r.send(b"a LOGIN alice@example.test alice-pw\r\n")
    r.until(b"a")
    os.kill(imap_worker_pid(tern), signal.SIGTERM)
    assert r.line() == b"* BYE server shutting down\r\n"
    r.close()


def test_fetch_one_message_at_a_time_and_pipelined(tern):
    """Replies of a turn leave in one send (imapd-session.c): many single-message FETCHes in
    a row must neither stall (two small sends per reply waited for the client's delayed ACK,
    40 ms each) nor lose or reorder bytes, one by one or pipelined; bare LFs of delivered
    mail arrive as CRLF."""
    for i in range(4):
        deliver(tern, "row %d" % i, body="line one\nline two\n" + "x" * (3000 * i) + "\n")
    m = login(tern)
    append(m)
    m.select("INBOX")
    want = {}
    for n in range(1, 6):
        typ, data = m.fetch(str(n), "BODY.PEEK[]")
        assert typ == "OK"
        want[n] = data[0][1]
        assert b"\n" not in want[n].replace(b"\r\n", b""), n
    m.logout()
    r = Raw(tern.ports["imap"])
    r.send(b"a LOGIN alice@example.test alice-pw\r\na2 SELECT INBOX\r\n")
    r.until(b"a2")

    def reply(tag, n):
        head = r.line()
        assert head == b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (n, n, len(want[n])), head
        assert r.f.read(len(want[n])) == want[n]
        assert r.line() == b")\r\n"
        assert r.line().startswith(tag + b" OK")

    t0 = time.time()
    for i in range(200):
        n = i % 5 + 1
        r.send(b"f%d FETCH %d BODY.PEEK[]\r\n" % (i, n))
        reply(b"f%d" % i, n)
    assert time.time() - t0 < 4.0, time.time() - t0
    r.send(b"".join(b"p%d FETCH %d BODY.PEEK[]\r\n" % (i, i % 5 + 1) for i in range(40)))
    for i in range(40):
        reply(b"p%d" % i, i % 5 + 1)
    r.close()


def test_cold_fetch_caches_written_before_its_reply(tern):
    """A cold FETCH 1:* ENVELOPE of 3,000 files (3 MB of cache values, which the worker's
    index thread writes while the FETCH goes on) with a second session changing flags
    meanwhile: every value is in the index when the tagged OK comes, the flags are right,
    and the warm FETCH (from the cache) is byte for byte the cold one."""
    import sqlite3
    m = login(tern)
    m.logout()
    root = tern.maildir(ALICE)
    st = os.stat(os.path.join(root, "cur"))
    count = 3000
    for i in range(count):
        path = os.path.join(root, "cur", "1700000000.M%dP7.test:2," % i)
        with open(path, "wb") as f:
            f.write(b"From: Sender %d <s%d@x.example>\nTo: Alice <alice@example.test>\n"
                    b"Cc: c%d@y.example, \"Carol %d\" <carol@z.example>\n"
                    b"Subject: message %d of a cold fetch\n"
                    b"Date: Thu, 26 Nov 2026 07:00:00 +0000\nMessage-ID: <%d@x.example>\n"
                    b"\nbody %d\n" % (i, i, i, i, i, i, i))
        os.chown(path, st.st_uid, st.st_gid)
    a = Raw(tern.ports["imap"])
    a.send(b"a LOGIN alice@example.test alice-pw\r\nb SELECT INBOX\r\n")
    a.until(b"b")
    b = Raw(tern.ports["imap"])
    b.send(b"a LOGIN alice@example.test alice-pw\r\nb SELECT INBOX\r\n")
    b.until(b"b")
    a.send(b"c FETCH 1:* (UID RFC822.SIZE ENVELOPE)\r\n")
    for n in range(1, 21):  # meanwhile, as the FETCH goes on
        b.send(b"s%d STORE %d +FLAGS.SILENT (\\Flagged)\r\n" % (n, n * 100))
        assert b.until(b"s%d" % n)[-1].startswith(b"s%d OK" % n)
    cold = a.until(b"c")
    assert cold[-1].startswith(b"c OK"), cold[-1]
    db = sqlite3.connect(os.path.join(root, "tern-index.sqlite"), timeout=30)
    try:
        for table in ("cache_envelope", "cache_parts", "cache_fields"):
            assert db.execute("SELECT count(*) FROM " + table).fetchone()[0] == count, table
        assert db.execute("SELECT count(*) FROM msgs WHERE vsize > 0").fetchone()[0] == count
    finally:
        db.close()
    a.send(b"d FETCH 1:* (UID RFC822.SIZE ENVELOPE)\r\n")
    warm = a.until(b"d")
    assert warm[:-1] == cold[:-1] and len(cold) == count + 1
    assert sum(b'"message 2999 of a cold fetch"' in x for x in cold) == 1
    a.send(b"n NOOP\r\ne SEARCH FLAGGED\r\n")
    found = a.until(b"e")
    assert any(x.startswith(b"* SEARCH") and
               x.split()[2:] == [b"%d" % (n * 100) for n in range(1, 21)] for x in found), found
    a.close()
    b.close()
