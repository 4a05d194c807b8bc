"""The crash contract (DESIGN principle 1): 500 messages over SMTP from several threads
while the whole server (master and workers) is killed with SIGKILL several times and
restarted. Every message that got its 250 must end up in the Maildir exactly once;
one that did not may be there once or not at all, never twice. Queue files are recycled
meanwhile (QUEUE/free/), so kills also hit files being reused.
"""
import os
import re
import smtplib
import threading
import time
import uuid

from test_queue import pool_watcher

ALICE = "alice@example.test"
TOTAL = 500
THREADS = 6
KILLS = 4


def send_one(port, token):
    """True when the server acknowledged the message (250 after DATA)."""
    msg = ("From: bob@example.test\r\nTo: alice@example.test\r\nSubject: crash %s\r\n\r\n"
           "token=%s\r\n" % (token, token))
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.sendmail("bob@example.test", [ALICE], msg)
        return True
    except (OSError, smtplib.SMTPException):
        return False


def test_kill9_exactly_once(tern_factory):
    # A small pool of recycled queue files, so that kills land while files are being
    # recycled, taken from the pool, written over and cut (doc/queue-format.md).
    tern = tern_factory(options={"queue_retry_min": "1s", "queue_retry_max": "2s",
                                 "queue_recycle_files": "16"})
    port = tern.ports["smtp"]
    acked, unacked = [], []
    lock = threading.Lock()
    counter = iter(range(TOTAL))
    done = threading.Event()

    def sender():
        while True:
            with lock:
                try:
                    next(counter)
                except StopIteration:
                    return
            while True:
                token = uuid.uuid4().hex
                ok = send_one(port, token)
                with lock:
                    (acked if ok else unacked).append(token)
                if ok:
                    break
                time.sleep(0.05)

    def killer():
        for _ in range(KILLS):
            target = len(acked) + TOTAL // (KILLS + 2)
            while len(acked) < target and not done.is_set():
                time.sleep(0.01)
            if done.is_set():
                return
            tern.kill9()
            time.sleep(0.2)
            tern.start()

    threads = [threading.Thread(target=sender) for _ in range(THREADS)]
    k = threading.Thread(target=killer)
    pool_sizes = []
    watcher = pool_watcher(tern, pool_sizes, done)
    for t in threads:
        t.start()
    k.start()
    for t in threads:
        t.join(600)
    done.set()
    k.join(60)
    watcher.join(10)
    assert 1 <= max(pool_sizes) <= 16, sorted(set(pool_sizes))
    assert len(acked) == TOTAL
    # A final restart, then wait for the queue to drain.
    tern.kill9()
    tern.start()
    env = os.path.join(tern.dir, "inst", "queue", "env")
    deadline = time.time() + 120
    while time.time() < deadline and os.listdir(env):
        time.sleep(0.2)
    assert not os.listdir(env), tern.run("queue", "list").stdout + tern.log()[-5000:]
    counts = {}
    for data in tern.read_messages(ALICE):
        for tok in re.findall(rb"token=([0-9a-f]{32})", data):
            counts[tok.decode()] = counts.get(tok.decode(), 0) + 1
    missing = [t for t in acked if counts.get(t, 0) == 0]
    doubled = [t for t, n in counts.items() if n > 1]
    assert not missing, "%d acknowledged messages lost" % len(missing)
    assert not doubled, "%d messages delivered twice" % len(doubled)
    assert all(counts.get(t, 0) <= 1 for t in unacked)
    assert len(re.findall(r"started worker queue", tern.log())) >= KILLS + 2


def test_kill9_during_delivery_exactly_once(tern_factory):
    """The same contract for the queue manager alone: messages come in through
    `tern sendmail` (exit 0 = acknowledged) while the server is killed and restarted,
    and a 'mail reader' keeps moving delivered files from new/ to cur/ with flags, so a
    redelivery has to find them there."""
    tern = tern_factory(options={"queue_retry_min": "1s", "queue_retry_max": "2s"})
    n_msgs = 200
    acked = []
    stop = threading.Event()
    maildir = tern.maildir(ALICE)

    def reader():
        while not stop.is_set():
            new = os.path.join(maildir, "new")
            for f in (os.listdir(new) if os.path.isdir(new) else []):
                try:
                    os.rename(os.path.join(new, f), os.path.join(maildir, "cur", f + ":2,S"))
                except OSError:
                    pass
            time.sleep(0.005)

    def killer():
        while not stop.is_set():
            time.sleep(0.7)
            tern.kill9()
            tern.start()

    threads = [threading.Thread(target=reader), threading.Thread(target=killer)]
    for t in threads:
        t.start()
    try:
        for i in range(n_msgs):
            token = uuid.uuid4().hex
            r = tern.run("sendmail", ALICE,
                         input=("Subject: %d\n\ntoken=%s\n" % (i, token)).encode())
            if r.returncode == 0:
                acked.append(token)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    if tern.proc is None:
        tern.start()
    env = os.path.join(tern.dir, "inst", "queue", "env")
    deadline = time.time() + 120
    while time.time() < deadline and os.listdir(env):
        time.sleep(0.2)
    assert not os.listdir(env), tern.run("queue", "list").stdout
    counts = {}
    for data in tern.read_messages(ALICE):
        for tok in re.findall(rb"token=([0-9a-f]{32})", data):
            counts[tok.decode()] = counts.get(tok.decode(), 0) + 1
    assert len(acked) == n_msgs
    assert all(counts.get(t) == 1 for t in acked), \
        [(t, counts.get(t)) for t in acked if counts.get(t) != 1][:10]


