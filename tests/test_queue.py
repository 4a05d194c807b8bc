"""Queue, local delivery and the sendmail/mailq/tern queue commands, end to end.

Messages go in with `tern sendmail` (as root: it switches to the queue's owner) and
come out in alice's Maildir; the byte-for-byte check strips only what Tern adds.
"""
import os
import re
import time

from conftest import free_port, read_queued

ALICE = "alice@example.test"


def queue_dir(tern):
    return os.path.join(tern.dir, "inst", "queue")


def wait_queue_empty(tern, timeout=30):
    env = os.path.join(queue_dir(tern), "env")
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not os.path.isdir(env) or not os.listdir(env):
            return True
        time.sleep(0.1)
    return False


def wait_mailq(tern, text, timeout):
    """mailq's output once it shows text (or the last one, after timeout seconds)."""
    deadline = time.time() + timeout
    out = ""
    while time.time() < deadline:
        out = tern.run("mailq").stdout
        if text in out:
            break
        time.sleep(0.1)
    return out


def split_delivered(data):
    """(Return-Path, Delivered-To, Received field, rest) of a delivered file."""
    lines = data.split(b"\n")
    assert lines[0].startswith(b"Return-Path: <"), data[:200]
    assert lines[1].startswith(b"Delivered-To: "), data[:200]
    i = 3
    assert lines[2].startswith(b"Received: "), data[:300]
    while lines[i].startswith((b"\t", b" ")):
        i += 1
    return lines[0], lines[1], b"\n".join(lines[2:i]), b"\n".join(lines[i:])


def test_sendmail_t_byte_for_byte(tern):
    msg = (b"From: Bob <bob@example.test>\r\n"
           b"To: Alice <alice@example.test>\r\n"
           b"Bcc: secret@example.test\r\n"
           b"Date: Thu, 26 Nov 2026 07:00:00 +0000\r\n"
           b"Message-ID: <t1@example.test>\r\n"
           b"Subject: byte for byte\r\n"
           b"\r\n"
           b"line one\r\n"
           b"..two dots stay\r\n"
           b"\ttab line\xc3\xa9\r\n"
           b" \r\n"
           b"last line without dot handling\r\n")
    r = tern.run("sendmail", "-t", "-i", "-f", "bob@example.test", input=msg)
    assert r.returncode == 0, r.stderr
    files = tern.wait_messages(ALICE, 1, timeout=15)
    assert len(files) == 1, tern.log()
    data = open(files[0], "rb").read()
    rp, dt, received, rest = split_delivered(data)
    assert rp == b"Return-Path: <bob@example.test>"
    assert dt == b"Delivered-To: alice@example.test"
    assert b"Tern" in received
    want = msg.replace(b"\r\n", b"\n").replace(b"Bcc: secret@example.test\n", b"")
    assert rest == want
    # Maildir name: TIME.QUEUEID_RCPT.HOST,S=SIZE
    name = os.path.basename(files[0])
    assert re.match(r"^\d+\.[0-9A-V]{19}_0\.mx\.example\.test,S=%d$" % len(data), name), name
    assert wait_queue_empty(tern), tern.run("queue", "list").stdout
    assert re.search(r": to=<alice@example.test>, mailbox=\S+, status=sent \(2\.0\.0", tern.log())
    assert re.search(r"[0-9A-V]{19}: removed", tern.log())


def test_sendmail_adds_headers_and_dot_ends(tern):
    r = tern.run("sendmail", "-F", "Carol Example", ALICE,
                 input=b"Subject: no from\n\nbody\n.\nnot part of it\n")
    assert r.returncode == 0, r.stderr
    files = tern.wait_messages(ALICE, 1, timeout=15)
    assert len(files) == 1, tern.log()
    data = open(files[0], "rb").read()
    assert b"\nFrom: \"Carol Example\" <" in data
    assert b"\nDate: " in data
    assert b"\nMessage-ID: <" in data
    assert data.endswith(b"\n\nbody\n")
    assert b"not part of it" not in data


def test_sendmail_usage_and_no_recipients(tern):
    r = tern.run("sendmail", "-t", input=b"Subject: nobody\n\nx\n")
    assert r.returncode == 65
    r = tern.run("sendmail", "-bz", ALICE, input=b"x\n")
    assert r.returncode == 64
    r = tern.run("sendmail", "-oem", "-odb", "-i", "--", ALICE, input=b"Subject: o\n\nok\n")
    assert r.returncode == 0, r.stderr
    assert len(tern.wait_messages(ALICE, 1, timeout=15)) == 1


