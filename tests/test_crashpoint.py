"""Crash points (issue #2, DESIGN principle 1): the worker that receives a message (smtp)
or delivers it (queue) is killed with SIGKILL exactly before, then exactly after, each
system call that makes a message durable or moves it, one call per run, by the
LD_PRELOAD shim tests/crashpoint/crashpoint.c. A first run traces the calls (no kill),
then N walks every call of that trace, each run checking that its calls up to N are the
traced ones; a last run with N past the end must kill nothing.

After each kill the whole server is killed too (kill -9 of the process group) and
started again without the shim, and the queue is left to drain. Then:
  - a message the client got 250 for is in each recipient's Maildir exactly once, byte
    for byte (Return-Path, Delivered-To, Tern's Received line, then the data);
  - one it did not get 250 for is there at most once, and for both recipients or neither
    (the recipients of one queued message are never split);
  - 250 never came before the fsync of env/ (the commit);
  - the queue ends empty: nothing in env/ or corrupt/; what is left in msg/ is only a
    file never committed: a message that got no 250, or a notification the killed queue
    worker was writing (doc/queue-format.md: the hourly cleanup removes it; the test
    removes it itself).

Calls counted (in the killed worker only, on files of the queue and of the Maildirs'
new/, cur/ and tmp/, not the mailbox indexes): rename, renameat(2), link(at), unlink(at),
fsync, fdatasync, syncfs, ftruncate, write, pwrite, copy_file_range. After a kill "after"
a call, the delivered files are moved to cur/ (as a reader does) before the restart, so
the look for an earlier delivery is tested in both folders. The shim cannot be preloaded
into ASan binaries (libasan must come first): the test skips under TERN_SANITIZE=true.
"""
import os
import re
import smtplib
import time
import uuid

import pytest

from conftest import SANITIZE, TERN

SENDER = "bob@example.test"
WATCH = ["alice@example.test", "bob@example.test", "carol@example.test"]
SHIM = os.environ.get("TERN_CRASHPOINT_SHIM") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(TERN)))),
    "tests", "crashpoint.so")
JUNK_ID = "1J00000000000000AAA"  # a recycled file in free/, longer than any test message
RUN_TIMEOUT = 15

pytestmark = pytest.mark.skipif(
    SANITIZE, reason="an ASan binary refuses an LD_PRELOAD library that is not libasan")


def body(token, rcpts, pad=0):
    return ("From: %s\r\nTo: %s\r\nSubject: crash point %s\r\n\r\ntoken=%s\r\nline two\r\n"
            % (SENDER, ", ".join(rcpts), token, token)) + ("x" * 70 + "\r\n") * pad


def send(port, messages):
    """Sends [(rcpts, data)] in one session: for each, whether the server said 250
    after its final dot (False from the first that did not on)."""
    acks = []
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            for rcpts, data in messages:
                refused = s.sendmail(SENDER, rcpts, data)
                acks.append(not refused)
    except (OSError, smtplib.SMTPException):
        pass
    return acks + [False] * (len(messages) - len(acks))


def read_new(maildir):
    """Moves new/ into cur/ with the Seen flag, as an IMAP or POP3 server does."""
    new = os.path.join(maildir, "new")
    for f in os.listdir(new) if os.path.isdir(new) else []:
        os.rename(os.path.join(new, f), os.path.join(maildir, "cur", f + ":2,S"))


RECEIVED = re.compile(
    rb"^Return-Path: <(?P<from>[^>]*)>\nDelivered-To: (?P<to>\S+)\n"
    rb"Received: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\)\n"
    rb"\tby mx\.example\.test \(Tern\) with ESMTP id (?P<id>[0-9A-V]{19})"
    rb"(?:\n\tfor <(?P<for>[^>]+)>)?; [^\n]+\n")


def check_name(path, qid, index, data, what):
    """NAME = ARRIVAL.QUEUEID_RCPTINDEX.HOSTNAME,S=SIZE (doc/queue-format.md)."""
    want = r"^\d+\.%s_%d\.mx\.example\.test,S=%d(:2,.*)?$" % (qid, index, len(data))
    assert re.match(want, os.path.basename(path)), (what, path, want)