def write_format1_message(q, qid, sender, rcpts, body, records=""):
    """A message as the previous version queued it (doc/queue-format.md, version 1):
    the data in msg/ID, the envelope "V 1" in env/ID, owned by the queue's owner."""
    st = os.stat(q)
    for sub in ("env", "msg"):
        os.makedirs(os.path.join(q, sub), exist_ok=True)
        os.chown(os.path.join(q, sub), st.st_uid, st.st_gid)
    env = "V 1\nI %s\nT %d\nZ %d\nF %s\n" % (qid, int(time.time()), len(body), sender)
    env += "".join("R %s\t%s\n" % (r, r) for r in rcpts) + "A helo old.example\nE\n" + records
    for sub, data in (("msg", body), ("env", env.encode())):
        path = os.path.join(q, sub, qid)
        with open(path, "wb") as f:
            f.write(data)
        os.chown(path, st.st_uid, st.st_gid)


def test_upgrade_from_format1_with_kills_exactly_once(tern_factory):
    """A queue written by the previous version (separate envelope files) is delivered
    after the upgrade, exactly once, while new messages (one file each) come in and the
    server is killed with SIGKILL and restarted; a held old message stays held, is
    listed and shown with its data only, and goes out once released."""
    tern = tern_factory(options={"queue_retry_min": "1s", "queue_retry_max": "2s"})
    tern.stop()
    q = os.path.join(tern.dir, "inst", "queue")
    old = {}
    for i in range(1000):
        qid = "1J%011d%03dAAA" % (i, 0)
        token = uuid.uuid4().hex
        body = ("Subject: old %d\n\ntoken=%s\n" % (i, token)).encode()
        write_format1_message(q, qid, "bob@example.test", [ALICE], body,
                              "d 0 5 4.4.1 earlier try\nn 0 1\n" if i % 3 == 0 else "")
        old[token] = qid
    held_token = uuid.uuid4().hex
    held_id = "1J00000009999000HAA"
    held_body = ("Subject: held\n\ntoken=%s\n" % held_token).encode()
    write_format1_message(q, held_id, "bob@example.test", [ALICE], held_body, "h 1\n")
    tern.start()
    acked = []
    kills = []

    def killer():
        for _ in range(4):
            time.sleep(0.15)
            tern.kill9()
            # old messages (their data still in msg/) left at this kill
            kills.append(len([f for f in os.listdir(os.path.join(q, "msg"))
                              if f.startswith("1J0")]))
            tern.start()

    k = threading.Thread(target=killer)
    k.start()
    sent = 0
    while k.is_alive() or sent < 20:
        token = uuid.uuid4().hex
        r = tern.run("sendmail", ALICE, input=("Subject: new %d\n\ntoken=%s\n" % (sent, token)).encode())
        sent += 1
        if r.returncode == 0:
            acked.append(token)
    k.join(60)
    assert len(kills) == 4 and kills[0] > 1, kills  # a kill hit the old messages' delivery
    if tern.proc is None:
        tern.start()
    env = os.path.join(q, "env")
    deadline = time.time() + 120
    while time.time() < deadline and os.listdir(env) != [held_id]:
        time.sleep(0.2)
    assert os.listdir(env) == [held_id], tern.run("queue", "list").stdout + tern.log()[-3000:]
    assert held_id in tern.run("queue", "list").stdout
    shown = tern.run("queue", "show", held_id).stdout
    assert shown.endswith("\n\n" + held_body.decode()), shown
    assert tern.run("queue", "release", held_id).returncode == 0
    deadline = time.time() + 60
    while time.time() < deadline and os.listdir(env):
        time.sleep(0.2)
    assert not os.listdir(env), tern.log()[-3000:]
    # A version 1 message is removed envelope first, then data: a kill between the two
    # leaves its data file alone in msg/, which the cleanup of files without an envelope
    # removes once it is old enough (doc/queue-format.md). Nothing else may be left.
    left = os.listdir(os.path.join(q, "msg"))
    assert set(left) <= set(old.values()), left
    counts = {}
    for data in tern.read_messages(ALICE):
        for tok in re.findall(rb"token=([0-9a-f]{32})", data):
            counts[tok.decode()] = counts.get(tok.decode(), 0) + 1
    want = list(old) + acked + [held_token]
    assert len(acked) == sent  # root's sendmail writes the queue itself, server or not
    bad = [(t, counts.get(t)) for t in want if counts.get(t) != 1]
    assert not bad, bad[:10]
    assert len(counts) == len(want)
