"""Sieve in `tern deliver`: imap4flags at delivery (seen through IMAP), and a differential
test against Dovecot's Sieve (Pigeonhole, run by dovecot-lda).

imap4flags (RFC 5232): the flags of keep/fileinto are stored through the store library,
so a Maildir copy goes to cur/ with ":2,<letters>" and keywords as letters a-z of the
folder's keyword file, an mbox copy gets Status:/X-Status:/X-Keywords:; Python's imaplib
then sees them with FETCH FLAGS over Tern's IMAP server. Also: the compiled-script cache
and `tern sieve`.

The differential test (below: 96 scripts, 55 messages, 1,281 runs of 1,317 deliveries
through dovecot-lda and through `tern deliver`) lists the differences it allows, each by
name, in the comment that opens it.
"""
import imaplib
import os
import shutil
import subprocess

import pytest

from conftest import TERN, tern_env, read_queued, remove_queued

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


def test_compiled_script_is_cached_and_follows_edits(tern_factory):
    """The compiled script is kept in active.sieve.tern-bin and used while the script is
    unchanged; an edited script, or a cache that is garbage, is compiled again."""
    inst = tern_factory(start=False)
    put_script(inst, 'require "fileinto";\nfileinto "One";\n')
    sdir = os.path.dirname(os.path.join(inst.dir, "inst", "data", "sieve", "example.test",
                                        "alice", "active.sieve"))
    script, cache = os.path.join(sdir, "active.sieve"), os.path.join(sdir, "active.sieve.tern-bin")
    md = inst.maildir(USER)

    def count(folder):
        d = os.path.join(md, "." + folder, "new")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    assert deliver(inst, MSG).returncode == 0
    assert os.path.exists(cache) and count("One") == 1
    st = os.stat(cache)
    assert open(cache, "rb").read().startswith(b"tern-sieve-cache ")
    assert deliver(inst, MSG).returncode == 0
    assert count("One") == 2 and os.stat(cache).st_mtime_ns == st.st_mtime_ns  # loaded, kept
    put_script(inst, 'require "fileinto";\nfileinto "Two";\n')  # same size, new file
    assert deliver(inst, MSG).returncode == 0
    assert count("Two") == 1 and count("One") == 2
    with open(cache, "r+b") as f:  # a cache whose stamp matches but whose bytes are garbage
        head = f.readline()
        f.seek(len(head))
        f.write(b"\xff" * 40)
    r = deliver(inst, MSG)
    assert r.returncode == 0 and count("Two") == 2, r.stderr
    assert open(cache, "rb").read()[len(head):len(head) + 40] != b"\xff" * 40  # rewritten


def test_tern_sieve_command(tern_factory, tmp_path):
    """tern sieve: check reports line and column; put refuses a script that does not
    compile; activate makes deliveries run the script; list marks it; delete refuses the
    active one; deactivate stops it."""
    inst = tern_factory(start=False)
    good, bad = tmp_path / "good.sieve", tmp_path / "bad.sieve"
    good.write_text('require "fileinto";\nfileinto "Sorted";\n')
    bad.write_text('require "fileinto";\nif true {\n  fileinto "x"\n}\n')
    r = inst.run("sieve", "check", str(good), str(bad))
    assert r.returncode == 1 and "%s:3:15: missing ';'" % bad in r.stderr, r.stderr
    assert inst.run("sieve", "check", str(good)).returncode == 0
    r = inst.run("sieve", "put", USER, "broken", str(bad))
    assert r.returncode == 1 and "broken:3:15:" in r.stderr
    inst.run("sieve", "put", USER, "main", str(good), check=True)
    inst.run("sieve", "put", USER, "other", input='keep;\n', check=True)  # from stdin
    assert inst.run("sieve", "put", USER, "../x", str(good)).returncode == 64
    assert inst.run("sieve", "list", USER, check=True).stdout == "  main\n  other\n"
    assert deliver(inst, MSG).returncode == 0  # no active script: the INBOX
    md = inst.maildir(USER)
    assert len(os.listdir(os.path.join(md, "new"))) == 1
    inst.run("sieve", "activate", USER, "main", check=True)
    assert inst.run("sieve", "list", USER, check=True).stdout == "* main\n  other\n"
    assert inst.run("sieve", "get", USER, "main", check=True).stdout == good.read_text()
    assert deliver(inst, MSG).returncode == 0
    assert len(os.listdir(os.path.join(md, ".Sorted", "new"))) == 1
    assert inst.run("sieve", "delete", USER, "main").returncode == 1  # active
    inst.run("sieve", "activate", USER, "other", check=True)
    inst.run("sieve", "delete", USER, "main", check=True)
    assert inst.run("sieve", "list", USER, check=True).stdout == "* other\n"
    inst.run("sieve", "deactivate", USER, check=True)
    assert inst.run("sieve", "list", USER, check=True).stdout == "  other\n"
    assert inst.run("sieve", "list", "nobody@example.test").returncode == 67