def check_bytes(rcpt, index, sent, path, data, what, qid=None):
    """The delivered file is Tern's three added lines and the data as sent (LF ends);
    with qid (a message put in the queue by hand): Return-Path, Delivered-To, the data."""
    if qid is not None:
        head = "Return-Path: <%s>\nDelivered-To: %s\n" % (SENDER, rcpt)
        assert data == head.encode() + sent.replace("\r\n", "\n").encode(), (what, data)
        check_name(path, qid, index, data, what)
        return
    m = RECEIVED.match(data)
    assert m, "%s: %s: unexpected head %r" % (what, path, data[:300])
    assert m["from"] == SENDER.encode() and m["to"] == rcpt.encode(), (what, data[:200])
    assert m["for"] in (None, rcpt.encode()), (what, data[:300])
    assert data[m.end():] == sent.replace("\r\n", "\n").encode(), (what, data)
    check_name(path, m["id"].decode(), index, data, what)


def normalize(line):
    """A trace line without what changes from run to run (its number, the folder, IDs)."""
    _, name, path = line.split(" ", 2)
    path = re.sub(r"^.*/inst/", "", path)
    path = re.sub(r"[0-9A-V]{19}", "ID", path)
    path = re.sub(r"#\d+", "#INO", path)
    path = re.sub(r"/new/\d+\.ID_", "/new/T.ID_", path)
    path = re.sub(r",S=\d+", ",S=SIZE", path)
    return name + " " + path


