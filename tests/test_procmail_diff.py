"""Differential test of `tern deliver` against the real procmail 3.22.

Every rc file (the engine-level ones of src/lib-filter/testdata/procmail, plus the ones in
RC_FILES below for mbox, Maildir, MH, plain directories, forwards, pipes and filters) runs
over every message of MESSAGES (made with the email package: varied headers, sizes, MIME
bodies, 8-bit text, "From " lines in bodies). The same stream goes through

  procmail -f SENDER -m MAILDIR=md DEFAULT=md/ ... RCFILE   (with Return-Path: and
      Delivered-To: put in front of the message, as Postfix's local(8) does before it
      runs a mailbox_command, so that both see the same bytes), and
  tern deliver -f SENDER -a wN@example.test   (the rc file as the user's .procmailrc,
      deliver_allow_commands = yes; WORKERS rc files at once, each by its own user),

each into its own folder, and the results are compared: which folders exist, their kind
(mbox, Maildir, MH, directory), the messages in each (in order for mbox and MH, as a set
for Maildir and directories), with the From_, Return-Path: and Delivered-To: lines
removed; the messages each pipe stub received; the forwards (recipients and message).

Where Tern deliberately differs, the comparison says so:
  - MBOXRD: Tern writes mbox files with mboxrd quoting (">From " becomes ">>From ", so
    a reader restores the message exactly); procmail quotes only "From " (mboxo), which
    loses ">From " lines. Mbox messages are compared with every ">*From " unquoted to
    "From "; and Tern's copies are checked to unquote (mboxrd) to the original exactly.
  - FORWARD_QUEUE: `!` goes into Tern's own queue with the original envelope sender; $SENDMAIL
    is not run. Procmail's forwards are read from the stub sendmail's records, Tern's
    from the queue's envelope and data files, and compared.
  - FROM_LINE: Maildir and MH copies have no From_ line in Tern (procmail keeps it in MH).
"""
import concurrent.futures
import email.message
import email.policy
import os
import queue
import random
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import TERN, tern_env, read_queued, remove_queued

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(os.path.dirname(HERE), "src", "lib-filter", "testdata", "procmail")
PROCMAIL = shutil.which("procmail") or "/usr/bin/procmail"

pytestmark = pytest.mark.skipif(not os.path.exists(PROCMAIL), reason="procmail not installed")

# rc files beyond lib-filter's: delivery methods, forwards, pipes, filters.
RC_FILES = {
    "d01-mbox-locked.rc": """
:0:
* ^Subject:.*(hello|Hello)
hello.mbox
:0:
* ^From:.*carol
carol.mbox
""",
    "d02-maildir-mh-dir.rc": """
:0
* ^Subject:.*meeting
meetings/
:0
* ^Subject:.*report
reports/.
:0
* ^From:.*bob
bobdir
""",
    "d03-forward.rc": """
:0
* ^Subject:.*forward me
! fw1@example.net fw2@example.org
:0 c
* ^From:.*dave
! dave-copy@example.net
""",
    "d04-pipe.rc": """
:0 w
* ^Subject:.*pipe
| $STUBS/record pipe1
:0 Wc
* ^From:.*alice
| $STUBS/record alicecopy
""",
    "d05-filter-header.rc": """
:0 fhw
| sed -e 's/^Subject: /Subject: [filtered] /'
:0
* ^Subject: \\[filtered\\].*hello
filtered-hello/
""",
    "d06-filter-body.rc": """
:0 fbw
* ^Subject:.*(report|meeting)
| tr a-z A-Z
:0
* B ?? REPORT
upper.mbox
""",
    "d07-cond-program.rc": """
:0
* ? grep -q -i meeting
via-grep/
:0 E
* ! ? grep -q -i money
no-money/.
""",
    "d08-score.rc": """
:0
* 10^0 ^Subject:.*(WIN|money|free)
* 5^0 ^From:.*bad\\.example
* -20^0 ^From:.*alice
spam.score
""",
    "d09-body-size.rc": """
:0
* > 20000
large/
:0
* B ?? ^Content-Type: (image|application)
attachments/
""",
    "d10-copy-chain.rc": """
:0 c
all.mbox
:0 c
all.md/
:0
* ^Subject:.*nothing-matches-this
never
:0 E
rest/.
""",
    "d11-backquote-var.rc": """
DOMAIN=`formail -xFrom: | sed -e 's/.*@//' -e 's/>.*//'`
:0
* DOMAIN ?? example\\.org
from-example-org/
""",
    "d12-includerc.rc": """
INCLUDERC=$TESTDATA/include.rcinc
:0:
* ^Subject:.*Hello
hello.mbox
""",
    "d13-header-feed.rc": """
:0 hc
hdrs.mbox
:0 b
* ^Subject:.*meeting
bodies/
""",
    "d14-devnull.rc": """
:0
* ^Subject:.*WIN
/dev/null
:0
* ^X-Spam-Status: Yes
/dev/null
""",
    "d15-pipe-and-capture.rc": """
LINES=| wc -l
:0
* LINES ?? ^ *[0-9][0-9][0-9]
long/
:0 c
* ^Subject:.*status
| $STUBS/record status
""",
    "d16-nested-else.rc": """
:0
* ^To:.*dev@lists
{
    :0
    * ^Subject:.*\\[dev\\]
    dev/
    :0 E
    dev-other/
}
:0 E
* ^Cc:
cc.mbox
""",
}

