"""`tern vacation` (vacation(1)) and the delivery agent's own vacation answer.

Each test makes an instance (not started: the answers are read from its queue, where
`tern vacation` puts them through the queue itself or through `tern sendmail`) and runs
`tern vacation` on messages: once per interval per sender (-r in days, in seconds, 0 and
infinite; the database's timestamps edited by hand, as its text format allows), no
answer to lists, automatic mail, spam, daemons and the null sender, nor to mail not
addressed to the user (-a, -j), the -x exclusions, the answer's header fields (parsed by
the email package) and its null envelope sender, the exit codes, the delivery agent's
direct answer for a virtual user, and Sieve vacation's use of the same rules.

The last test runs the same sequence of messages through Debian's `vacation` program
(with a stub sendmail bind-mounted over /usr/sbin/sendmail in a private mount namespace,
as it runs that path and no other) and compares the decisions: answered or not, and to
whom. Where Tern deliberately differs, the case names the difference (DIFFERENCES).
"""
import email
import email.policy
import os
import pwd
import re
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from conftest import TERN, tern_env, read_queued, remove_queued
from sysaccounts import needs_root, unix_user  # noqa: F401

USER = "alice@example.test"
MSGFILE = b"Subject: Away ($SUBJECT)\nX-Note: from the message file\n\nI am away until Monday.\n"


def message(sender="bob@example.org", to=USER, subject="hello", msgid="<m1@example.org>",
            extra=""):
    head = "Return-Path: <%s>\nFrom: Somebody <from-header@example.net>\nTo: %s\n" % (
        sender, to)
    head += "Subject: %s\n" % subject
    if msgid:
        head += "Message-ID: %s\n" % msgid
    return (head + extra + "\nbody line\n").encode()


@pytest.fixture
def inst(tern_factory):
    return tern_factory(start=False)


def give(inst, path):
    """Files the test makes belong to the instance's account (tern vacation becomes it
    for a virtual user when started as root)."""
    st = os.stat(os.path.join(inst.dir, "inst", "data"))
    for dp, dns, fns in os.walk(path):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            os.chown(n, st.st_uid, st.st_gid)


def vacation(inst, data, *args, user=USER):
    argv = [TERN, "vacation"] + list(args) + ([user] if user else [])
    return subprocess.run(argv, input=data, env=tern_env(inst.conf), capture_output=True,
                          timeout=60)


def setup_user(inst, msg=MSGFILE, init_args=()):
    """The virtual user's folder with .vacation.msg, and `tern vacation -i`."""
    md = inst.maildir(USER)
    os.makedirs(md, exist_ok=True)
    with open(os.path.join(md, ".vacation.msg"), "wb") as f:
        f.write(msg)
    give(inst, os.path.join(inst.dir, "inst", "data", "mail"))
    r = vacation(inst, b"", "-i", *init_args)
    assert r.returncode == 0, r.stderr
    return md


def queued(inst):
    """{queue id: (envelope sender, [recipients], message bytes)} of the instance's queue."""
    qdir = os.path.join(inst.dir, "inst", "queue")
    out = {}
    if not os.path.isdir(os.path.join(qdir, "env")):
        return out
    for qid in os.listdir(os.path.join(qdir, "env")):
        env, data = read_queued(qdir, qid)
        lines = env.splitlines()
        sender = [l[2:] for l in lines if l.startswith("F ")][0]
        rcpts = [l.split()[1] for l in lines if l.startswith("R ")]
        out[qid] = (sender, rcpts, data)
    return out


class Replies:
    """Counts the answers queued since the last call."""

    def __init__(self, inst):
        self.inst, self.seen = inst, set()

    def new(self):
        q = queued(self.inst)
        fresh = [q[k] for k in sorted(q) if k not in self.seen]
        self.seen |= set(q)
        return fresh

    def recipients(self):
        return [tuple(r[1]) for r in self.new()]


def run_ok(inst, data, *args, **kw):
    r = vacation(inst, data, *args, **kw)
    assert r.returncode == 0, r.stderr
    return r