class Sweep:
    """One instance, and the runs of one killed worker over one scenario: `messages`
    is a list of recipient lists, sent in one SMTP session each run."""

    def __init__(self, tern, role, messages, recycled=False, pad=0, inject=None, fail_at=0):
        self.tern = tern
        self.role = role
        self.messages = messages
        self.recycled = recycled
        self.pad = pad
        # inject(tokens) -> (sent, acks): puts the messages into the stopped server's
        # queue itself instead of sending them over SMTP once it runs.
        self.inject = inject
        self.fail_at = fail_at  # a call made to fail (EIO) in every run, kill or not
        self.q = os.path.join(tern.dir, "inst", "queue")
        self.cp = os.path.join(tern.dir, "crashpoint")
        os.makedirs(self.cp, exist_ok=True)
        os.chmod(self.cp, 0o777)  # the workers may run as run_user
        self.prefixes = [self.q] + [os.path.join(tern.maildir(a), sub)
                                          for a in WATCH for sub in ("new", "cur", "tmp")]
        # A clean start and stop first: every run then begins from a clean-stop mark.
        self.start()
        tern.stop()

    def start(self, fired=None):
        """Starts the server and waits for the queue manager to be up (a SIGTERM during
        its start would leave no clean-stop mark, and the next start, unclean, would
        empty the pool of recycled files and make other calls), or for the crash point
        `fired` to be hit on the way."""
        t = self.tern
        before = t.log().count("queue manager started")
        t.start()
        deadline = time.time() + 10
        while t.log().count("queue manager started") == before:
            if fired is not None and os.path.exists(fired):
                return
            assert time.time() < deadline, t.log()[-3000:]
            time.sleep(0.01)

    def prepare(self):
        """The same starting state for every run: server stopped cleanly, queue empty,
        the pool of recycled files empty or holding one file longer than the message."""
        for sub in ("env", "corrupt", "msg"):
            d = os.path.join(self.q, sub)
            assert not os.path.isdir(d) or not os.listdir(d), (sub, os.listdir(d))
        free = os.path.join(self.q, "free")
        os.makedirs(free, exist_ok=True)
        for f in os.listdir(free):
            os.unlink(os.path.join(free, f))
        if self.recycled:
            path = os.path.join(free, JUNK_ID + ".d")
            with open(path, "wb") as f:
                f.write(b"J" * 20000)
            st = os.stat(self.q)
            os.chown(path, st.st_uid, st.st_gid)
        for f in os.listdir(self.cp):
            os.unlink(os.path.join(self.cp, f))

    def run(self, at, when):
        """The messages through a server whose `role` worker is killed at call `at`
        (0: never). Returns (tokens, acks, fired, trace lines); the queue has drained
        and the server is stopped again."""
        self.prepare()
        fired = os.path.join(self.cp, "fired")
        trace = os.path.join(self.cp, "trace")
        t = self.tern
        t.serve_env = {"LD_PRELOAD": SHIM, "TERN_CRASHPOINT_ROLE": self.role,
                       "TERN_CRASHPOINT_PREFIX": ":".join(self.prefixes),
                       "TERN_CRASHPOINT_FIRED": fired, "TERN_CRASHPOINT_TRACE": trace,
                       "TERN_CRASHPOINT_AT": str(at), "TERN_CRASHPOINT_WHEN": when,
                       "TERN_CRASHPOINT_FAIL_AT": str(self.fail_at)}
        tokens = [uuid.uuid4().hex for _ in self.messages]
        if self.inject:
            sent, acks = self.inject(tokens)
        self.start(fired)
        early = os.path.exists(fired)  # killed while starting: restart, then send
        if early:
            self.restart(when)
        if not self.inject:
            sent = [(r, body(tok, r, self.pad)) for tok, r in zip(tokens, self.messages)]
            acks = send(t.ports["smtp"], sent)
        deadline = time.time() + RUN_TIMEOUT
        while not os.path.exists(fired) and not self.drained(tokens):
            assert time.time() < deadline, "run at %d %s: no kill and no delivery\n%s" % (
                at, when, t.log()[-3000:])
            time.sleep(0.02)
        hit = os.path.exists(fired)
        if hit and not early and when != "fail":
            self.restart(when)
        lines = open(trace).read().splitlines() if os.path.exists(trace) else []
        self.wait_drained("%s at %d %s" % (self.role, at, when))
        self.leftovers = self.take_leftovers()
        t.stop()
        t.serve_env = {}
        return tokens, sent, acks, hit, lines

    def restart(self, when):
        """After the kill: the rest of the server goes down with the worker (kill -9 of
        the process group, as in a crash of the machine's mail system), then a plain
        start without the shim."""
        t = self.tern
        t.kill9()
        if when == "after":
            # A mail reader saw what was delivered before the crash: the look for an
            # earlier delivery must find it in cur/ too.
            for addr in WATCH:
                read_new(t.maildir(addr))
        t.serve_env = {}
        self.start()

    def delivered(self, token):
        """{address: [(path, bytes)]} of the Maildir files holding token."""
        out = {}
        for addr in WATCH:
            out[addr] = []
            for path in self.tern.message_files(addr):
                data = open(path, "rb").read()
                if ("token=%s" % token).encode() in data:
                    out[addr].append((path, data))
        return out

    def drained(self, tokens):
        env = os.path.join(self.q, "env")
        return not os.listdir(env) and all(
            any(self.delivered(tok).values()) for tok in tokens)

    def wait_drained(self, what):
        env = os.path.join(self.q, "env")
        deadline = time.time() + 30
        while os.listdir(env) and time.time() < deadline:
            time.sleep(0.05)
        assert not os.listdir(env), "%s: queue not drained: %s\n%s" % (
            what, self.tern.run("queue", "list").stdout, self.tern.log()[-3000:])
        corrupt = os.path.join(self.q, "corrupt")
        assert not os.path.isdir(corrupt) or not os.listdir(corrupt), (what, os.listdir(corrupt))

    def take_leftovers(self):
        """The files left in msg/ (never committed), removed as the hourly cleanup would."""
        msg = os.path.join(self.q, "msg")
        out = []
        for f in os.listdir(msg) if os.path.isdir(msg) else []:
            out.append(open(os.path.join(msg, f), "rb").read())
            os.unlink(os.path.join(msg, f))
        return out