def test_mailq_shows_remote_with_reason(tern_factory):
    # Outbound mail goes to a smarthost that is down: it waits in the queue, deferred.
    tern = tern_factory(options={"relayhost": "[127.0.0.1]:%d" % free_port()})
    r = tern.run("sendmail", "-f", "alice@example.test", "someone@remote.example", ALICE,
                 input=b"Subject: remote\n\nhello\n")
    assert r.returncode == 0, r.stderr
    assert len(tern.wait_messages(ALICE, 1, timeout=15)) == 1
    out = wait_mailq(tern, "(deferred: 4.", 10)
    assert "-Queue ID-" in out
    assert "alice@example.test" in out
    assert re.search(r"\(deferred: 4\.\d\.\d [^)]+\)", out), out
    assert "someone@remote.example" in out
    assert "(delivered)" in out
    qid = re.search(r"^([0-9A-V]{19})", out, re.M).group(1)
    assert "Request." in out
    assert tern.run("queue", "list").stdout.split("\n")[0] == out.split("\n")[0]
    show = tern.run("queue", "show", qid)
    assert show.returncode == 0
    assert "recipient 0: <someone@remote.example>" in show.stdout
    assert "hello" in show.stdout
    # hold, release, delete
    assert tern.run("queue", "hold", qid).returncode == 0
    assert re.search(r"^%s!" % qid, tern.run("mailq").stdout, re.M)
    assert tern.run("queue", "release", qid).returncode == 0
    assert tern.run("queue", "delete", qid).returncode == 0
    assert "Mail queue is empty" in tern.run("mailq").stdout
    assert tern.run("queue", "show", qid).returncode != 0
    assert tern.run("queue", "show", "../../etc/passwd").returncode != 0
    assert tern.run("queue", "flush").returncode == 0


def test_unknown_local_user_fails(tern):
    r = tern.run("sendmail", "nosuchuser@example.test", input=b"Subject: x\n\nx\n")
    assert r.returncode == 0, r.stderr
    assert wait_queue_empty(tern), tern.log()
    assert re.search(r"to=<nosuchuser@example.test>.*status=bounced \(5\.1\.1", tern.log())


def test_damaged_envelope_goes_to_corrupt(tern):
    tern.stop()
    q = queue_dir(tern)
    os.makedirs(os.path.join(q, "env"), exist_ok=True)
    os.makedirs(os.path.join(q, "msg"), exist_ok=True)
    qid = "1J0000000000000001A"
    open(os.path.join(q, "env", qid), "w").write("V 1\nI %s\ngarbage\n" % qid)
    open(os.path.join(q, "msg", qid), "w").write("Subject: x\n\nx\n")
    st = os.stat(q)
    for sub in ("env", "msg"):
        # the folders too: the queue worker may not have made them yet
        os.chown(os.path.join(q, sub), st.st_uid, st.st_gid)
        os.chown(os.path.join(q, sub, qid), st.st_uid, st.st_gid)
    tern.start()
    path = os.path.join(q, "corrupt", qid + ".env")
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(path):
        time.sleep(0.1)
    assert os.path.exists(path), tern.log()
    assert os.path.exists(os.path.join(q, "corrupt", qid))
    assert "damaged envelope" in tern.log()


def test_newaliases_without_aliases_file(tern):
    # Package scripts run newaliases after installing: with no aliases file yet it
    # succeeds and says so (tests/test_alias.py covers real aliases).
    r = tern.run("newaliases")
    assert r.returncode == 0
    assert "no such file, nothing to do" in r.stdout


