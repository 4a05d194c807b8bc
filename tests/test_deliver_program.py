"""The tern-deliver program: `tern deliver` linked on its own (src/tern/deliver-main.c).

It must behave as `tern deliver` does (the same code): the same folders for a procmail rc
file, the same exit codes, and it must not load the servers' libraries (TLS, DNS, event
loop: the reason it exists is that an MTA starts one agent per message).
"""
import os
import subprocess

import pytest

from conftest import TERN, tern_env

TERN_DELIVER = os.path.join(os.path.dirname(TERN), "tern-deliver")
USER = "alice@example.test"
MSG = b"From: Bob <bob@example.org>\nTo: alice@example.test\nSubject: %s\n\nline 1\n"

pytestmark = pytest.mark.skipif(not os.access(TERN_DELIVER, os.X_OK),
                                reason="no tern-deliver beside " + TERN)


def run(inst, argv, data):
    return subprocess.run(argv, input=data, env=tern_env(inst.conf), capture_output=True,
                          timeout=60)


def test_same_delivery_as_tern_deliver(tern_factory):
    inst = tern_factory(start=False)
    md = inst.maildir(USER)
    os.makedirs(md, exist_ok=True)
    with open(os.path.join(md, ".procmailrc"), "w") as f:
        f.write(":0\n* ^Subject:.*report\nreports/\n:0:\n* ^Subject:.*box\nbox\n")
    st = os.stat(os.path.join(inst.dir, "inst", "data"))
    for dp, dns, fns in os.walk(os.path.join(inst.dir, "inst", "data", "mail")):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            os.chown(n, st.st_uid, st.st_gid)
    for subject in (b"weekly report", b"to the box", b"hello"):
        for argv in ([TERN, "deliver"], [TERN_DELIVER]):
            r = run(inst, argv + ["-f", "bob@example.org", "-a", USER], MSG % subject)
            assert r.returncode == 0, r.stderr
    assert len(os.listdir(os.path.join(md, "reports", "new"))) == 2
    box = open(os.path.join(md, "box"), "rb").read()
    assert box.count(b"\nSubject: to the box\n") == 2
    inbox = inst.read_messages(USER)
    assert len(inbox) == 2
    assert all(m.startswith(b"Return-Path: <bob@example.org>\nDelivered-To: %s\n" % USER.encode())
               for m in inbox)


def test_exit_codes(tern_factory):
    inst = tern_factory(start=False)
    assert run(inst, [TERN_DELIVER], MSG % b"x").returncode == 64
    r = run(inst, [TERN_DELIVER, "-a", "nobody@example.test"], MSG % b"x")
    assert r.returncode == 67 and b"5.1.1" in r.stderr
    assert run(inst, [TERN_DELIVER, "-a", USER], b"").returncode == 65
    assert run(inst, [TERN_DELIVER, "-a", USER, "-c", "/nonexistent.conf"], b"x").returncode == 78


def test_does_not_load_the_servers_libraries():
    out = subprocess.run(["ldd", TERN_DELIVER], capture_output=True, text=True).stdout
    for lib in ("libssl", "libcrypto", "libevent", "libunbound"):
        assert lib not in out, out


@pytest.mark.parametrize("spool_memory", ["0", "64K", "1M"])
def test_spool_in_memory_or_in_a_file(tern_factory, spool_memory):
    """deliver_spool_memory: messages up to it are spooled in memory, bigger ones in an
    unlinked file in tmp/; either way the INBOX gets the same bytes, the From_ line's
    sender, and tmp/ is left empty."""
    inst = tern_factory(start=False)
    inst.set_option("deliver_spool_memory", spool_memory)
    body = b"".join(b"line %06d of a long message\n" % i for i in range(4000))  # 112 KB
    msgs = [MSG % b"small", (MSG % b"big") + body]
    for m in msgs:
        r = run(inst, [TERN_DELIVER, "-a", USER], b"From carol@example.net  Thu Nov 26 07:00:00 2026\n" + m)
        assert r.returncode == 0, r.stderr
    got = inst.read_messages(USER)
    head = b"Return-Path: <carol@example.net>\nDelivered-To: %s\n" % USER.encode()
    assert sorted(got) == sorted(head + m for m in msgs)
    assert os.listdir(os.path.join(inst.maildir(USER), "tmp")) == []
