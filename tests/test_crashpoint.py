"""Crash points (issue #2, DESIGN principle 1): the worker that receives a message (smtp)
or delivers it (queue) is killed with SIGKILL exactly before, then exactly after, each
system call that makes the message durable or moves it, one call per run, by the
LD_PRELOAD shim tests/crashpoint/crashpoint.c. A run first traces the calls of one
message (no kill), then N walks every call of that trace; a last run with N past the end
checks that nothing more is counted.

After each kill the whole server is killed too (kill -9 of the process group) and
started again without the shim, and the queue is left to drain. Then:
  - a message the client got 250 for is in each recipient's Maildir exactly once, byte
    for byte (Return-Path, Delivered-To, Tern's Received line, then the data);
  - one it did not get 250 for is there at most once, and for both recipients or neither
    (recipients of one queued message are never split);
  - the queue ends empty: nothing in env/ or corrupt/; what is left in msg/ is only the
    file of a message that was never acknowledged (doc/queue-format.md: the hourly
    cleanup removes it; the test removes it itself).

Calls counted (in the killed worker only, on files under the instance's folder): rename,
renameat(2), link(at), unlink(at), fsync, fdatasync, syncfs, ftruncate, write, pwrite,
copy_file_range. The shim cannot be preloaded into ASan binaries (libasan must come
first), so the test skips under TERN_SANITIZE=true.
"""
import os
import re
import shutil
import smtplib
import time
import uuid

import pytest

from conftest import SANITIZE, TERN

SENDER = "bob@example.test"
RCPTS = ["alice@example.test", "bob@example.test"]
SHIM = os.environ.get("TERN_CRASHPOINT_SHIM") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(TERN)))),
    "tests", "crashpoint.so")
JUNK_ID = "1J00000000000000AAA"  # a recycled file in free/, longer than any test message
RUN_TIMEOUT = 15

pytestmark = pytest.mark.skipif(
    SANITIZE, reason="an ASan binary refuses an LD_PRELOAD library that is not libasan")


