"""Interoperability tests of the mail store (Maildir and mbox) with the programs that share
the files: procmail delivering into an mbox while Tern appends and expunges, mutt changing
flags, Dovecot writing a Maildir, a kill -9 in the middle of an mbox rewrite, the repair
tool on damaged mailboxes, and convert round trips.

They drive lib-store through build/src/lib-store/store-tool (see store-tool.c), which
also runs the `tern reindex/repair/convert` command code.
"""
import mailbox
import os
import re
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import TERN

BUILD = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(TERN))))
TOOL = os.path.join(BUILD, "src", "lib-store", "store-tool")

pytestmark = pytest.mark.skipif(not os.path.exists(TOOL), reason="store-tool not built")


def tool(*args, stdin=None, check=True):
    r = subprocess.run([TOOL, *args], input=stdin, capture_output=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError("store-tool %s: %s" % (args, r.stderr.decode()))
    return r.stdout.decode()


def listing(store, folder="INBOX"):
    """[(uid, flags, size, keywords...)] from store-tool list."""
    out = []
    for line in tool("list", store, folder).splitlines():
        parts = line.split()
        out.append((int(parts[0]), "" if parts[1] == "-" else parts[1], int(parts[2]),
                    parts[3:]))
    return out


def msg(subject, body="hello\n"):
    return ("From: a@example.org\nTo: b@example.org\nSubject: %s\n\n%s" % (subject, body)).encode()


def subjects(path):
    box = mailbox.mbox(path, create=False)
    try:
        return [m["Subject"] for m in box]
    finally:
        box.close()


def procmail_rc(tmp_path, target):
    rc = tmp_path / "procmailrc"
    rc.write_text("MAILDIR=%s\nLOGFILE=%s/procmail.log\n:0:\n%s\n" % (tmp_path, tmp_path, target))
    os.chmod(rc, 0o600)
    return rc


def test_procmail_and_tern_share_an_mbox(tmp_path):
    mbox = tmp_path / "inbox"
    store = "mbox:%s" % mbox
    rc = procmail_rc(tmp_path, mbox)
    n = 25
    errors = []

    def deliver():
        for i in range(n):
            r = subprocess.run(["procmail", "-m", "-f", "pm@example.org", str(rc)],
                               input=msg("pm-%d" % i, "From the procmail side\nline\n"),
                               capture_output=True, timeout=60)
            if r.returncode != 0:
                errors.append(r.stderr)

    t = threading.Thread(target=deliver)
    t.start()
    expunged = []
    for i in range(n):
        uid = int(tool("append", store, "INBOX", stdin=msg("tern-%d" % i)).strip())
        if i % 3 == 0:
            tool("expunge", store, "INBOX", str(uid))
            expunged.append("tern-%d" % i)
    t.join()
    assert not errors
    got = subjects(mbox)
    want = ["pm-%d" % i for i in range(n)] + \
           ["tern-%d" % i for i in range(n) if "tern-%d" % i not in expunged]
    assert sorted(got) == sorted(want)  # every message there, once
    rows = listing(store)
    assert len(rows) == len(want)
    uids = [r[0] for r in rows]
    assert uids == sorted(set(uids))
    # a procmail message reads back unquoted
    box = mailbox.mbox(mbox)
    pm = [k for k, m in box.items() if m["Subject"] == "pm-0"]
    box.close()
    assert pm
    body = [tool("cat", store, "INBOX", str(u)) for u, *_ in rows]
    assert any("\nFrom the procmail side\n" in b for b in body)


def run_mutt(tmp_path, folder, keys):
    """mutt in batch under a pseudo-terminal (script), keys pushed with -e."""
    muttrc = tmp_path / "muttrc"
    muttrc.write_text("set move=no\nset mbox_type=mbox\nset confirmappend=no\n"
                      "set confirmcreate=no\nset folder=%s\nset spoolfile=%s\n"
                      "set quit=yes\nset delete=yes\nset mark_old=no\n" % (tmp_path, folder))
    cmd = "mutt -n -F %s -f %s -e 'push \"%s\"'" % (muttrc, folder, keys)
    env = dict(os.environ, TERM="vt100", HOME=str(tmp_path))
    subprocess.run(["script", "-qec", cmd, "/dev/null"], env=env, capture_output=True,
                   timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("fmt", ["mbox", "maildir"])
def test_mutt_changes_a_flag(tmp_path, fmt):
    path = tmp_path / "mail"
    store = "%s:%s" % (fmt, path)
    tool("append", store, "INBOX", stdin=msg("one"))
    tool("append", store, "INBOX", stdin=msg("two"), )
    before = listing(store)
    assert [r[1] for r in before] == ["", ""]
    run_mutt(tmp_path, path, "<flag-message><sync-mailbox><quit>")
    after = listing(store)
    assert [r[0] for r in after] == [r[0] for r in before]
    # mutt flagged the message under its cursor (the order of equal dates is its own)
    assert sorted("F" in r[1] for r in after) == [False, True]


def dovecot_conf(tmp_path):
    """A Dovecot with no listeners, for doveadm; its user is nobody (Dovecot refuses root),
    so its home is in a folder nobody can reach (pytest's tmp_path is 0700)."""
    top = tempfile.mkdtemp(prefix="tern-dovecot-")
    os.chmod(top, 0o755)
    home = pathlib.Path(top) / "home"
    home.mkdir()
    os.chown(home, 65534, 65534)
    conf = tmp_path / "dovecot.conf"
    conf.write_text(
        "mail_location = maildir:%s/Maildir\nprotocols =\nfirst_valid_uid = 1\n"
        "userdb {\n  driver = static\n  args = uid=65534 gid=65534 home=%s\n}\n"
        "passdb {\n  driver = static\n  args = nopassword=y\n}\n"
        "base_dir = %s/run\nlog_path = %s/dovecot.log\nssl = no\n"
        % (home, home, tmp_path, tmp_path))
    return conf, home / "Maildir", top


@pytest.mark.skipif(shutil.which("doveadm") is None or shutil.which("dovecot") is None,
                    reason="dovecot-core not installed")
@pytest.mark.skipif(os.getuid() != 0, reason="Dovecot runs its user as nobody: needs root")
def test_dovecot_maildir_read_by_tern(tmp_path):
    conf, maildir, top = dovecot_conf(tmp_path)
    subprocess.run(["dovecot", "-c", str(conf)], check=True, timeout=60)
    try:
        _dovecot_fill(conf)
    finally:
        subprocess.run(["dovecot", "-c", str(conf), "stop"], timeout=60)
    try:
        _dovecot_check(maildir)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _dovecot_fill(conf):
    doveadm = ["doveadm", "-c", str(conf)]
    for s in ("d1", "d2", "d3"):
        subprocess.run(doveadm + ["save", "-u", "user"], input=msg(s), check=True, timeout=60)
    subprocess.run(doveadm + ["flags", "add", "-u", "user", "\\Seen \\Flagged", "mailbox",
                              "INBOX", "uid", "1"], check=True, timeout=60)
    subprocess.run(doveadm + ["flags", "add", "-u", "user", "\\Answered", "mailbox", "INBOX",
                              "uid", "3"], check=True, timeout=60)


def _dovecot_uids(maildir):
    """{base name: uid} and the UIDVALIDITY from Dovecot's dovecot-uidlist."""
    lines = open(maildir / "dovecot-uidlist").read().splitlines()
    validity = int(re.match(r"3 V(\d+) ", lines[0]).group(1))
    uids = {}
    for line in lines[1:]:
        uid, _, name = line.partition(" :")
        uids[name.split(":")[0]] = int(uid.split()[0])
    return uids, validity


def _dovecot_check(maildir):
    rows = listing("maildir:%s" % maildir)
    assert len(rows) == 3
    # the UIDs and UIDVALIDITY are Dovecot's (taken from its dovecot-uidlist): Tern's
    # own uidlist, written by this first indexing, maps every base name as Dovecot did
    dove_uids, dove_validity = _dovecot_uids(maildir)
    assert [r[0] for r in rows] == sorted(dove_uids.values()) == [1, 2, 3]
    lines = open(maildir / "tern-uidlist").read().splitlines()
    assert re.match(r"1 V(\d+) ", lines[0]).group(1) == str(dove_validity)
    assert {b: int(u) for u, b in (l.split(" ", 1) for l in lines[1:])} == dove_uids
    assert rows[0][1] == "FS"
    assert rows[1][1] == ""
    assert rows[2][1] == "R"
    texts = [tool("cat", "maildir:%s" % maildir, "INBOX", str(r[0])) for r in rows]
    assert ["Subject: d1" in t for t in texts] == [True, False, False]


def big_mbox(path, n):
    with open(path, "wb") as f:
        for i in range(n):
            body = ("line %d of message %d\n" % (i, i)) * 200
            f.write(b"From x@example.org Mon Jan  6 10:00:00 2025\n" + msg("m%d" % i, body) + b"\n")


def check_whole(path, n):
    box = mailbox.mbox(path, create=False)
    seen = {}
    for m in box:
        i = int(m["Subject"][1:])
        body = m.get_payload()
        assert body == ("line %d of message %d\n" % (i, i)) * 200, "message %d damaged" % i
        seen[i] = seen.get(i, 0) + 1
    box.close()
    assert all(v == 1 for v in seen.values())
    return sorted(seen)


def test_kill_during_mbox_rewrite_leaves_old_or_new(tmp_path):
    path = tmp_path / "inbox"
    n = 1500
    big_mbox(path, n)
    store = "mbox:%s" % path
    assert len(listing(store)) == n
    odd = [str(u) for u in range(1, n + 1, 2)]
    for attempt in range(6):
        p = subprocess.Popen([TOOL, "expunge", store, "INBOX", *odd],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(random.uniform(0.02, 0.4))
        p.send_signal(signal.SIGKILL)
        p.wait()
        present = check_whole(path, n)
        assert len(present) in (n, n // 2), "a mix: %d messages" % len(present)
        assert len(listing(store)) == len(present)  # the stale dotlock is broken
        if len(present) == n // 2:
            break
    # the leftover rewrite file is not a folder, and the mbox is usable
    tool("append", store, "INBOX", stdin=msg("after"))


def test_repair_damaged_mbox(tmp_path):
    path = tmp_path / "damaged"
    big = msg("big", "x" * 3000 + "\n")
    text = (msg("no-from-line") + b"\n" +
            b"From a@b Mon Jan  6 10:00:00 2025\nSubject: wrong-length\nContent-Length: 999\n\nshort\n\n" +
            b"Return-Path: <c@d>\n" + msg("missing-separator") + b"\n" +
            b"From a@b Mon Jan  6 10:00:00 2025\n" + big + b"\n" +
            b"From a@b Mon Jan  6 10:00:00 2025\nSubject: truncated\n\ncut sho")
    path.write_bytes(text)
    out = tool("repair", str(path), "--dry-run", "--max-message-size", "2k")
    assert "dry run" in out
    assert path.read_bytes() == text
    out = tool("repair", str(path), "--max-message-size", "2k")
    assert "no From_ line" in out
    assert "Content-Length 999" in out
    assert "lost+found" in out
    assert "cut short" in out
    got = subjects(path)
    assert got == ["no-from-line", "wrong-length", "missing-separator", "truncated"]
    assert b"Content-Length: 999" not in path.read_bytes()
    lost = os.listdir(str(path) + ".lost+found")
    assert len(lost) == 1
    assert b"Subject: big" in open(os.path.join(str(path) + ".lost+found", lost[0]), "rb").read()
    rows = listing("mbox:%s" % path)
    assert len(rows) == 4
    out = tool("repair", str(path))
    assert "no damage found" in out


def test_repair_maildir(tmp_path):
    root = tmp_path / "Maildir"
    store = "maildir:%s" % root
    tool("append", store, "INBOX", stdin=msg("ok"))
    (root / "cur" / "empty:2,S").write_bytes(b"")
    (root / "new" / "adir").mkdir()
    (root / "stray-message").write_bytes(msg("stray"))
    (root / "cur" / ".hidden-temp").write_bytes(b"x")
    out = tool("repair", str(root))
    assert out.count("moving it to") == 4, out
    lf = os.listdir(root / ".lost+found")
    assert len(lf) == 4
    rows = listing(store)
    assert len(rows) == 1
    assert "no damage found" in tool("repair", str(root))


def test_convert_round_trip_keeps_flags(tmp_path):
    path = tmp_path / "user"
    store = "mbox:%s" % path
    for i, fl in enumerate(["S", "", "FR", "ST"]):
        args = ["append", store, "INBOX"] + ([fl] if fl else [])
        tool(*args, stdin=msg("c%d" % i, "From here\n>From there\n"))
    before = listing(store)
    bodies = [tool("cat", store, "INBOX", str(r[0])) for r in before]
    tool("convert", str(path), "--to", "maildir")
    assert (path / "cur").is_dir()
    mid = listing("maildir:%s" % path)
    assert [r[1] for r in mid] == [r[1] for r in before]
    tool("convert", str(path), "--to", "mbox")
    assert (path / "INBOX").is_file()
    after = listing("mbox:%s" % path)
    assert [r[1] for r in after] == [r[1] for r in before]
    assert [tool("cat", "mbox:%s" % path, "INBOX", str(r[0])) for r in after] == bodies
    assert not os.path.exists(str(path) + ".old")


def test_reindex_keeps_uids(tmp_path):
    path = tmp_path / "inbox"
    store = "mbox:%s" % path
    for i in range(5):
        tool("append", store, "INBOX", stdin=msg("r%d" % i))
    tool("expunge", store, "INBOX", "2")
    before = listing(store)
    out = tool("reindex", str(path))
    assert "reindexed" in out
    assert listing(store) == before