SUBJECTS = ["hello", "Hello there", "WIN MONEY NOW", "meeting tomorrow", "weekly report",
            "[dev] Build broken {again}", "forward me please", "pipe this", "status update",
            "Re: lunch", "Grüße aus Köln", "free free free", "nothing special", ""]
FROMS = ["Alice <alice@example.org>", "bob@example.com", "Carol <carol@example.net>",
         "Dave <dave@example.org>", '"Winner" <spammer@bad.example>',
         "Mail Delivery System <MAILER-DAEMON@mx.example.org>", "eve@example.net"]
TOS = ["bob@example.com", "dev@lists.example.net", "alice@example.test",
       "undisclosed-recipients:;", "Team <team@example.com>, alice@example.test"]


def make_messages():
    """50 messages: lib-filter's 4, then 46 generated with a fixed seed."""
    out = []
    for name in sorted(f for f in os.listdir(TESTDATA) if f.endswith(".msg")):
        data = open(os.path.join(TESTDATA, name), "rb").read()
        sender = data.split(b"\n", 1)[0].split()[1].decode()
        out.append((sender, data.split(b"\n", 1)[1]))
    rnd = random.Random(8)
    policy = email.policy.default.clone(linesep="\n")
    while len(out) < 50:
        i = len(out)
        m = email.message.EmailMessage(policy=policy)
        m["From"] = rnd.choice(FROMS)
        m["To"] = rnd.choice(TOS)
        if rnd.random() < 0.3:
            m["Cc"] = "carol@example.net"
        m["Subject"] = rnd.choice(SUBJECTS)
        m["Message-ID"] = "<%d.%d@gen.example>" % (i, rnd.randrange(10 ** 6))
        if rnd.random() < 0.2:
            m["List-Id"] = "<dev.lists.example.net>"
        if rnd.random() < 0.2:
            m["X-Spam-Status"] = "Yes, score=%d.0" % rnd.randrange(5, 20)
        lines = []
        for _ in range(rnd.choice([1, 3, 10, 40, 200, 2000])):
            lines.append(rnd.choice(["plain line", "From the start of a line",
                                     ">From a quoted line", "money matters", "",
                                     "x" * rnd.randrange(1, 300), "Ünïcödé text",
                                     "REPORT follows", "meeting notes"]))
        body = "\n".join(lines) + "\n"
        if rnd.random() < 0.25:
            m.set_content(body)
            m.add_attachment(bytes(rnd.randrange(256) for _ in range(rnd.randrange(10, 5000))),
                             maintype="application", subtype="octet-stream",
                             filename="f%d.bin" % i)
        else:
            m.set_content(body, cte=rnd.choice(["8bit", "quoted-printable", "base64"]))
        data = m.as_bytes(policy=policy)
        if rnd.random() < 0.1:
            data = data.rstrip(b"\n")  # no final newline
        sender = re.sub(r".*<|>.*", "", m["From"]) or "x@example"
        out.append((sender, data))
    return out