def test_duplicate_state_stays_bounded(tern_factory):
    """duplicate (RFC 7352) remembers ids in .tern-duplicate; a state file grown past its
    limit with expired entries is rewritten small instead of being ignored (which would
    make every message new, and every vacation reply due)."""
    inst = tern_factory(start=False)
    put_script(inst, 'require ["duplicate", "fileinto"];\n'
                     'if duplicate { fileinto "Dups"; }\n')
    md = inst.maildir(USER)
    os.makedirs(md, exist_ok=True)
    state = os.path.join(md, ".tern-duplicate")
    expired = "".join("1000\tdup\t<old-%d@example>\n" % i for i in range(60000))  # ~1.5 MB
    open(state, "w").write(expired)
    give(inst, md)

    def dups():
        d = os.path.join(md, ".Dups", "new")
        return len(os.listdir(d)) if os.path.isdir(d) else 0

    a = MSG.replace(b"Subject:", b"Message-ID: <a@example>\nSubject:")
    b = MSG.replace(b"Subject:", b"Message-ID: <b@example>\nSubject:")
    assert deliver(inst, a).returncode == 0 and dups() == 0
    assert os.path.getsize(state) < 1000  # too big to read: started afresh, with <a@example>
    assert deliver(inst, a).returncode == 0 and dups() == 1
    with open(state, "a") as f:  # past half the limit, still readable
        f.write(expired[:700000].rsplit("\n", 1)[0] + "\n")
    assert deliver(inst, b).returncode == 0 and dups() == 1
    text = open(state).read()
    assert len(text) < 1000 and "<a@example>" in text and "<b@example>" in text
    assert deliver(inst, a).returncode == 0 and deliver(inst, b).returncode == 0
    assert dups() == 3