def format1_inject(tern, rcpts, ids, attrs=()):
    """A Sweep's inject: each run's message written by hand into the stopped server's
    queue in format 1 (as the previous version queued it), with the envelope attributes
    attrs ("NAME VALUE"); its queue ID is appended to ids."""
    from test_crash import write_format1_message
    q = os.path.join(tern.dir, "inst", "queue")

    def inject(tokens):
        qid = "1J%011d%03dAAA" % (len(ids) + 1, 0)
        ids.append(qid)
        data = body(tokens[0], rcpts).replace("\r\n", "\n")
        write_format1_message(q, qid, SENDER, rcpts, data.encode())
        if attrs:
            path = os.path.join(q, "env", qid)
            env = open(path).read().replace(
                "\nE\n", "".join("\nA %s" % a for a in attrs) + "\nE\n")
            with open(path, "w") as f:  # the same file: its owner stays
                f.write(env)
        return [(rcpts, data)], [True]
    return inject


def check_delivered(sweep, token, rcpts, sent, acked, what, qid=None):
    """Exactly once if acknowledged, else at most once and never split; byte for byte."""
    found = sweep.delivered(token)
    counts = {a: len(found[a]) for a in rcpts}
    if acked:
        assert all(n == 1 for n in counts.values()), "%s: acknowledged, delivered %s" % (
            what, counts)
    else:
        assert set(counts.values()) in ({0}, {1}), "%s: not acknowledged, delivered %s" % (
            what, counts)
    for addr in WATCH:
        if addr not in rcpts:
            assert not found[addr], (what, addr)
    for i, addr in enumerate(rcpts):
        for path, data in found[addr]:
            check_bytes(addr, i, sent, path, data, what, qid)


def walk(sweep, check, fail=False):
    """Traces the scenario, then kills at every call, before and after, and in the
    middle of every write (half its bytes written: "torn"); with fail, also makes each
    call fail with EIO instead ("fail": the worker goes on); check(at, when,
    done, ref, tokens, sent, acks) checks each run (done: the calls that had run whole
    when the worker was killed). Returns the reference trace (normalized)."""
    tokens, sent, acks, hit, ref = sweep.run(0, "before")
    assert all(acks) and not hit and ref, (acks, hit, ref)
    ref = [normalize(x) for x in ref]
    check(0, "before", ref, ref, tokens, sent, acks)
    assert not sweep.leftovers
    for at in range(1, len(ref) + 2):
        tearable = at <= len(ref) and ref[at - 1].startswith(("write ", "pwrite "))
        modes = ("before", "after") + (("torn",) if tearable else ())
        if at == sweep.fail_at:
            modes = ("before",)  # the call fails and is not made: nothing after it
        for when in modes + (("fail",) if fail and at <= len(ref) else ()):
            tokens, sent, acks, hit, lines = sweep.run(at, when)
            what = "%s at %d %s" % (sweep.role, at, when)
            if at > len(ref):
                # Past the end: no such call, nothing killed, all delivered once.
                assert all(acks) and not hit, (what, lines)
                check(at, when, ref, ref, tokens, sent, acks)
                break
            assert hit, "%s (%s): not reached\n%s\n%s" % (
                what, ref[at - 1], "\n".join(lines), sweep.tern.log()[-3000:])
            got = [normalize(x) for x in lines]
            assert got[:at] == ref[:at], (what, got, ref)
            done = ref[:at] if when == "after" else ref[:at - 1]  # torn, fail: as before
            check(at, when, done, ref, tokens, sent, acks)
    return ref


def check_receive(sweep):
    def check(at, when, done, ref, tokens, sent, acks):
        what = "smtp at %d %s" % (at, when)
        commits = [i for i, x in enumerate(done) if x in ("fsync queue/env", "syncfs queue/env")]
        for k, (token, (rcpts, data), acked) in enumerate(zip(tokens, sent, acks)):
            # 250 only after the message's commit: the fsync of env/ (one per message).
            assert not acked or len(commits) > k, (what, k, done)
            check_delivered(sweep, token, rcpts, data, acked, what)
        # Left in msg/: only a message that got no 250; nothing when a call failed (the
        # writer removes its file and answers with a temporary error).
        assert len(sweep.leftovers) <= acks.count(False), (what, len(sweep.leftovers))
        assert when != "fail" or not sweep.leftovers, (what, sweep.leftovers)
        for left in sweep.leftovers:
            assert not any(("token=%s" % t).encode() in left
                           for t, a in zip(tokens, acks) if a), what
    return check