def test_arrival_ahead_of_the_clock_is_not_expired(tern_factory):
    # A message whose arrival time is ahead of the manager's clock (the clock stepped
    # back, or time(2) lagging the precise clock the arrival was taken from by a tick)
    # has age 0, not a huge unsigned age: it is deferred, never bounced as expired.
    tern = tern_factory(options={"relayhost": "[127.0.0.1]:%d" % free_port()})
    tern.stop()
    q = queue_dir(tern)
    for sub in ("env", "msg"):
        os.makedirs(os.path.join(q, sub), exist_ok=True)
    qid = "1J0000000000000002A"
    body = "Subject: future\n\nhello\n"
    open(os.path.join(q, "msg", qid), "w").write(body)
    open(os.path.join(q, "env", qid), "w").write(
        "V 1\nI %s\nT %d\nZ %d\nF alice@example.test\nR someone@remote.example\t\nE\n"
        % (qid, int(time.time()) + 120, len(body)))
    st = os.stat(q)
    for sub in ("env", "msg"):
        os.chown(os.path.join(q, sub), st.st_uid, st.st_gid)
        os.chown(os.path.join(q, sub, qid), st.st_uid, st.st_gid)
    tern.start()
    out = wait_mailq(tern, "(deferred: 4.4.1", 15)
    assert "(deferred: 4.4.1" in out, (out, tern.log())
    assert qid in out
    assert "5.4.7" not in tern.log() and "status=bounced" not in tern.log(), tern.log()
    assert re.search(r"to=<someone@remote.example>.*status=deferred.*delay=0s", tern.log())


def pool_inodes(tern):
    free = os.path.join(queue_dir(tern), "free")
    return {os.stat(os.path.join(free, f)).st_ino: f for f in os.listdir(free)}


def pool_watcher(tern, sizes, done):
    """Samples how many recycled queue files wait in QUEUE/free/ until done is set
    (a started thread; the folder appears when the queue manager has started)."""
    import threading
    free = os.path.join(queue_dir(tern), "free")

    def watch():
        while not done.is_set():
            try:
                sizes.append(len(os.listdir(free)))
            except FileNotFoundError:
                pass
            time.sleep(0.002)
    t = threading.Thread(target=watch)
    t.start()
    return t


def test_recycled_files_hold_the_next_message_byte_for_byte(tern):
    """A delivered message's queue file goes to QUEUE/free/; the next message (shorter,
    with a shorter envelope) is written into those very files and arrives exactly."""
    import smtplib
    long_body = b"".join(b"%06d the long first message, its bytes must not leak\r\n" % i
                         for i in range(4000))
    long_msg = b"Subject: long\r\n\r\n" + long_body
    with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=20) as s:
        s.sendmail("carol@source.test", [ALICE, "bob@example.test"], long_msg)
    assert len(tern.wait_messages(ALICE, 1, timeout=15)) == 1, tern.log()
    assert wait_queue_empty(tern)
    deadline = time.time() + 10
    while len(pool_inodes(tern)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    before = pool_inodes(tern)
    assert len(before) == 1, (before, tern.log()[-2000:])  # one file per message

    short = (b"From: Bob <bob@example.test>\r\nTo: alice@example.test\r\n"
             b"Date: Thu, 26 Nov 2026 07:00:00 +0000\r\nMessage-ID: <r1@example.test>\r\n"
             b"Subject: short\r\n\r\nshort body\r\n")
    r = tern.run("sendmail", "-i", "-f", "bob@example.test", ALICE, input=short)
    assert r.returncode == 0, r.stderr
    files = tern.wait_messages(ALICE, 2, timeout=15)
    assert len(files) == 2, tern.log()
    data = [open(f, "rb").read() for f in files]
    got = [d for d in data if b"Subject: short" in d]
    assert len(got) == 1
    rp, dt, received, rest = split_delivered(got[0])
    assert rp == b"Return-Path: <bob@example.test>"
    assert dt == b"Delivered-To: alice@example.test"
    assert rest == short.replace(b"\r\n", b"\n")
    assert wait_queue_empty(tern)
    # The short message went through the same inode: it is back in the pool,
    # under its queue ID.
    deadline = time.time() + 10
    while set(pool_inodes(tern)) != set(before) and time.time() < deadline:
        time.sleep(0.05)
    after = pool_inodes(tern)
    assert set(after) == set(before), (before, after)
    assert set(after.values()).isdisjoint(before.values())
    # The long one arrived whole as well.
    longs = [d for d in data if b"Subject: long" in d]
    assert len(longs) == 1 and split_delivered(longs[0])[3] == long_msg.replace(b"\r\n", b"\n")


def test_recycle_pool_bound(tern_factory):
    """With queue_recycle_files = 3, messages that finish together leave at most three
    files in the pool: the others are deleted."""
    import smtplib
    import threading
    tern = tern_factory(options={"queue_recycle_files": "3"})
    errors = []

    def send(n):
        try:
            with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=20) as s:
                for i in range(5):
                    s.sendmail("carol@source.test", [ALICE],
                               "Subject: %d-%d\r\n\r\nbody\r\n" % (n, i))
        except (OSError, smtplib.SMTPException) as e:
            errors.append(e)

    sizes = []
    done = threading.Event()
    threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
    watcher = pool_watcher(tern, sizes, done)
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(tern.wait_messages(ALICE, 30, timeout=20)) == 30, tern.log()
    assert wait_queue_empty(tern)
    time.sleep(0.3)
    done.set()
    watcher.join(10)
    # Files were recycled (and taken again), never more than three at once.
    assert max(sizes) <= 3 and max(sizes) >= 1, sorted(set(sizes))
    assert not os.listdir(os.path.join(queue_dir(tern), "msg"))