# ---- the differential test against Pigeonhole (dovecot-lda) ----
#
# Scripts: the lib-sieve golden cases (src/lib-sieve/testdata/cases, all but the ones that
# must not compile) and tests/sieve_diff/*.sieve (include, ereject, vacation with :from and
# :addresses, flags from variables, ...; lists.sieve is the personal script they include,
# global/ the global ones). Messages: the 50 of the procmail differential test and the 5
# of lib-sieve's testdata. Each script runs on its golden case's message and envelope
# (@message, @from, @to) and on PER_SCRIPT more messages picked in turn, so that every
# message meets about 20 scripts: some 1300 pairs. Each pair goes through
#
#   dovecot-lda -c CONF -e -f SENDER -a RCPT   (a fresh home with ~/Maildir and the script
#       as ~/.dovecot.sieve, mail_location maildir:~/Maildir, a "/" namespace separator
#       and lda_mailbox_autocreate as Tern, sendmail_path a stub that records what is sent;
#       run as an unprivileged account when the test runs as root, as dovecot-lda wants), and
#   tern deliver -f SENDER -a RCPT   (the script as the user's active.sieve, a fresh Maildir),
#
# and the outcomes are compared: whether the message was refused and why, the folders and
# in each the messages (content, new/ or cur/, system flags as Maildir info letters,
# keywords by name through each one's keyword file), the redirects (recipient, envelope
# sender, message), and the vacation replies (recipient, envelope sender, Subject, From).
#
# Named differences (Tern's deliberate choices), applied before comparing:
#   ADDED_HEADERS: Tern's copies start with Return-Path: and Delivered-To: (dovecot-lda adds
#       neither); Pigeonhole adds X-Sieve:, X-Sieve-Redirected-From: and a Message-ID: when
#       there is none to a redirected message, Tern adds nothing but keeps its
#       Delivered-To: (loop detection). These lines are removed from both.
#   REJECT_AT_DELIVERY: Pigeonhole answers reject with an MDN it sends itself (exit 0);
#       Tern refuses the delivery (exit 69, 5.7.1 and the reason), so that the MTA bounces
#       it or refuses it in the SMTP dialogue (RFC 5429 2.1 allows both). Compared: both
#       refused, with the same reason text, and no copy stored.
#   VACATION_HEADERS: the replies' other headers (Message-ID, Date, X-Sieve, Precedence,
#       X-Auto-Response-Suppress) are Pigeonhole's own; Tern's carry Auto-Submitted:
#       auto-replied and In-Reply-To/References as RFC 3834 asks. Compared: who gets a
#       reply, from <>, its Subject and From address, its body text.
#   VACATION_FROM: when the message was sent to one of the script's :addresses, Pigeonhole
#       answers from that address; Tern from the user's own address, as RFC 5230 5.4 says
#       (the owner of the script). Only then the From addresses may differ.
#   REJECT_AUTOMATED: Pigeonhole sends no MDN for an automated message (Auto-Submitted, a
#       MAILER-DAEMON or null sender) and drops it; Tern refuses it all the same, and the
#       MTA's bounce rules apply (no DSN to the null sender, RFC 3461 6.2).
#   EREJECT_AS_REJECT: Pigeonhole 0.5.19 does not know ereject; it runs the script with
#       reject instead (RFC 5429: ereject is reject preferring a protocol-level refusal).
import concurrent.futures  # noqa: E402
import email  # noqa: E402
import email.utils  # noqa: E402
import email.policy  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402

LDA = "/usr/lib/dovecot/dovecot-lda"
HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(os.path.dirname(HERE), "src", "lib-sieve", "testdata", "cases")
CASE_MSGS = os.path.join(os.path.dirname(HERE), "src", "lib-sieve", "testdata", "msg")
EXTRA = os.path.join(HERE, "sieve_diff")
PER_SCRIPT = 13
NOBODY = 65534

DOVECOT_CONF = """\
base_dir = {run}
log_path = {work}/dovecot.log
mail_location = maildir:~/Maildir
ssl = no
protocols =
postmaster_address = postmaster@example.test
hostname = mx.example.test
sendmail_path = {work}/sendmail
lda_mailbox_autocreate = yes
namespace inbox {{
  inbox = yes
  separator = /
}}
protocol lda {{
  mail_plugins = sieve
}}
plugin {{
  sieve = file:~/sieve;active=~/.dovecot.sieve
  sieve_global = {extra}/global
  sieve_extensions = +ereject
}}
"""

SENDMAIL_STUB = """#!/bin/sh
t=$(mktemp "{out}/.tmp.XXXXXX")
{{ echo "$@"; cat; }} > "$t"
mv "$t" "{out}/sent.${{t##*.}}"
"""


def scripts():
    """[(name, path, directives)]: golden cases that compile, then the extra scripts."""
    out = []
    for f in sorted(os.listdir(CASES)):
        if not f.endswith(".sieve"):
            continue
        exp = open(os.path.join(CASES, f[:-6] + ".expect")).read()
        d = dict(re.findall(r"(?m)^@(\w+) (.*)$", exp))
        if "error" not in d:
            out.append((f[:-6], os.path.join(CASES, f), d))
    for f in sorted(os.listdir(EXTRA)):
        if f.startswith("x") and f.endswith(".sieve"):
            out.append((f[:-6], os.path.join(EXTRA, f), {}))
    return out