def test_crashpoint_smtp_receive(tern_factory):
    """The smtp worker killed at each call of receiving one message (two recipients)
    into a new queue file (and each call failing with EIO: a temporary error, no 250),
    then into a recycled one (taken from free/, written over and cut)."""
    tern = tern_factory(start=False)
    rcpts = ["alice@example.test", "bob@example.test"]
    s = Sweep(tern, "smtp", [rcpts])
    fresh = walk(s, check_receive(s), fail=True)
    assert fresh == ["write queue/msg/ID", "fdatasync queue/msg/ID", "rename queue/msg/ID",
                     "fsync queue/env"], fresh
    s = Sweep(tern, "smtp", [rcpts], recycled=True)
    reused = walk(s, check_receive(s))
    assert reused == ["rename queue/free/%s.d" % "ID", "write queue/msg/ID",
                      "ftruncate queue/msg/ID", "fdatasync queue/msg/ID",
                      "rename queue/msg/ID", "fsync queue/env"], reused


def test_crashpoint_smtp_session(tern_factory):
    """Two messages in one SMTP session, the second one large (written in several
    pieces): a kill while the second is received must not lose or double the first,
    which got its 250. (No recycled files here: whether the first message's file is back
    in free/ when the second one starts is a matter of timing.)"""
    tern = tern_factory(start=False, options={"queue_recycle_files": "0"})
    s = Sweep(tern, "smtp", [["alice@example.test"], ["alice@example.test", "bob@example.test"]],
              pad=1200)
    ref = walk(s, check_receive(s))
    assert ref.count("fsync queue/env") == 2, ref
    assert ref.count("write queue/msg/ID") >= 3, ref  # the 84 KB message: several writes


def test_crashpoint_queue_delivery(tern_factory):
    """The queue worker killed at each call of delivering one message to two local
    recipients (two Maildirs) and removing it; includes a kill between the two
    deliveries and between the second one and the removal. Then each call fails with
    EIO instead: a Maildir call deferred (also the fsync of new/ after the link: the
    next pass must find the linked file), the manager's own calls at start fatal (the
    master starts it again), the removal's rename replaced by an unlink."""
    tern = tern_factory(start=False, options={"queue_retry_min": "1s",
                                              "queue_retry_max": "2s"})
    rcpts = ["alice@example.test", "bob@example.test"]
    s = Sweep(tern, "queue", [rcpts])

    def check(at, when, done, ref, tokens, sent, acks):
        assert acks == [True], acks
        check_delivered(s, tokens[0], rcpts, sent[0][1], True, "queue at %d %s" % (at, when))
        assert not s.leftovers

    ref = walk(s, check, fail=True)
    links = [i for i, x in enumerate(ref) if x.startswith(("link", "linkat"))]
    assert len(links) == 2 and "/alice/" in ref[links[0]] and "/bob/" in ref[links[1]], ref
    assert ref[-1] == "rename queue/env/ID", ref