def test_once_per_interval_per_sender(inst):
    md = setup_user(inst)
    rep = Replies(inst)
    run_ok(inst, message())
    assert rep.recipients() == [("bob@example.org",)]
    run_ok(inst, message(subject="second"))
    assert rep.recipients() == []  # the same sender within the week
    run_ok(inst, message(sender="carol@example.org"))
    assert rep.recipients() == [("carol@example.org",)]
    db = os.path.join(md, ".vacation.db")
    text = open(db).read()
    assert text.startswith("# tern vacation database 1\n")
    stamps = dict((a, int(t)) for t, a in re.findall(r"(?m)^reply (\d+) (\S+)$", text))
    assert set(stamps) == {"bob@example.org", "carol@example.org"}
    assert abs(stamps["bob@example.org"] - time.time()) < 60
    # The database is text: put bob's answer 8 days back and he is answered again.
    old = stamps["bob@example.org"] - 8 * 86400
    open(db, "w").write(text.replace("reply %d bob" % stamps["bob@example.org"],
                                     "reply %d bob" % old))
    run_ok(inst, message(subject="third"))
    assert rep.recipients() == [("bob@example.org",)]
    # -l lists both, as vacation(1) does: the address in 50 columns, then the time
    r = run_ok(inst, b"", "-l")
    listed = r.stdout.decode().splitlines()
    assert sorted(l.split()[0] for l in listed) == ["bob@example.org", "carol@example.org"]
    assert all(len(l) > 50 and l[50:].strip() for l in listed)


def test_interval_in_seconds_zero_and_infinite(inst):
    md = setup_user(inst, init_args=("-r", "1s"))
    assert "interval 1\n" in open(os.path.join(md, ".vacation.db")).read()
    rep = Replies(inst)
    run_ok(inst, message())
    run_ok(inst, message())
    assert rep.recipients() == [("bob@example.org",)]
    # whole seconds: more than 1 s between the recorded times, so at least 1 s passed
    time.sleep(2.1)
    run_ok(inst, message())
    assert rep.recipients() == [("bob@example.org",)]
    # -r 0: every message is answered (vacation(1): "a reply is sent to each message")
    run_ok(inst, b"", "-i", "-r", "0")
    for _ in range(3):
        run_ok(inst, message())
    assert rep.recipients() == [("bob@example.org",)] * 3
    # -r infinite: one answer ever, however old
    run_ok(inst, b"", "-i", "-r", "infinite")
    run_ok(inst, message())
    db = os.path.join(md, ".vacation.db")
    text = open(db).read()
    assert "interval infinite\n" in text
    open(db, "w").write(re.sub(r"reply \d+ ", "reply 1000 ", text))
    run_ok(inst, message())
    assert rep.recipients() == [("bob@example.org",)]
    # an interval given on a normal run is kept, as vacation(1) does
    run_ok(inst, message(sender="dave@example.org"), "-r", "3")
    assert "interval 259200\n" in open(db).read()


SUPPRESSED = [
    ("List-Id", dict(extra="List-Id: <dev.lists.example.org>\n")),
    ("List-Unsubscribe", dict(extra="List-Unsubscribe: <mailto:leave@example.org>\n")),
    ("Precedence bulk", dict(extra="Precedence: bulk\n")),
    ("Precedence list", dict(extra="Precedence: list\n")),
    ("Precedence junk", dict(extra="Precedence: junk\n")),
    ("Auto-Submitted auto-replied", dict(extra="Auto-Submitted: auto-replied\n")),
    ("Auto-Submitted auto-generated", dict(extra="Auto-Submitted: auto-generated\n")),
    ("X-Spam-Flag", dict(extra="X-Spam-Flag: YES\n")),
    ("null sender", dict(sender="")),
    ("MAILER-DAEMON", dict(sender="MAILER-DAEMON@example.org")),
    ("postmaster", dict(sender="postmaster@example.org")),
    ("-request", dict(sender="dev-request@lists.example.org")),
    ("owner-", dict(sender="owner-dev@lists.example.org")),
    ("not addressed to the user", dict(to="someone@example.test")),
    ("the user's own address", dict(sender=USER)),
    ("a broken Return-Path", dict(sender="bob smith@example.org")),
]


@pytest.mark.parametrize("name,kw", SUPPRESSED, ids=[s[0] for s in SUPPRESSED])
def test_no_answer(inst, name, kw):
    setup_user(inst)
    rep = Replies(inst)
    r = run_ok(inst, message(**kw), "-d")
    assert rep.recipients() == [], name
    assert b"no answer" in r.stderr
    # the same message without the reason is answered (the test is not vacuous)
    r = run_ok(inst, message(sender="carol@example.org"))
    assert rep.recipients() == [("carol@example.org",)]