# Stubs write a temporary file and rename it: a reader sees whole records only.
RECORD = """#!/bin/sh
# records stdin as OUT/NAME.N
t=$(mktemp "%s/.tmp.XXXXXX")
cat > "$t"
mv "$t" "$(dirname "$t")/$1.${t##*.}"
"""
SENDMAIL = """#!/bin/sh
# records a forward: arguments, then the message
t=$(mktemp "%s/.tmp.XXXXXX")
{ echo "$@"; cat; } > "$t"
mv "$t" "$(dirname "$t")/fw.${t##*.}"
"""


def write_stubs(folder):
    out = os.path.join(folder, "out")
    os.makedirs(out)
    for name, text in (("record", RECORD), ("sendmail", SENDMAIL)):
        p = os.path.join(folder, name)
        with open(p, "w") as f:
            f.write(text % out)
        os.chmod(p, 0o755)
    return out


def rc_names():
    names = sorted(f for f in os.listdir(TESTDATA) if f.endswith(".rc"))
    return names + sorted(RC_FILES)


def rc_text(name):
    if name in RC_FILES:
        return RC_FILES[name]
    return open(os.path.join(TESTDATA, name)).read()


# ---- normalising what each side wrote ----

HEAD_RE = re.compile(rb"^(From [^\n]*\n)?((Return-Path|Delivered-To):[^\n]*\n)*", re.I)


def norm(data):
    """A message without the lines each agent adds, with one final newline."""
    return HEAD_RE.sub(b"", data, count=1).rstrip(b"\n") + b"\n"


def split_mbox(data):
    msgs, cur = [], None if data.startswith(b"From ") else []
    for line in data.split(b"\n"):
        if line.startswith(b"From "):
            if cur is not None:
                msgs.append(b"\n".join(cur))
            cur = []
            continue
        if cur is not None:
            cur.append(line)
    if cur is not None:
        msgs.append(b"\n".join(cur))
    return msgs


def mbox_unquote_all(m):
    return re.sub(rb"(?m)^>+From ", b"From ", m)


def mboxrd_unquote(m):
    return re.sub(rb"(?m)^>(>*From )", rb"\1", m)


def read_tree(root, skip):
    """{relative path: (kind, [messages])}; Maildir/dir contents sorted, mbox/MH in order."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if {"new", "cur", "tmp"} <= set(dirnames):
            msgs = []
            for sub in ("new", "cur"):
                for f in os.listdir(os.path.join(dirpath, sub)):
                    msgs.append(norm(open(os.path.join(dirpath, sub, f), "rb").read()))
            tree[rel + "/"] = ("maildir", sorted(msgs))
        dirnames[:] = [d for d in dirnames if d not in ("new", "cur", "tmp")]
        numbered = sorted((int(f), f) for f in filenames if f.isdigit())
        if numbered:
            tree[rel + "/."] = ("mh", [norm(open(os.path.join(dirpath, f), "rb").read())
                                      for _, f in numbered])
        plain = sorted(f for f in filenames if f.startswith("msg."))
        if plain:
            tree[rel + "/msg."] = ("dir", sorted(
                norm(open(os.path.join(dirpath, f), "rb").read()) for f in plain))
        for f in filenames:
            path = os.path.relpath(os.path.join(dirpath, f), root)
            if f.isdigit() or f.startswith("msg.") or f.endswith(".lock") or path in skip:
                continue
            data = open(os.path.join(dirpath, f), "rb").read()
            tree[path] = ("mbox", [norm(m) for m in split_mbox(data)])
    return tree


def settle(out, timeout=10):
    """procmail does not wait for a "c" forward's clone: let the stubs finish."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        now = sorted(os.listdir(out))
        if now == last and not any(f.startswith(".tmp.") for f in now):
            return
        last = now
        time.sleep(0.2)