class Sweep:
    """One instance, and the runs of one worker role over one path."""

    def __init__(self, tern, role, recycled):
        self.tern = tern
        self.role = role
        self.recycled = recycled
        self.q = os.path.join(tern.dir, "inst", "queue")
        self.cp = os.path.join(tern.dir, "crashpoint")
        os.makedirs(self.cp, exist_ok=True)
        os.chmod(self.cp, 0o777)  # the workers may run as run_user
        # A clean start and stop first: every run then begins from a clean-stop mark.
        self.start()
        tern.stop()

    def start(self):
        """Starts the server and waits for the queue manager to be up: a SIGTERM during
        its start would leave no clean-stop mark, and the next start (unclean) would
        empty the pool of recycled files and make other calls."""
        t = self.tern
        before = t.log().count("queue manager started")
        t.start()
        deadline = time.time() + 10
        while t.log().count("queue manager started") == before:
            assert time.time() < deadline, t.log()[-3000:]
            time.sleep(0.01)

    def prepare(self):
        """The same starting state for every run: server stopped cleanly, queue empty,
        the pool of recycled files empty or holding one file longer than the message."""
        for sub in ("env", "corrupt"):
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
        """One message through a server whose `role` worker is killed at call `at`
        (0: never). Returns (acknowledged, fired, token, trace lines)."""
        self.prepare()
        fired = os.path.join(self.cp, "fired")
        trace = os.path.join(self.cp, "trace")
        t = self.tern
        t.serve_env = {"LD_PRELOAD": SHIM, "TERN_CRASHPOINT_ROLE": self.role,
                       "TERN_CRASHPOINT_PREFIX": os.path.join(t.dir, "inst") + "/",
                       "TERN_CRASHPOINT_FIRED": fired, "TERN_CRASHPOINT_TRACE": trace,
                       "TERN_CRASHPOINT_AT": str(at), "TERN_CRASHPOINT_WHEN": when}
        self.start()
        token = uuid.uuid4().hex
        acked = send(t.ports["smtp"], token)
        deadline = time.time() + RUN_TIMEOUT
        while not os.path.exists(fired) and not self.drained(token):
            assert time.time() < deadline, "run at %d %s: no kill and no delivery\n%s" % (
                at, when, t.log()[-3000:])
            time.sleep(0.02)
        hit = os.path.exists(fired)
        if hit:
            # The rest of the server goes down with it, as in a crash of the machine's
            # mail system; then a plain restart.
            t.kill9()
            if when == "after":
                # A mail reader saw what was delivered before the crash: the look for
                # an earlier delivery must find it in cur/ too.
                for rcpt in RCPTS:
                    read_new(t.maildir(rcpt))
            t.serve_env = {}
            self.start()
        lines = open(trace).read().splitlines() if os.path.exists(trace) else []
        self.settle(token, acked, "%s at %d %s" % (self.role, at, when))
        return acked, hit, token, lines

    def delivered(self, token):
        """{recipient: [(path, bytes)]} of the Maildir files holding token."""
        out = {}
        for rcpt in RCPTS:
            out[rcpt] = []
            for path in self.tern.message_files(rcpt):
                data = open(path, "rb").read()
                if ("token=%s" % token).encode() in data:
                    out[rcpt].append((path, data))
        return out

    def drained(self, token):
        env = os.path.join(self.q, "env")
        return not os.listdir(env) and all(self.delivered(token).values())

    def settle(self, token, acked, what):
        """Waits for the queue to drain, checks the guarantee, stops the server cleanly."""
        t = self.tern
        env = os.path.join(self.q, "env")
        deadline = time.time() + 30
        while os.listdir(env) and time.time() < deadline:
            time.sleep(0.05)
        assert not os.listdir(env), "%s: queue not drained: %s\n%s" % (
            what, t.run("queue", "list").stdout, t.log()[-3000:])
        corrupt = os.path.join(self.q, "corrupt")
        assert not os.path.isdir(corrupt) or not os.listdir(corrupt), (what, os.listdir(corrupt))
        found = self.delivered(token)
        counts = {r: len(v) for r, v in found.items()}
        if acked:
            assert all(n == 1 for n in counts.values()), "%s: acknowledged, delivered %s" % (
                what, counts)
        else:
            assert set(counts.values()) in ({0}, {1}), "%s: not acknowledged, delivered %s" % (
                what, counts)
        for rcpt, files in found.items():
            for path, data in files:
                check_bytes(rcpt, token, path, data, what)
        # Left in msg/: only a message never acknowledged (not queued, no env/ID); the
        # manager removes it after an hour, the test now.
        msg = os.path.join(self.q, "msg")
        left = os.listdir(msg) if os.path.isdir(msg) else []
        assert not left or not acked, "%s: acknowledged but left in msg/: %s" % (what, left)
        for f in left:
            os.unlink(os.path.join(msg, f))
        t.stop()
        t.serve_env = {}


def read_new(maildir):
    """Moves new/ into cur/ with the Seen flag, as an IMAP or POP3 server does."""
    new = os.path.join(maildir, "new")
    for f in os.listdir(new) if os.path.isdir(new) else []:
        os.rename(os.path.join(new, f), os.path.join(maildir, "cur", f + ":2,S"))


def body(token):
    return "From: %s\r\nTo: %s\r\nSubject: crash point\r\n\r\ntoken=%s\r\nline two\r\n" % (
        SENDER, ", ".join(RCPTS), token)