def test_auto_submitted_no_is_answered(inst):
    setup_user(inst)
    rep = Replies(inst)
    run_ok(inst, message(extra="Auto-Submitted: no\nPrecedence: first-class\n"))
    assert rep.recipients() == [("bob@example.org",)]


def test_addressed_to_user_aliases_and_j(inst):
    setup_user(inst)
    rep = Replies(inst)
    other = "someone@example.test"
    run_ok(inst, message(to=other, sender="s1@example.org"))
    assert rep.recipients() == []
    # -a: another address of the user, in To or Cc
    run_ok(inst, message(to="Al <al@example.net>", sender="s2@example.org"), "-a", "al@example.net")
    run_ok(inst, message(to=other, sender="s3@example.org", extra="Cc: x@y.example, %s\n" % USER))
    # a login name (no @) matches that local part at any domain, as vacation(1)'s -a
    run_ok(inst, message(to="alias@elsewhere.example", sender="s4@example.org"), "-a", "alias")
    # subaddress, and Resent-To (RFC 3834 2)
    run_ok(inst, message(to="alice+work@example.test", sender="s5@example.org"))
    run_ok(inst, message(to=other, sender="s6@example.org", extra="Resent-To: %s\n" % USER))
    assert rep.recipients() == [("s%d@example.org" % i,) for i in (2, 3, 4, 5, 6)]
    # not a substring: malice@ is not alice@
    run_ok(inst, message(to="malice@example.test", sender="s7@example.org"))
    assert rep.recipients() == []
    # -j: answer whatever the recipient fields say
    run_ok(inst, message(to=other, sender="s8@example.org"), "-j")
    assert rep.recipients() == [("s8@example.org",)]


def test_exclusions(inst):
    md = setup_user(inst)
    rep = Replies(inst)
    r = vacation(inst, b"carol@example.org\n  @spam.example  \n\n", "-x")
    assert r.returncode == 0, r.stderr
    text = open(os.path.join(md, ".vacation.db")).read()
    assert "exclude carol@example.org\n" in text and "exclude @spam.example\n" in text
    run_ok(inst, message(sender="carol@example.org"))
    run_ok(inst, message(sender="anyone@spam.example"))
    assert rep.recipients() == []
    run_ok(inst, message(sender="dave@example.org"))
    assert rep.recipients() == [("dave@example.org",)]
    listed = run_ok(inst, b"", "-l").stdout.decode()
    assert re.search(r"(?m)^carol@example.org +\(never deleted\)$", listed)
    assert re.search(r"(?m)^@spam.example +\(never deleted\)$", listed)
    # -i starts afresh
    run_ok(inst, b"", "-i")
    run_ok(inst, message(sender="carol@example.org"))
    assert rep.recipients() == [("carol@example.org",)]


def test_answer_headers(inst):
    setup_user(inst)
    rep = Replies(inst)
    msg = message(subject="=?utf-8?q?caf=C3=A9?= plans", msgid="<m3@example.org>",
                  extra="References: <m1@example.org> <m2@example.org>\n"
                        "In-Reply-To: <m2@example.org>\n")
    run_ok(inst, msg)
    (sender, rcpts, data), = rep.new()
    assert sender == ""  # the null reverse-path (RFC 3834 3.3)
    assert rcpts == ["bob@example.org"]  # Return-Path:, not From:
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["To"] == "bob@example.org"
    assert m["From"] == USER
    assert m["In-Reply-To"] == "<m3@example.org>"
    assert m["References"].split() == ["<m1@example.org>", "<m2@example.org>", "<m3@example.org>"]
    # the message file's Subject with $SUBJECT as the original's (as Debian's vacation),
    # its encoded-word kept as it was, so a reader decodes it
    assert b"\nSubject: Away (=?utf-8?q?caf=C3=A9?= plans)\n" in data
    assert m["Subject"] == "Away (caf\u00e9 plans)"
    assert m["X-Note"] == "from the message file"
    assert m["Date"] and m["Message-ID"]
    assert m.get_content().strip() == "I am away until Monday."
    # -s gives the address to answer (sendmail's vacation); a file without a header
    # section is all body, and the subject is RFC 3834's "Auto:"
    with open(os.path.join(inst.maildir(USER), ".vacation.msg"), "wb") as f:
        f.write("Je suis absente.\nÀ lundi.\n".encode())
    run_ok(inst, message(sender="x@example.org", subject="plans"), "-s", "other@example.org")
    (sender, rcpts, data), = rep.new()
    assert (sender, rcpts) == ("", ["other@example.org"])
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert m["Subject"] == "Auto: plans" and m["To"] == "other@example.org"
    assert m["Auto-Submitted"] == "auto-replied"
    assert m.get_content() == "Je suis absente.\nÀ lundi.\n"
    # Debian's -c CCADDR: a copy to another address; the To: stays the sender
    run_ok(inst, message(sender="y@example.org"), "-c", "boss@example.org")
    (sender, rcpts, data), = rep.new()
    assert rcpts == ["y@example.org", "boss@example.org"]
    assert b"To: y@example.org\n" in data