def recorded(out):
    """Pipe stub records: {name: sorted messages}; forwards: sorted (rcpts, message)."""
    settle(out)
    pipes, forwards = {}, []
    for f in sorted(os.listdir(out)):
        data = open(os.path.join(out, f), "rb").read()
        if f.startswith("fw."):
            args, data = data.split(b"\n", 1)
            rcpts = tuple(sorted(a for a in args.decode().split() if not a.startswith("-")))
            forwards.append((rcpts, norm(data)))
        else:
            pipes.setdefault(f.split(".")[0], []).append(norm(data))
    return {k: sorted(v) for k, v in pipes.items()}, sorted(forwards)


def queued_forwards(queue_dir, user):
    """Takes the queued forwards of user's deliveries (Delivered-To: user) out of the queue."""
    out = []
    env_dir = os.path.join(queue_dir, "env")
    for qid in os.listdir(env_dir) if os.path.isdir(env_dir) else []:
        env, data = read_queued(queue_dir, qid)
        if not data.startswith(b"Delivered-To: %s\n" % user.encode()):
            continue
        rcpts = []
        for line in env.splitlines(True):
            if line.startswith("R "):
                rcpts.append(line.split()[1])
            elif line.startswith("F "):
                sender = line[2:].strip()
        out.append((tuple(sorted(rcpts)), norm(data), sender))
        remove_queued(queue_dir, qid)
    return out


# ---- running both ----

def run_procmail(rc, msgs, work, user):
    md = os.path.join(work, "md")
    os.makedirs(md)
    out = write_stubs(work)
    tdata = os.path.join(work, "testdata")
    shutil.copytree(TESTDATA, tdata)
    rcfile = os.path.join(work, "rc")
    with open(rcfile, "w") as f:
        f.write("TESTDATA=%s\nSTUBS=%s\n%s" % (tdata, work, rc))
    env = {"PATH": "/usr/bin:/bin", "HOME": work, "LOGNAME": "alice", "SHELL": "/bin/sh"}
    for sender, data in msgs:
        head = b"Return-Path: <%s>\nDelivered-To: %s\n" % (sender.encode(), user.encode())
        subprocess.run([PROCMAIL, "-f", sender, "-m", "MAILDIR=" + md, "DEFAULT=" + md + "/",
                        "ORGMAIL=" + md + "/", "SENDMAIL=" + os.path.join(work, "sendmail"),
                        rcfile], input=head + data, env=env, cwd=work, check=False,
                       stderr=subprocess.DEVNULL)
    return read_tree(md, set()), recorded(out)


def run_tern(inst, rc, msgs, work, user):
    md = inst.maildir(user)
    shutil.rmtree(md, ignore_errors=True)
    os.makedirs(md)
    qdir = os.path.join(inst.dir, "inst", "queue")
    out = write_stubs(work)
    tdata = os.path.join(md, "testdata")
    shutil.copytree(TESTDATA, tdata)
    with open(os.path.join(md, ".procmailrc"), "w") as f:
        f.write("TESTDATA=%s\nSTUBS=%s\n%s" % (tdata, work, rc))
    # tern deliver started as root runs as the instance's account: hand it the folder,
    # and let it reach the stubs and their records.
    st = os.stat(os.path.join(inst.dir, "inst", "data"))
    for dp, dns, fns in os.walk(md):
        for n in [dp] + [os.path.join(dp, x) for x in dns + fns]:
            os.chown(n, st.st_uid, st.st_gid)
    os.chmod(work, 0o755)
    os.chmod(out, 0o777)
    env = tern_env(inst.conf)
    for sender, data in msgs:
        r = subprocess.run([TERN, "deliver", "-f", sender, "-a", user], input=data, env=env,
                           capture_output=True, check=False)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
    skip = {".procmailrc"} | {os.path.relpath(os.path.join(dp, f), md)
                              for dp, _, fs in os.walk(tdata) for f in fs}
    return read_tree(md, skip), recorded(out), queued_forwards(qdir, user)


MESSAGES = make_messages()
WORKERS = 4  # rc files run at once, each by its own user (the time goes in waiting)