def test_crashpoint_queue_bounce(tern_factory):
    """The queue worker killed at each call of a pass that delivers to alice and fails
    carol (over quota, quota_exceeded = bounce): the non-delivery notification is
    queued (a commit in the queue worker), delivered to the sender bob, the failure
    recorded ("f", write + fdatasync) and both messages removed. alice gets the message
    exactly once, carol never; bob gets exactly one notification at every point: also
    after a kill between the notification's commit and the failure record, when the
    restart (unclean) takes the record from the notification's envelope ("dsn_of")
    instead of failing carol again (doc/queue-format.md, "A notification exactly
    once")."""
    tern = tern_factory(start=False, options={
        "queue_retry_min": "1s", "queue_retry_max": "2s", "quota_exceeded": "bounce",
        # one delivery thread: the notification is delivered after the pass that queued
        # it, not at the same time (the order of the calls is then always the same)
        "queue_delivery_threads": "1"})
    r = tern.run("user", "add", "carol@example.test", "--quota", "5k", input="pw\n")
    assert r.returncode == 0, r.stderr
    tern.start()
    assert send(tern.ports["smtp"], [(["carol@example.test"],
                                      "Subject: fill\r\n\r\n" + "f" * 3000 + "\r\n")]) == [True]
    assert len(tern.wait_messages("carol@example.test", 1)) == 1
    tern.stop()
    rcpts = ["alice@example.test", "carol@example.test"]
    s = Sweep(tern, "queue", [rcpts], pad=40)
    dsn_name = r"^\d+\.[0-9A-V]{19}_0\.mx\.example\.test,S=(\d+)(:2,.*)?$"
    reconciled = [0]

    def check(at, when, done, ref, tokens, sent, acks):
        what = "queue at %d %s" % (at, when)
        assert acks == [True], acks
        found = s.delivered(tokens[0])
        assert len(found["alice@example.test"]) == 1, (what, found)
        path, data = found["alice@example.test"][0]
        check_bytes("alice@example.test", 0, sent[0][1], path, data, what)
        assert not found["carol@example.test"], what
        # Exactly one, also in the window where the notification is in env/ (its
        # commit's rename ran) and the failure record is not yet written.
        dsns = found["bob@example.test"]
        assert len(dsns) == 1, (what, len(dsns))
        commit = ref.index("rename queue/msg/ID")
        record = ref.index("write queue/env/ID")
        # There the restart took carol's record from the notification (the log is the
        # instance's, over all runs: the count grows in each such run).
        taken = s.tern.log().count(" written for the notification ")
        if commit < len(done) <= record:
            assert taken > reconciled[0], (what, taken, s.tern.log()[-4000:].splitlines())
        reconciled[0] = taken
        for path, data in dsns:
            assert data.startswith(b"Return-Path: <>\nDelivered-To: bob@example.test\n"), \
                (what, data[:200])
            assert b"multipart/report" in data and b"5.2.2" in data, (what, data[:2000])
            m = re.match(dsn_name, os.path.basename(path))
            assert m and int(m[1]) == len(data), (what, path)
        # Left in msg/: only a notification whose commit the kill cut short (empty when
        # killed before its first write).
        assert not s.leftovers or (
            len(s.leftovers) == 1 and ref[at - 1].endswith("queue/msg/ID")
            and (s.leftovers[0] == b"" or b"multipart/report" in s.leftovers[0])), (
                what, ref[at - 1], s.leftovers)

    ref = walk(s, check)
    assert ref.index("fsync queue/env") < ref.index("write queue/env/ID") < \
        ref.index("fdatasync queue/env/ID"), ref


def test_crashpoint_queue_success_report(tern_factory):
    """The queue worker killed at each call of a pass that delivers to alice, whose
    NOTIFY=SUCCESS asks for a report: the report is queued (a commit), then the message
    removed (format 1, written by hand: env/ID, then msg/ID), then the report delivered
    to bob. A kill between the report's commit and the removal leaves both queued; the
    unclean restart finds alice's file ("delivered before") and would report again, but
    takes her "o" record from the report's envelope first: bob gets exactly one report at
    every point, alice the message exactly once."""
    tern = tern_factory(start=False, options={"queue_delivery_threads": "1"})
    rcpts = ["alice@example.test"]
    ids = []
    inject = format1_inject(tern, rcpts, ids, attrs=["dsn_rcpt_0 NOTIFY=SUCCESS"])
    s = Sweep(tern, "queue", [rcpts], inject=inject)
    reconciled = [0]

    def check(at, when, done, ref, tokens, sent, acks):
        what = "queue at %d %s" % (at, when)
        check_delivered(s, tokens[0], rcpts, sent[0][1], True, what, qid=ids[-1])
        reports = [open(p, "rb").read() for p in s.tern.message_files("bob@example.test")]
        mine = [d for d in reports if ids[-1].encode() in d]
        assert len(mine) == 1, (what, len(mine))
        assert b"Action: delivered" in mine[0], (what, mine[0][:2000])
        taken = s.tern.log().count(" written for the notification ")
        commit = ref.index("fsync queue/env")
        removal = ref.index("rename queue/env/ID")
        if commit < len(done) <= removal:
            assert taken > reconciled[0], (what, taken)
        reconciled[0] = taken
        # Left in msg/: a report whose commit the kill cut short, or the message's data
        # when killed between its two removals (for the hourly cleanup).
        between = len(done) == removal + 1
        for left in s.leftovers:
            assert (between and ("token=%s" % tokens[0]).encode() in left) or (
                ref[at - 1].endswith("queue/msg/ID") and
                (left == b"" or b"multipart/report" in left)), (what, left[:300])
        assert len(s.leftovers) <= 1, (what, len(s.leftovers))

    ref = walk(s, check)
    assert ref.index("fsync queue/env") < ref.index("rename queue/env/ID"), ref