def header_sender(data):
    m = re.search(rb"(?mi)^(?:Return-Path|From):.*?<?([^<>\s]+@[^<>\s]+)>?\s*$", data)
    return m.group(1).decode() if m else "x@example"


def messages():
    """{name: (sender, bytes)}: the procmail test's 50 and lib-sieve's 5."""
    from test_procmail_diff import MESSAGES
    out = {"p%02d" % i: m for i, m in enumerate(MESSAGES)}
    for f in sorted(os.listdir(CASE_MSGS)):
        data = open(os.path.join(CASE_MSGS, f), "rb").read()
        out[f] = (header_sender(data), data)
    return out


def rcpt_of(to):
    """The golden case's @to as one of alice's addresses (Tern knows only its users):
    the +detail stays, the rest becomes alice@example.test."""
    if to is None:
        return "alice@example.test"
    local = to.split("@")[0]
    return "alice" + ("+" + local.split("+", 1)[1] if "+" in local else "") + "@example.test"


# Scripts with state (vacation's once per interval, duplicate): the same message more
# than once into the same home, then another one.
SEQUENCES = ["46-vacation-reply", "56-duplicate-first", "x04-vacation-from-subject",
             "x14-date-dup"]


def runs():
    """[(script name, ((message name, sender or None, recipient), ...))]: one delivery
    each, and for SEQUENCES a few runs of several."""
    msgs = sorted(messages())
    out = []
    for i, (name, _, d) in enumerate(scripts()):
        chosen = []
        if "message" in d or "from" in d or "to" in d:
            chosen.append((d.get("message", "plain.eml"), d.get("from"), d.get("to")))
        for k in range(PER_SCRIPT):
            chosen.append((msgs[(i * 7 + k * 4) % len(msgs)], None, None))
        for msg, frm, to in chosen:
            out.append((name, ((msg, frm, rcpt_of(to)),)))
        if name in SEQUENCES:
            for k in range(3):
                m1, m2 = msgs[(i + k * 11) % len(msgs)], msgs[(i + k * 11 + 5) % len(msgs)]
                seq = [(m1, None, rcpt_of(None))] * 2 + [(m2, None, rcpt_of(None)),
                                                         (m1, None, rcpt_of(None))]
                out.append((name, tuple(seq)))
    return out


# ---- reading what each side did ----

ADDED_RE = re.compile(rb"^((Return-Path|Delivered-To):[^\n]*\n)*", re.I)
REDIRECT_ADDED_RE = re.compile(
    rb"(?mi)^(X-Sieve|X-Sieve-Redirected-From|Delivered-To|Return-Path):[^\n]*\n")


def norm(data):
    """ADDED_HEADERS: without the lines each agent puts in front, one final newline."""
    return ADDED_RE.sub(b"", data, count=1).rstrip(b"\n") + b"\n"


def norm_redirect(data, original):
    """ADDED_HEADERS for a redirect: the header lines either adds removed (a Message-ID:
    is Pigeonhole's when the original had none)."""
    head, sep, body = data.partition(b"\n\n")
    head = REDIRECT_ADDED_RE.sub(b"", head + b"\n")
    if not re.search(rb"(?mi)^Message-ID:", original):
        head = re.sub(rb"(?mi)^Message-ID: <dovecot-sieve-[^\n]*\n", b"", head)
    return (head + b"\n" + body).rstrip(b"\n") + b"\n"


def keyword_names(folder, fname):
    path = os.path.join(folder, fname)
    names = {}
    if os.path.exists(path):
        for line in open(path):
            idx, _, name = line.rstrip("\n").partition(" ")
            if idx.isdigit():
                names[chr(ord("a") + int(idx))] = name
    return names