def test_login_user_and_sendmail_path(inst):
    """A passwd account (here the one running the test) with the files given by -f and -m;
    the answer goes through `tern sendmail`, or straight into the queue when this
    process may write it."""
    login = pwd.getpwuid(os.getuid()).pw_name
    d = tempfile.mkdtemp(prefix="tern-vac-")
    try:
        msg, db = os.path.join(d, "msg"), os.path.join(d, "db")
        open(msg, "wb").write(MSGFILE)
        rep = Replies(inst)
        run_ok(inst, b"", "-i", "-f", db, user=login)
        data = b"From bob@example.org  Thu Nov 26 07:00:00 2026\n" + message(
            to="%s@example.test" % login).split(b"\n", 1)[1]
        run_ok(inst, data, "-f", db, "-m", msg, user=login)
        (sender, rcpts, reply), = rep.new()
        assert sender == "" and rcpts == ["bob@example.org"]  # the From_ line's sender
        assert b"From: %s@example.test\n" % login.encode() in reply
        run_ok(inst, data, "-f", db, "-m", msg, user=login)
        assert rep.new() == []
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_exit_codes(inst):
    md = setup_user(inst)
    assert vacation(inst, message(), user=None).returncode == 64
    assert vacation(inst, message(), "-r", "3x").returncode == 64
    assert vacation(inst, message(), "-Q").returncode == 64
    r = vacation(inst, message(), user="nobody-here@example.test")
    assert r.returncode == 67 and b"no such user" in r.stderr
    r = vacation(inst, message(), user="no-such-login-xyz")
    assert r.returncode == 67
    # no sender at all
    r = vacation(inst, b"To: %s\nSubject: x\n\nbody\n" % USER.encode())
    assert r.returncode == 65 and b"no sender" in r.stderr
    # a database of another program (dbm): an error, nothing sent; -i replaces it
    db = os.path.join(md, ".vacation.db")
    open(db, "wb").write(b"\x00\x06\x15\x61" + bytes(60))
    rep = Replies(inst)
    r = vacation(inst, message())
    assert r.returncode == 65 and b"not a Tern vacation database" in r.stderr
    assert rep.new() == []
    run_ok(inst, b"", "-i")
    run_ok(inst, message())
    assert len(rep.new()) == 1
    # no message file: EX_NOINPUT
    os.unlink(os.path.join(md, ".vacation.msg"))
    r = vacation(inst, message(sender="z@example.org"))
    assert r.returncode == 66 and b".vacation.msg" in r.stderr
    # a message that gets no answer is not an error
    assert vacation(inst, message(sender="")).returncode == 0
    # bad configuration
    r = vacation(inst, message(), "-c", "/nonexistent/tern.conf")
    assert r.returncode == 78