def send(port, token):
    """True when the server said 250 after the final dot."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            refused = s.sendmail(SENDER, RCPTS, body(token))
        return not refused
    except (OSError, smtplib.SMTPException):
        return False


RECEIVED = re.compile(
    rb"^Return-Path: <(?P<from>[^>]*)>\nDelivered-To: (?P<to>\S+)\n"
    rb"Received: from \[127\.0\.0\.1\] \(\[127\.0\.0\.1\]\)\n"
    rb"\tby mx\.example\.test \(Tern\) with ESMTP id (?P<id>[0-9A-V]{19}); [^\n]+\n")


def check_bytes(rcpt, token, path, data, what):
    """The delivered file is Tern's three added lines and the data as sent (LF ends)."""
    m = RECEIVED.match(data)
    assert m, "%s: %s: unexpected head %r" % (what, path, data[:300])
    assert m["from"] == SENDER.encode() and m["to"] == rcpt.encode(), (what, data[:200])
    assert data[m.end():] == body(token).replace("\r\n", "\n").encode(), (what, data)
    name = os.path.basename(path)
    want = r"^\d+\.%s_%d\.mx\.example\.test,S=%d(:2,.*)?$" % (
        m["id"].decode(), RCPTS.index(rcpt), len(data))
    assert re.match(want, name), (what, name, want)


def normalize(line):
    """A trace line without what changes from run to run (its number, the folder, IDs)."""
    _, name, path = line.split(" ", 2)
    path = re.sub(r"^.*/inst/", "", path)
    path = re.sub(r"[0-9A-V]{19}", "ID", path)
    path = re.sub(r"#\d+", "#INO", path)
    path = re.sub(r"/new/\d+\.ID_", "/new/T.ID_", path)
    path = re.sub(r",S=\d+", ",S=SIZE", path)
    return name + " " + path


def sweep(tern, role, recycled):
    """Traces one message, then kills at every call, before and after. Returns the
    reference trace (normalized)."""
    s = Sweep(tern, role, recycled)
    acked, hit, _, ref = s.run(0, "before")
    assert acked and not hit and ref, (acked, hit, ref)
    ref = [normalize(x) for x in ref]
    for at in range(1, len(ref) + 2):
        for when in ("before", "after"):
            acked, hit, _, lines = s.run(at, when)
            if at > len(ref):
                # Past the end: no such call, nothing killed, delivered once.
                assert acked and not hit, (at, when, lines)
                break
            assert hit, "%s at %d %s (%s): not reached\n%s\n%s" % (
                role, at, when, ref[at - 1], "\n".join(lines), tern.log()[-3000:])
            got = [normalize(x) for x in lines]
            assert got[:at] == ref[:at], (role, at, when, got, ref)
            # 250 only after the message was committed: never before the flush of env/.
            done = ref[:at] if when == "after" else ref[:at - 1]
            if acked and role == "smtp":
                assert "fsync queue/env" in done, (at, when, ref)
    return ref


def test_crashpoint_smtp_receive(tern_factory):
    """The smtp worker killed at each call of receiving one message into a new queue
    file, then into a recycled one (taken from free/, written over and cut)."""
    tern = tern_factory(start=False)
    fresh = sweep(tern, "smtp", recycled=False)
    assert [x.split()[0] for x in fresh] == ["write", "fdatasync", "rename", "fsync"], fresh
    assert fresh[2:] == ["rename queue/msg/ID", "fsync queue/env"], fresh
    reused = sweep(tern, "smtp", recycled=True)
    assert reused[0] == "rename queue/free/%s.d" % ("ID"), reused
    assert "ftruncate queue/msg/ID" in reused, (reused, tern.log()[-4000:])


def test_crashpoint_queue_delivery(tern_factory):
    """The queue worker killed at each call of delivering one message to two local
    recipients (two Maildirs) and removing it; includes a kill between the two
    deliveries and between the second one and the removal."""
    tern = tern_factory(start=False, options={"queue_retry_min": "1s",
                                              "queue_retry_max": "2s"})
    ref = sweep(tern, "queue", recycled=False)
    links = [i for i, x in enumerate(ref) if x.startswith(("link", "linkat"))]
    assert len(links) == 2 and "/alice/" in ref[links[0]] and "/bob/" in ref[links[1]], ref
    assert ref[-1] == "rename queue/env/ID", ref