def run_one(inst, free, rc_name):
    user = free.get()
    try:
        rc = rc_text(rc_name)
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            return run_procmail(rc, MESSAGES, a, user), run_tern(inst, rc, MESSAGES, b, user)
    except Exception as e:  # reported by that rc file's test
        return e
    finally:
        free.put(user)


@pytest.fixture(scope="module")
def diff_results():
    """Runs every rc file through both agents, WORKERS at a time."""
    from conftest import Instance
    # fsync, not syncfs: a syncfs waits for every dirty page of the machine (tests run
    # side by side); durability is not what this test measures.
    inst = Instance({"deliver_allow_commands": "yes", "deliver_command_timeout": "20s",
                     "sync_method": "fsync"})
    try:
        free = queue.Queue()
        for i in range(WORKERS):
            inst.add_user("w%d@example.test" % i, "pw")
            free.put("w%d@example.test" % i)
        names = rc_names()
        with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
            results = list(pool.map(lambda n: run_one(inst, free, n), names))
        yield dict(zip(names, results))
    finally:
        inst.cleanup()


BODY_ONLY_RC = {("32-raw-header.rc", "bodies")}
# PIPE_RACE: procmail writes to a pipe after its program may have exited, so whether
# `| true` (which reads nothing) fails is a race there (run it twice: different results);
# Tern fills the pipe first, so only messages bigger than the pipe buffer fail it,
# every time. The folders the message can end in are compared together.
PIPE_RACE_RC = {"10-error.rc": ("./", "after-true")}


def flat(msgs):
    """The lines, sorted: procmail's "c" clones append in any order."""
    return sorted(l for m in msgs for l in mbox_unquote_all(m).split(b"\n") if l)


def merge(tree, paths):
    merged = []
    for p in paths:
        merged += [mbox_unquote_all(m) for m in tree.pop(p, ("maildir", []))[1]]
    tree["+".join(paths)] = ("merged", sorted(merged))


def compare_mbox(path, pm_msgs, tern_msgs, originals):
    """MBOXRD: compare with all quoting undone; Tern's copies must also round-trip (unless
    a filter changed the message: then it is not among the originals)."""
    assert [mbox_unquote_all(m) for m in tern_msgs] == [mbox_unquote_all(m) for m in pm_msgs], \
        path
    lossy = {mbox_unquote_all(o) for o in originals}
    for m in tern_msgs:
        if mbox_unquote_all(m) in lossy:
            assert mboxrd_unquote(m) in originals, path


@pytest.mark.parametrize("rc_name", rc_names())
def test_procmail_diff(diff_results, rc_name):
    res = diff_results[rc_name]
    if isinstance(res, Exception):
        raise res
    (pm_tree, (pm_pipes, pm_forwards)), (t_tree, (t_pipes, _), t_queue) = res
    originals = {norm(d) for _, d in MESSAGES}
    if rc_name in PIPE_RACE_RC:
        merge(pm_tree, PIPE_RACE_RC[rc_name])
        merge(t_tree, PIPE_RACE_RC[rc_name])
    assert sorted(t_tree) == sorted(pm_tree), "folders differ"
    for path, (kind, pm_msgs) in pm_tree.items():
        t_kind, t_msgs = t_tree[path]
        assert t_kind == kind, path
        if (rc_name, path) in BODY_ONLY_RC:
            assert flat(t_msgs) == flat(pm_msgs), path
            continue
        assert len(t_msgs) == len(pm_msgs), "%s: %d vs %d messages" % (path, len(t_msgs),
                                                                      len(pm_msgs))
        if kind == "mbox":
            compare_mbox(path, pm_msgs, t_msgs, originals)
        else:
            assert t_msgs == pm_msgs, path
    assert t_pipes == pm_pipes, "pipe stubs got different messages"
    # FORWARD_QUEUE: the queue holds what procmail gave $SENDMAIL, with the envelope sender.
    senders = {norm(d): s for s, d in MESSAGES}
    assert sorted((r, m) for r, m, _ in t_queue) == pm_forwards
    for rcpts, m, sender in t_queue:
        assert sender == senders.get(m, sender)