def test_filters_read_only_the_message_not_the_envelope_after_it(tern):
    """A queued message's file goes on with its envelope (doc/queue-format.md): a Sieve
    script that looks through the whole raw body for the envelope's records finds
    nothing, and the delivered file holds exactly the message."""
    d = os.path.join(tern.dir, "inst", "data", "sieve", "example.test", "alice")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "active.sieve"), "w").write(
        'require ["body", "fileinto"];\n'
        'if body :raw :contains ["origin sendmail", "V 2", "alice@example.test"] {\n'
        '  fileinto "Leaked"; stop;\n}\n'
        'if body :raw :contains "last line" { fileinto "Seen"; }\n')
    st = os.stat(os.path.join(tern.dir, "inst", "data"))
    for dp, dns, fns in os.walk(os.path.join(tern.dir, "inst", "data", "sieve")):
        for n in [dp] + [os.path.join(dp, x) for x in fns]:
            os.chown(n, st.st_uid, st.st_gid)
    body = b"Subject: filtered\n\nfirst line\nlast line without its end"
    r = tern.run("sendmail", "-i", "-f", "bob@example.test", ALICE, input=body)
    assert r.returncode == 0, r.stderr
    assert wait_queue_empty(tern), tern.log()
    md = tern.maildir(ALICE)
    deadline = time.time() + 10
    seen = os.path.join(md, ".Seen", "new")
    while time.time() < deadline and not (os.path.isdir(seen) and os.listdir(seen)):
        time.sleep(0.1)
    assert not os.path.exists(os.path.join(md, ".Leaked")), tern.log()
    (name,) = os.listdir(seen)
    data = open(os.path.join(seen, name), "rb").read()
    rest = split_delivered(data)[3]  # sendmail added From:, Date:, Message-ID:
    assert rest.startswith(b"Subject: filtered\n"), rest
    assert rest.endswith(b"\n\nfirst line\nlast line without its end\n"), rest


def queue_by_hand(q, qid, sender, rcpts, data, attrs=(), records="", age=0):
    """A message put into the stopped server's queue by hand (format 1, which the
    manager reads as well: doc/queue-format.md), with attributes, state records, and an
    arrival time age seconds ago."""
    from test_crash import write_format1_message
    write_format1_message(q, qid, sender, rcpts, data.encode(), records)
    path = os.path.join(q, "env", qid)
    env = open(path).read().replace("\nE\n", "".join("\nA %s" % a for a in attrs) + "\nE\n")
    env = re.sub(r"\nT (\d+)\n", lambda m: "\nT %d\n" % (int(m[1]) - age), env)
    with open(path, "w") as f:  # the same file: its owner stays
        f.write(env)


def stop_cleanly(tern):
    """Stops the server once its queue manager is up (a SIGTERM while it starts leaves
    no clean-stop mark): QUEUE/clean is then there."""
    deadline = time.time() + 15
    while "queue manager started" not in tern.log() and time.time() < deadline:
        time.sleep(0.05)
    tern.stop()
    assert os.path.exists(os.path.join(queue_dir(tern), "clean")), tern.log()[-3000:]


def notification_by_hand(q, qid, origin, key, idx, token):
    """What a pass queues before it records its outcomes: a notification from <> to bob
    naming the origin's records it stands for (dsn_of)."""
    queue_by_hand(q, qid, "", ["bob@example.test"],
                  "Subject: notification %s\n\ntoken=%s\n" % (token, token),
                  attrs=["bounce yes", "bounce_of %s" % origin, "dsn_of %s %s %s" % (
                      origin, key, idx)])