def read_maildirs(root, kwfile):
    """{folder dir: sorted [(sub, system letters, keywords, message)]}."""
    out = {}
    if not os.path.isdir(root):
        return out
    for dirpath, dirnames, _ in os.walk(root):
        if not {"new", "cur"} <= set(dirnames):
            continue
        kw = keyword_names(dirpath, kwfile)
        msgs = []
        for sub in ("new", "cur"):
            for f in os.listdir(os.path.join(dirpath, sub)):
                info = f.split(":2,", 1)[1] if ":2," in f else ""
                system = "".join(sorted(c for c in info if c.isupper()))
                kws = tuple(sorted(kw.get(c, "?" + c) for c in info if c.islower()))
                data = open(os.path.join(dirpath, sub, f), "rb").read()
                msgs.append((sub, system, kws, norm(data)))
        rel = os.path.relpath(dirpath, root)
        if msgs:
            out[rel] = sorted(msgs)
        dirnames[:] = [d for d in dirnames if d not in ("new", "cur", "tmp")]
    return out


def vacation_of(sender, data):
    """VACATION_HEADERS: (to, envelope sender, Subject, From address, body)."""
    m = email.message_from_bytes(data, policy=email.policy.default)
    frm = email.utils.parseaddr(str(m["From"] or ""))[1]
    body = m.get_body(("plain",))
    text = body.get_content().strip() if body is not None else ""
    to = email.utils.parseaddr(str(m["To"] or ""))[1]
    return (to, sender, str(m["Subject"] or ""), frm, text)


def is_vacation(data):
    return re.search(rb"(?mi)^Auto-Submitted: auto-replied", data.split(b"\n\n")[0]) and \
        not re.search(rb"(?mi)^Auto-Submitted: auto-replied \(rejected\)", data)


class Outcome:
    def __init__(self):
        self.refused = None  # the reason text, or None
        self.folders = {}
        self.redirects = []  # (rcpt, sender, message)
        self.vacations = []
        self.code = None

    def key(self):
        refused = " ".join(self.refused.split()) if self.refused is not None else None
        return (refused, self.folders, sorted(self.redirects), sorted(self.vacations))


def automated(sender, data):
    head = data.split(b"\n\n", 1)[0]
    auto = re.search(rb"(?mi)^Auto-Submitted:\s*(\S+)", head)
    return (auto is not None and auto.group(1).lower() != b"no") or not sender or \
        sender.lower().startswith("mailer-daemon")


def reject_automated_named(sender, data, d, t):
    """REJECT_AUTOMATED: Pigeonhole's silent drop counts as Tern's refusal."""
    if t.refused is not None and d.key() == (None, {}, [], []) and automated(sender, data):
        d.refused = t.refused


def vacation_from_named(script_text, d, t):
    """VACATION_FROM: Pigeonhole's reply from one of :addresses counts as Tern's."""
    if ":addresses" not in script_text or len(d.vacations) != len(t.vacations):
        return
    listed = set(a.lower() for a in re.findall(r'"([^"\s]+@[^"\s]+)"', script_text))
    for i, (dv, tv) in enumerate(zip(sorted(d.vacations), sorted(t.vacations))):
        if dv[3].lower() in listed and tv[3] == USER and dv[:3] + dv[4:] == tv[:3] + tv[4:]:
            d.vacations[d.vacations.index(dv)] = tv


# ---- Dovecot ----

