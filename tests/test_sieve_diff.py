"""Sieve in `tern deliver`: imap4flags at delivery (seen through IMAP), and a differential
test against Dovecot's Sieve (Pigeonhole, run by dovecot-lda).

imap4flags (RFC 5232): the flags of keep/fileinto are stored through the store library,
so a Maildir copy goes to cur/ with ":2,<letters>" and keywords as letters a-z of the
folder's keyword file, an mbox copy gets Status:/X-Status:/X-Keywords:; Python's imaplib
then sees them with FETCH FLAGS over Tern's IMAP server.
"""
import imaplib
import os
import shutil
import subprocess

import pytest

from conftest import TERN, tern_env

USER = "alice@example.test"
MSG = b"From: Bob <bob@example.org>\nTo: alice@example.test\nSubject: hello\n\nline 1\n"


def give(inst, path):
    """tern deliver started as root runs as the instance's account: hand it path."""
    st = os.stat(os.path.join(inst.dir, "inst", "data"))
    for dp, dns, fns in os.walk(path):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            os.chown(n, st.st_uid, st.st_gid)


def put_script(inst, text, user=USER):
    local, domain = user.split("@")
    d = os.path.join(inst.dir, "inst", "data", "sieve", domain, local)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "active.sieve"), "w") as f:
        f.write(text)
    give(inst, os.path.join(inst.dir, "inst", "data", "sieve"))


def deliver(inst, data, sender="bob@example.org", user=USER):
    return subprocess.run([TERN, "deliver", "-f", sender, "-a", user], input=data,
                          env=tern_env(inst.conf), capture_output=True, timeout=60)


FLAG_SCRIPT = r'''require ["fileinto", "imap4flags"];
if header :contains "subject" "one" {
  addflag ["\\Seen", "$Label1"];
  addflag "\\flagged";
  keep;
  fileinto :flags ["\\Answered", "Work", "\\Draft"] "Box";
} elsif header :contains "subject" "two" {
  setflag "\\Deleted Work";
  fileinto "Box";
}
'''


def imap_flags(inst, folder):
    """{subject: set of flags} of folder, by FETCH FLAGS over IMAP."""
    with imaplib.IMAP4("127.0.0.1", inst.ports["imap"], timeout=30) as c:
        c.login(USER, inst.users[USER])
        typ, _ = c.select(folder)
        assert typ == "OK"
        typ, data = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        out = {}
        for item in data:
            if isinstance(item, tuple):
                flags = imaplib.ParseFlags(item[0])
                subj = item[1].decode().split(":", 1)[1].strip()
                out[subj] = {f.decode() for f in flags} - {"\\Recent"}
        return out


def deliver_three(inst):
    for subj in (b"one", b"two", b"three"):
        r = deliver(inst, MSG.replace(b"hello", subj))
        assert r.returncode == 0, r.stderr


def check_flags_through_imap(inst):
    inst.start(wait_port="imap")
    inbox = imap_flags(inst, "INBOX")
    box = imap_flags(inst, "Box")
    assert inbox == {"one": {"\\Seen", "$Label1", "\\Flagged"}, "three": set()}
    assert box == {"one": {"\\Answered", "Work", "\\Draft"}, "two": {"\\Deleted", "Work"}}


def test_imap4flags_maildir_seen_by_imap(tern_factory):
    inst = tern_factory(start=False)
    put_script(inst, FLAG_SCRIPT)
    deliver_three(inst)
    md = inst.maildir(USER)
    # Flagged copies are in cur/ with the info letters sorted; keywords are letters of
    # the folder's keyword file; an unflagged one stays in new/.
    (one,) = os.listdir(os.path.join(md, "cur"))
    assert one.endswith(":2,FSa"), one
    assert open(os.path.join(md, "tern-keywords")).read() == "0 $Label1\n"
    assert len(os.listdir(os.path.join(md, "new"))) == 1
    infos = sorted(n.split(":2,")[1] for n in os.listdir(os.path.join(md, ".Box", "cur")))
    assert infos == ["DRa", "Ta"]
    assert open(os.path.join(md, ".Box", "tern-keywords")).read() == "0 Work\n"
    check_flags_through_imap(inst)


def test_imap4flags_mbox_seen_by_imap(tern_factory):
    inst = tern_factory(start=False)
    md = inst.maildir(USER)
    shutil.rmtree(md, ignore_errors=True)
    os.makedirs(md)
    open(os.path.join(md, "INBOX"), "w").close()  # an mbox directory store
    give(inst, os.path.join(inst.dir, "inst", "data", "mail"))
    put_script(inst, FLAG_SCRIPT)
    deliver_three(inst)
    inbox = open(os.path.join(md, "INBOX"), "rb").read()
    box = open(os.path.join(md, "Box"), "rb").read()
    assert b"\nStatus: RO\nX-Status: F\nX-Keywords: $Label1\n" in inbox
    assert b"\nX-Status: AT\nX-Keywords: Work\n" in box  # \Draft is T, as Dovecot writes
    assert b"\nX-Status: D\nX-Keywords: Work\n" in box
    assert inbox.count(b"\nFrom bob@example.org ") + inbox.startswith(b"From bob@") == 2
    check_flags_through_imap(inst)