def test_notification_records_taken_at_unclean_start(tern_factory):
    """A crash between the commit of a notification and the records it stands for,
    made by hand: a bounce queued for nosuch (index 1) of message O whose "f 1" is
    missing, and a delay warning for message W (deferred, 2 hours old) whose "w 0" is
    missing. Started after an unclean stop (no clean-stop mark), the manager writes those
    records into O and W before any pass: bob gets the two notifications and nothing
    else (no second bounce, no second warning), alice gets O once, W stays deferred."""
    tern = tern_factory(options={"relayhost": "[127.0.0.1]:%d" % free_port(),
                                 "delay_warning_time": "1h"})
    stop_cleanly(tern)
    q = queue_dir(tern)
    o, n1, w, n2 = ("1J00000000000000O0A", "1J00000000000000O1A", "1J00000000000000D0A",
                    "1J00000000000000D1A")
    queue_by_hand(q, o, "bob@example.test", [ALICE, "nosuch@example.test"],
                  "Subject: origin\n\ntoken=origin-o\n")
    notification_by_hand(q, n1, o, "f", "1", "bounce-o")
    queue_by_hand(q, w, "bob@example.test", ["someone@remote.example"],
                  "Subject: slow\n\ntoken=origin-w\n", records="d 0 %d 4.4.1 down\n" % (
                      time.time() - 3600), age=7200)
    notification_by_hand(q, n2, w, "w", "0", "warning-w")
    os.unlink(os.path.join(q, "clean"))  # as after a crash
    tern.start()
    assert len(tern.wait_messages("bob@example.test", 2, timeout=15)) >= 2, tern.log()[-3000:]
    assert len(tern.wait_messages(ALICE, 1, timeout=15)) == 1
    deadline = time.time() + 15
    while os.path.exists(os.path.join(q, "env", o)) and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(os.path.join(q, "env", o)), tern.log()
    out = wait_mailq(tern, "(deferred: 4.", 10)
    assert w in out, (out, tern.log())
    time.sleep(1)  # a second bounce or warning would be queued and delivered by now
    got = tern.read_messages("bob@example.test")
    assert len(got) == 2, [m[:300] for m in got]
    assert any(b"token=bounce-o" in m for m in got) and any(b"token=warning-w" in m for m in got)
    alice = tern.read_messages(ALICE)
    assert len(alice) == 1 and b"token=origin-o" in alice[0], alice
    log = tern.log()
    assert "%s: 1 f record written for the notification %s" % (o, n1) in log, log
    assert "%s: 1 w record written for the notification %s" % (w, n2) in log, log
    assert "2 queued notifications checked" in log, log
    assert "sender non-delivery notification" not in log, log
    assert "sender delay notification" not in log, log
    env, _ = read_queued(q, w)
    assert re.search(r"\nw 0 \d+\n", env), env


def test_notification_records_written_before_its_delivery(tern_factory):
    """With several delivery threads a notification can be delivered and removed while
    the pass that queued it has not yet recorded its outcomes; so a notification's own
    pass first writes what it stands for into its origin. Made by hand (clean start, no
    crash): O is held with nosuch's failure unrecorded, its bounce N queued. N is
    delivered to bob and O gets "f 1" from it; released, O goes to alice and no second
    bounce is sent."""
    tern = tern_factory()
    stop_cleanly(tern)
    q = queue_dir(tern)
    o, n = "1J00000000000000H0A", "1J00000000000000H1A"
    queue_by_hand(q, o, "bob@example.test", [ALICE, "nosuch@example.test"],
                  "Subject: held\n\ntoken=origin-h\n", records="h 1\n")
    notification_by_hand(q, n, o, "f", "1", "bounce-h")
    tern.start()
    assert len(tern.wait_messages("bob@example.test", 1, timeout=15)) == 1
    assert wait_queue_empty(tern, timeout=0.1) is False  # O is held
    env, _ = read_queued(q, o)
    assert re.search(r"\nf 1 \d+ 5\.0\.0 failed, reported to the sender by %s\n" % n, env), env
    assert "queued notifications checked" not in tern.log()  # clean start: no scan
    assert tern.run("queue", "release", o).returncode == 0
    assert wait_queue_empty(tern), tern.log()
    alice = tern.read_messages(ALICE)
    assert len(alice) == 1 and b"token=origin-h" in alice[0], alice
    time.sleep(0.5)
    got = tern.read_messages("bob@example.test")
    assert len(got) == 1 and b"token=bounce-h" in got[0], [m[:300] for m in got]
    assert "sender non-delivery notification" not in tern.log(), tern.log()