def run_dovecot(work, script_path, deliveries):
    """deliveries: [(sender, rcpt, data)], one after another into the same home."""
    home = os.path.join(work, "home")
    out = os.path.join(work, "out")
    os.makedirs(os.path.join(home, "sieve"))
    os.makedirs(out)
    text = open(script_path).read()
    # EREJECT_AS_REJECT: Pigeonhole 0.5 does not know ereject (RFC 5429 2.1: reject that
    # prefers refusing at the protocol level); it gets the same script with reject.
    with open(os.path.join(home, ".dovecot.sieve"), "w") as f:
        f.write(re.sub(r"\bereject\b", "reject", text))
    shutil.copy(os.path.join(EXTRA, "lists.sieve"), os.path.join(home, "sieve", "lists.sieve"))
    conf = os.path.join(work, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(DOVECOT_CONF.format(run=os.path.join(work, "run"), work=work, extra=EXTRA))
    stub = os.path.join(work, "sendmail")
    with open(stub, "w") as f:
        f.write(SENDMAIL_STUB.format(out=out))
    os.chmod(stub, 0o755)
    pre = []
    if os.geteuid() == 0:
        for dp, dns, fns in os.walk(work):
            for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
                os.chown(n, NOBODY, NOBODY)
        pre = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
    env = {"HOME": home, "USER": "alice", "PATH": "/usr/bin:/bin"}
    o = Outcome()
    for sender, rcpt, data in deliveries:
        r = subprocess.run(pre + [LDA, "-c", conf, "-e", "-f", sender or "", "-a", rcpt],
                           input=data, env=env, capture_output=True, timeout=60, cwd=work)
        o.code = r.returncode
        assert r.returncode in (0, 77), (r.returncode, r.stderr)
        if r.returncode == 77:  # an ereject with -e: the reason on stderr
            o.refused = r.stderr.decode(errors="replace").strip()
    o.folders = read_maildirs(os.path.join(home, "Maildir"), "dovecot-keywords")
    for f in sorted(os.listdir(out)):
        if not f.startswith("sent."):
            continue
        args, msg = open(os.path.join(out, f), "rb").read().split(b"\n", 1)
        a = args.decode().split()
        env_from = a[a.index("-f") + 1].strip("<>")
        to = a[a.index("--") + 1:]
        if re.search(rb"(?mi)^Auto-Submitted: auto-replied \(rejected\)", msg):
            # REJECT_AT_DELIVERY: Pigeonhole's MDN carries the reason after this line.
            mdn = email.message_from_bytes(msg, policy=email.policy.default)
            text = mdn.get_body(("plain",)).get_content()
            o.refused = text.split("automatically rejected:", 1)[-1].strip()
        elif is_vacation(msg):
            o.vacations.append(vacation_of(env_from, msg))
        else:
            for t in to:
                o.redirects.append((t, env_from, norm_redirect(msg, deliveries[0][2])))
    return o


# ---- Tern ----

def tern_sieve_dir(inst):
    return os.path.join(inst.dir, "inst", "data", "sieve", "example.test", "alice")


def run_tern(inst, script_path, deliveries):
    md = inst.maildir(USER)
    shutil.rmtree(md, ignore_errors=True)
    for f in os.listdir(tern_sieve_dir(inst)):
        if f != "lists.sieve":
            os.unlink(os.path.join(tern_sieve_dir(inst), f))
    shutil.copy(script_path, os.path.join(tern_sieve_dir(inst), "active.sieve"))
    o = Outcome()
    for sender, rcpt, data in deliveries:
        r = subprocess.run([TERN, "deliver", "-f", sender or "", "-a", rcpt], input=data,
                           env=tern_env(inst.conf), capture_output=True, timeout=60)
        o.code = r.returncode
        assert r.returncode in (0, 69), r.stderr
        if r.returncode == 69:
            m = re.search(rb"5\.7\.1 rejected: (.*?)\)?\n", r.stderr)
            o.refused = m.group(1).decode() if m else r.stderr.decode()
    o.folders = read_maildirs(md, "tern-keywords")
    qdir = os.path.join(inst.dir, "inst", "queue")
    for qid in os.listdir(os.path.join(qdir, "env")):
        env, msg = read_queued(qdir, qid)
        rcpts = [l.split()[1] for l in env.splitlines() if l.startswith("R ")]
        env_from = [l[2:] for l in env.splitlines() if l.startswith("F ")][0].strip("<>")
        if is_vacation(msg):
            o.vacations.append(vacation_of(env_from, msg))
        else:
            for t in rcpts:
                o.redirects.append((t, env_from, norm_redirect(msg, deliveries[0][2])))
        remove_queued(qdir, qid)
    return o


def describe(o):
    lines = ["refused: %r (exit %s)" % (o.refused, o.code)]
    for f, msgs in sorted(o.folders.items()):
        for sub, sysf, kws, m in msgs:
            lines.append("  %s %s/ %s %s %s" % (f, sub, sysf, ",".join(kws),
                                               m.split(b"\n")[0][:60]))
    for r in sorted(o.redirects):
        lines.append("  redirect to=%s from=%s" % (r[0], r[1]))
    for v in sorted(o.vacations):
        lines.append("  vacation %r" % (v,))
    return "\n".join(lines)


@pytest.fixture(scope="module")
def diff_results():
    """Runs every (script, message) pair through both agents; {script: [failures]}."""
    if not os.path.exists(LDA):
        pytest.skip("dovecot-lda not installed (Debian: dovecot-core, dovecot-sieve)")
    from conftest import Instance
    inst = Instance({"sync_method": "fsync", "sieve_global_dir": os.path.join(EXTRA, "global")})
    msgs = messages()
    results = {}
    try:
        os.makedirs(tern_sieve_dir(inst))
        shutil.copy(os.path.join(EXTRA, "lists.sieve"), tern_sieve_dir(inst))
        give(inst, os.path.join(inst.dir, "inst", "data"))
        paths = {n: p for n, p, _ in scripts()}

        def deliveries(run):
            return [(frm if frm is not None else msgs[m][0], rcpt, msgs[m][1])
                    for m, frm, rcpt in run]

        def dovecot_one(item):
            with tempfile.TemporaryDirectory() as work:
                os.chmod(work, 0o755)
                return run_dovecot(work, paths[item[0]], deliveries(item[1]))

        todo = runs()
        seen = {"refused": 0, "discarded": 0, "folder": 0, "flags": 0, "keywords": 0,
                "redirect": 0, "vacation": 0, "no vacation": 0}
        # Pigeonhole in two processes at a time (each run is short); Tern's one Maildir
        # is reused, so its runs go one after another.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for (name, run), d in zip(todo, pool.map(dovecot_one, todo)):
                dl = deliveries(run)
                t = run_tern(inst, paths[name], dl)
                vacation_from_named(open(paths[name]).read(), d, t)
                if len(dl) == 1:
                    reject_automated_named(dl[0][0], dl[0][2], d, t)
                copies = [c for f in d.folders.values() for c in f]
                seen["refused"] += d.refused is not None
                seen["discarded"] += d.key() == (None, {}, [], [])
                seen["folder"] += any(f != "." for f in d.folders)
                seen["flags"] += any(c[1] for c in copies)
                seen["keywords"] += any(c[2] for c in copies)
                seen["redirect"] += bool(d.redirects)
                seen["vacation"] += bool(d.vacations)
                seen["no vacation"] += "vacation" in open(paths[name]).read() and \
                    not d.vacations
                results.setdefault(name, [])
                if t.key() != d.key():
                    results[name].append("%s (from %s to %s):\n dovecot:\n%s\n tern:\n%s" % (
                        [m for m, _, _ in run], dl[0][0], dl[0][1], describe(d), describe(t)))
        yield results, seen
    finally:
        inst.cleanup()


@pytest.mark.parametrize("script", [n for n, _, _ in scripts()])
def test_sieve_diff(diff_results, script):
    fails = diff_results[0][script]
    assert not fails, "%d of the messages differ:\n%s" % (len(fails), "\n".join(fails[:3]))


def test_sieve_diff_corpus_size(diff_results):
    """At least 40 scripts and 50 messages, every script on at least 10 messages; and the
    pairs make Pigeonhole do every kind of thing compared (so that agreeing means something)."""
    assert len(scripts()) >= 40 and len(messages()) >= 50
    per = {}
    for name, run in runs():
        per.setdefault(name, set()).update(m for m, _, _ in run)
    assert min(len(v) for v in per.values()) >= 10
    seen = diff_results[1]
    assert min(seen.values()) >= 10, seen