def test_delivery_agent_answers_directly(inst):
    rep = Replies(inst)

    def deliver(data, sender):
        r = subprocess.run([TERN, "deliver", "-f", sender, "-a", USER], input=data,
                           env=tern_env(inst.conf), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr

    md = inst.maildir(USER)
    os.makedirs(md, exist_ok=True)
    open(os.path.join(md, ".vacation.msg"), "wb").write(MSGFILE)
    give(inst, os.path.join(inst.dir, "inst", "data", "mail"))
    # .vacation.msg alone is not enough: vacation(1) needs -i first, and so does the agent;
    # nor is a .vacation.db of another program (dbm), used from a .forward
    deliver(message(), "bob@example.org")
    db = os.path.join(md, ".vacation.db")
    open(db, "wb").write(b"\x00\x06\x15\x61" + bytes(60))
    deliver(message(), "bob@example.org")
    assert rep.new() == []
    os.unlink(db)
    run_ok(inst, b"", "-i")
    deliver(message(subject="two"), "bob@example.org")
    deliver(message(subject="three"), "bob@example.org")
    deliver(message(subject="list", extra="List-Id: <l.example.org>\n"), "carol@example.org")
    replies = rep.new()
    assert [(s, r) for s, r, _ in replies] == [("", ["bob@example.org"])]
    m = email.message_from_bytes(replies[0][2], policy=email.policy.default)
    assert m["Subject"] == "Away (two)" and m["Auto-Submitted"] == "auto-replied"
    # every message is delivered whatever vacation decided
    assert len(inst.read_messages(USER)) == 5
    # the envelope sender decides, not Return-Path: in the message
    deliver(message(sender="ignored@example.org"), "dave@example.org")
    assert [r for _, r, _ in rep.new()] == [["dave@example.org"]]


def test_sieve_vacation_uses_the_same_rules(inst):
    d = os.path.join(inst.dir, "inst", "data", "sieve", "example.test", "alice")
    os.makedirs(d, exist_ok=True)
    open(os.path.join(d, "active.sieve"), "w").write(
        'require "vacation";\nvacation :days 1 "I am away";\n')
    give(inst, os.path.join(inst.dir, "inst", "data"))
    rep = Replies(inst)
    for sender, extra in (("s1@example.org", "List-Help: <mailto:help@example.org>\n"),
                          ("s2@example.org", "X-Spam-Flag: yes\n"),
                          ("uucp@example.org", ""),
                          ("s3@example.org", "References: <m0@example.org>\n")):
        r = subprocess.run([TERN, "deliver", "-f", sender, "-a", USER],
                           input=message(sender=sender, extra=extra), env=tern_env(inst.conf),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
    (sender, rcpts, data), = rep.new()
    assert (sender, rcpts) == ("", ["s3@example.org"])
    m = email.message_from_bytes(data, policy=email.policy.default)
    assert m["Auto-Submitted"] == "auto-replied" and m["In-Reply-To"] == "<m1@example.org>"
    assert m["References"].split() == ["<m0@example.org>", "<m1@example.org>"]


# ---- the same messages through Debian's vacation ----

DEBIAN_VACATION = shutil.which("vacation") or "/usr/bin/vacation"

# Where Tern decides differently on purpose (each case below that shows it names it):
DIFFERENCES = {
    # RFC 3834 2 lets a responder skip mail with List-* fields; Debian checks only
    # Precedence, so it answers a list message that has none.
    "LIST_FIELDS",
    # RFC 3834 2 names Bcc and Resent-To/Cc/Bcc as recipient fields too; Debian reads
    # only To: and Cc:.
    "RESENT",
    # Debian matches the user's name anywhere in To:/Cc: with only a delimiter after it,
    # so "malice@x" counts as "alice@x"; Tern compares addresses.
    "SUBSTRING",
    # Debian skips senders whose local part ends in "mailer" or "-relay"; Tern skips
    # owner-*, *-owner, listserv and majordomo (RFC 3834 2, RFC 5230 4.6) instead.
    "SENDER_NAMES",
}

# (name, message keywords, Tern's decision differs: the DIFFERENCES name or None)
SEQUENCE = [
    ("plain", dict(), None),
    ("same sender again", dict(subject="again"), None),
    ("another sender", dict(sender="carol@example.org"), None),
    ("case of the address", dict(sender="dave@example.org", to="ALICE@Example.Test"), None),
    ("cc", dict(sender="erin@example.org", to="x@example.test", extra="Cc: %s\n" % USER), None),
    ("not to the user", dict(sender="frank@example.org", to="x@example.test"), None),
    ("bulk", dict(sender="g1@example.org", extra="Precedence: bulk\n"), None),
    ("junk", dict(sender="g2@example.org", extra="Precedence: junk\n"), None),
    ("list", dict(sender="g3@example.org", extra="Precedence: list\n"), None),
    ("auto-replied", dict(sender="g4@example.org", extra="Auto-Submitted: auto-replied\n"), None),
    ("auto-submitted no", dict(sender="g5@example.org", extra="Auto-Submitted: no\n"), None),
    ("spam", dict(sender="g6@example.org", extra="X-Spam-Flag: YES\n"), None),
    ("mailer-daemon", dict(sender="MAILER-DAEMON@example.org"), None),
    ("postmaster", dict(sender="postmaster@example.org"), None),
    ("-request", dict(sender="list-request@example.org"), None),
    ("uucp", dict(sender="uucp@example.org"), None),
    ("list-id only", dict(sender="h1@example.org", extra="List-Id: <a.example.org>\n"),
     "LIST_FIELDS"),
    ("resent-to", dict(sender="h2@example.org", to="x@example.test",
                       extra="Resent-To: %s\n" % USER), "RESENT"),
    ("substring", dict(sender="h3@example.org", to="malice@example.test"), "SUBSTRING"),
    ("owner-", dict(sender="owner-dev@example.org"), "SENDER_NAMES"),
    ("-relay", dict(sender="smtp-relay@example.org"), "SENDER_NAMES"),
    ("plain once more", dict(sender="carol@example.org", subject="x"), None),
]


def debian_works():
    if not os.path.exists(DEBIAN_VACATION) or shutil.which("unshare") is None:
        return False
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True)
    return r.returncode == 0


@pytest.mark.skipif(not debian_works() and not os.environ.get("CI"),
                    reason="Debian's vacation, or a private mount namespace, is not available")
def test_decisions_match_debian_vacation(inst):
    assert debian_works(), "Debian's vacation (scripts/install-deps.sh) or unshare -m missing"
    setup_user(inst)
    rep = Replies(inst)
    login = pwd.getpwuid(os.getuid()).pw_name
    d = tempfile.mkdtemp(prefix="tern-vac-debian-")
    try:
        os.chmod(d, 0o755)
        msg, db, cap = (os.path.join(d, n) for n in ("msg", "db", "captured"))
        os.mkdir(cap)
        open(msg, "wb").write(MSGFILE)
        stub = os.path.join(d, "sendmail")
        with open(stub, "w") as f:
            # records its arguments; the message goes to a file of its own
            f.write('#!/bin/sh\nn=$(date +%%s%%N)\nprintf "%%s\\n" "$@" > %s/$n.args\n'
                    'cat > %s/$n.msg\n' % (cap, cap))
        os.chmod(stub, 0o755)
        base = [DEBIAN_VACATION, "-f", db, "-m", msg, "-z", "-a", USER]
        r = subprocess.run(["unshare", "-m", "sh", "-c",
                            'mount --bind "$0" /usr/sbin/sendmail && exec "$@"', stub,
                            DEBIAN_VACATION, "-i", "-f", db], capture_output=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert login not in " ".join(str(s[1]) for s in SEQUENCE)
        mismatches = []
        answered = {"tern": [], "debian": []}
        for name, kw, diff in SEQUENCE:
            data = message(**kw)
            before = set(os.listdir(cap))
            r = subprocess.run(["unshare", "-m", "sh", "-c",
                                'mount --bind "$0" /usr/sbin/sendmail && exec "$@"', stub]
                               + base + [login], input=data, capture_output=True, timeout=30)
            assert r.returncode == 0, (name, r.stderr)
            new = sorted(set(os.listdir(cap)) - before)
            debian = []
            for a in (n for n in new if n.endswith(".args")):
                args = open(os.path.join(cap, a)).read().split("\n")
                assert args[:3] == ["-f", "<>", "--"], args  # -z: from the null sender
                debian.append(tuple(x for x in args[3:] if x))
            run_ok(inst, data)
            tern = rep.recipients()
            answered["tern"] += tern
            answered["debian"] += debian
            if diff is None:
                if tern != debian:
                    mismatches.append((name, tern, debian))
            else:
                assert diff in DIFFERENCES
                # the named difference is real: the two decide differently here
                assert tern != debian, (name, diff, tern, debian)
        assert mismatches == []
        # each database holds exactly the senders its program answered
        listed = subprocess.run([DEBIAN_VACATION, "-l", "-f", db], capture_output=True,
                                timeout=30).stdout.decode()
        ours = run_ok(inst, b"", "-l").stdout.decode()

        def norm(t):
            return sorted(set(l.split()[0].lower() for l in t.splitlines() if l.strip()))

        assert norm(listed) == sorted(set(a for r in answered["debian"] for a in r))
        assert norm(ours) == sorted(set(a for r in answered["tern"] for a in r))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_answer_through_the_running_server(tern_factory):
    """SMTP in, the queue manager's local delivery answers for alice, the answer goes
    through the queue to bob's INBOX: it arrives with Return-Path: <> (the null sender
    seen at the mailbox), once however many messages bob sends."""
    inst = tern_factory(start=False)
    setup_user(inst)
    inst.start()
    bob = "bob@example.test"
    with smtplib.SMTP("127.0.0.1", inst.ports["smtp"], timeout=30) as s:
        for subject in ("first", "second"):
            s.sendmail(bob, [USER], message(sender=bob, subject=subject).split(b"\n", 1)[1])
    assert len(inst.wait_messages(USER, 2)) == 2
    (reply,) = [open(f, "rb").read() for f in inst.wait_messages(bob, 1)]
    time.sleep(0.5)
    assert len(inst.message_files(bob)) == 1
    m = email.message_from_bytes(reply, policy=email.policy.default)
    assert m["Return-Path"] == "<>" and m["To"] == bob
    # the queue may deliver the two at once, in either order: one answer all the same
    assert m["Auto-Submitted"] == "auto-replied"
    assert m["Subject"] in ("Away (first)", "Away (second)")
    assert m["In-Reply-To"] == "<m1@example.org>"


@needs_root
def test_system_user_direct_and_dot_forward(tern_factory, unix_user):
    """System users (user_source = system): `tern vacation -i` as root becomes the user;
    the delivery child answers by itself for a user with ~/.vacation.msg and
    ~/.vacation.db, and runs a ~/.forward's "|tern vacation LOGIN" in itself, so the
    answer is queued (a user's own process may not write the queue). The answers arrive
    in the other system user's /var/mail spool with Return-Path: <>."""
    a, b, c = unix_user(), unix_user(), unix_user()
    tern = tern_factory(options={"user_source": "system", "system_mailbox": "mbox:/var/mail/%u"})
    a.write_home_file(".vacation.msg", "Subject: away ($SUBJECT)\n\nAway until Monday.\n")
    r = subprocess.run([TERN, "vacation", "-i", a.name], env=tern_env(tern.conf),
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert os.stat(os.path.join(a.home, ".vacation.db")).st_uid == a.uid

    def send_as(sender, subject):
        msg = "From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@example.org>\r\n\r\nhi\r\n" % (
            sender.address(tern.domain), a.address(tern.domain), subject, subject)
        with smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=30) as s:
            s.sendmail(sender.address(tern.domain), [a.address(tern.domain)], msg)

    def spool(u, n, timeout=15):
        deadline = time.time() + timeout
        while True:
            data = open(u.spool, "rb").read() if os.path.exists(u.spool) else b""
            msgs = [x for x in (b"\n" + data).split(b"\nFrom ") if x.strip()]
            if len(msgs) >= n or time.time() > deadline:
                return msgs
            time.sleep(0.05)

    send_as(b, "one")
    send_as(b, "two")
    assert len(spool(a, 2)) == 2
    (answer,) = spool(b, 1)
    time.sleep(0.5)
    assert len(spool(b, 1, timeout=0)) == 1
    m = email.message_from_bytes(answer.split(b"\n", 1)[1], policy=email.policy.default)
    assert m["Return-Path"] == "<>" and m["Auto-Submitted"] == "auto-replied"
    assert m["Subject"] in ("away (one)", "away (two)") and m["To"] == b.address(tern.domain)
    # ~/.forward with \a and "|tern vacation a": a keeps the mail, c is answered
    a.write_home_file(".forward", '\\%s, "|%s vacation %s"\n' % (a.name, TERN, a.name))
    send_as(c, "three")
    assert len(spool(a, 3)) == 3
    (answer,) = spool(c, 1)
    m = email.message_from_bytes(answer.split(b"\n", 1)[1], policy=email.policy.default)
    assert m["Return-Path"] == "<>" and m["Subject"] == "away (three)"
    assert m["In-Reply-To"] == "<three@example.org>"
    listed = subprocess.run([TERN, "vacation", "-l", a.name], env=tern_env(tern.conf),
                            capture_output=True, timeout=60).stdout.decode()
    assert sorted(l.split()[0] for l in listed.splitlines()) == sorted(
        [b.address(tern.domain), c.address(tern.domain)])