def test_crashpoint_syncfs(tern_factory):
    """The same with sync_method = syncfs: a syncfs(2) wherever an fsync or fdatasync
    was, for receiving and for delivering."""
    tern = tern_factory(start=False, options={"sync_method": "syncfs"})
    rcpts = ["alice@example.test", "bob@example.test"]
    s = Sweep(tern, "smtp", [rcpts])
    ref = walk(s, check_receive(s))
    assert ref == ["write queue/msg/ID", "syncfs queue/msg/ID", "rename queue/msg/ID",
                   "syncfs queue/env"], ref
    s = Sweep(tern, "queue", [rcpts])

    def check(at, when, done, ref, tokens, sent, acks):
        check_delivered(s, tokens[0], rcpts, sent[0][1], True, "queue at %d %s" % (at, when))
        assert not s.leftovers

    ref = walk(s, check)
    # Only the clean-stop mark's folder is still fsync'd (qmgr.c, once at start).
    assert [x for x in ref if x.startswith(("fsync", "fdatasync"))] == ["fsync queue"], ref
    assert len([x for x in ref if x.startswith("linkat")]) == 2, ref


def test_crashpoint_format1_delivery(tern_factory):
    """A message queued by the previous version (format 1: envelope env/ID, data msg/ID,
    written by hand while the server is stopped), delivered to two recipients by the
    queue worker killed at each call; its removal takes env/ID first, then msg/ID (a
    kill between them leaves the data without an envelope, for the hourly cleanup)."""
    tern = tern_factory(start=False)
    rcpts = ["alice@example.test", "bob@example.test"]
    ids = []
    s = Sweep(tern, "queue", [rcpts], inject=format1_inject(tern, rcpts, ids))

    def check(at, when, done, ref, tokens, sent, acks):
        what = "queue at %d %s" % (at, when)
        check_delivered(s, tokens[0], rcpts, sent[0][1], True, what, qid=ids[-1])
        # Left in msg/: the data, only when killed between the two removals.
        between = len(done) == len(ref) - 1
        assert not s.leftovers or (between and len(s.leftovers) == 1 and
                                   ("token=%s" % tokens[0]).encode() in s.leftovers[0]), \
            (what, s.leftovers)

    ref = walk(s, check)
    assert ref[-2:] == ["rename queue/env/ID", "rename queue/msg/ID"], ref


def test_crashpoint_after_a_failed_fsync_of_new(tern_factory):
    """A failure, then a crash: in every run the fsync of alice's new/ after the link
    fails (EIO, call 8), so her delivery is deferred although her file is there; the
    pass records that ("d" and "n": write + fdatasync, walked torn too), looks again and
    finds the file ("delivered before"). The queue worker is killed at each call around
    that; alice and bob still get the message exactly once."""
    tern = tern_factory(start=False, options={"queue_retry_min": "1s",
                                              "queue_retry_max": "2s"})
    rcpts = ["alice@example.test", "bob@example.test"]
    s = Sweep(tern, "queue", [rcpts], fail_at=8)

    def check(at, when, done, ref, tokens, sent, acks):
        check_delivered(s, tokens[0], rcpts, sent[0][1], True, "queue at %d %s" % (at, when))
        assert not s.leftovers

    ref = walk(s, check)
    assert ref[7] == "fsync data/mail/example.test/alice/new", ref
    assert ref[-3:] == ["write queue/env/ID", "fdatasync queue/env/ID",
                        "rename queue/env/ID"], ref
    assert "4.3.0 cannot fsync the folder of" in tern.log()
    assert "status=sent (2.0.0 delivered before)" in tern.log()
