#!/usr/bin/python3
"""bench/store-bench.py: the mail store's index, Tern against Dovecot, in the same run.

Builds a Maildir and an mbox of COUNT realistic messages (2-6 KB, varied headers and
flags), then for each format and for Tern and Dovecot, on identical copies:

  build    the index from nothing: Tern `bench-store-index build` (store_folder_open of
           INBOX), Dovecot `doveadm mailbox status` (index and control files in a temporary
           folder): wall and CPU time of the process, its peak memory (/usr/bin/time: VmHWM)
  catch-up one message delivered (Maildir tmp/ -> new/, mbox appended) while a session is
           open on INBOX: the round trip of Tern's store_folder_sync (a `session` driver over
           a pipe) and of a Dovecot IMAP NOOP (imap in preauth mode over a pipe); median of
           ROUNDS deliveries; the session's VmHWM
  status   one more delivery, then a new process asks for the folder's status: Tern
           `bench-store-index status`, Dovecot `doveadm mailbox status` (messages unseen
           uidnext uidvalidity highestmodseq)

Each figure is the median of --runs runs; the ratio is Dovecot / Tern (above 1: Tern is
faster or smaller). Run by hand, as root (both run as `nobody`):
    ninja -C build src/lib-store/bench-store-index
    /usr/bin/python3 bench/store-bench.py [--count 100000] [--runs 3]
Not a test: machines are noisy, compare the ratios.
"""
import argparse
import os
import pwd
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

NOBODY = pwd.getpwnam("nobody")
WORDS = ("mail server index folder message report meeting budget release patch review "
         "update kernel network storage backup invoice travel lunch schedule draft notes "
         "question answer thanks urgent weekly project client").split()
DOMAINS = ["example.org", "example.com", "lists.example.net", "corp.example", "mail.test"]


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def make_message(rng, i, t):
    """One message of about 2-6 KB: headers that vary like real mail, text lines."""
    frm = f"{rng.choice(WORDS)}.{rng.choice(WORDS)}@{rng.choice(DOMAINS)}"
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    hdr = [f"Return-Path: <{frm}>",
           f"Received: from mx{i % 7}.{rng.choice(DOMAINS)} (mx [192.0.2.{i % 250}])\n"
           f"\tby mail.example.org with ESMTPS id {i:08X}\n\tfor <user@example.org>; {date}",
           f"From: {words(rng, 2).title()} <{frm}>", "To: user@example.org",
           f"Subject: {words(rng, rng.randint(2, 8))}", f"Date: {date}",
           f"Message-ID: <{i}.{rng.getrandbits(48):x}@{rng.choice(DOMAINS)}>",
           "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    if rng.random() < 0.4:
        hdr.append(f"In-Reply-To: <{rng.randint(1, i + 1)}.ab@example.org>")
    if rng.random() < 0.3:
        hdr.append(f"List-Id: {rng.choice(WORDS)} <{rng.choice(WORDS)}.lists.example.net>")
    if rng.random() < 0.2:
        hdr.append("DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=s1;\n\tb=" +
                   "".join(rng.choice("ABCDEFabcdef0123456789") for _ in range(340)))
    body, size = [], rng.randint(2048, 6144)
    while sum(len(line) + 1 for line in body) < size:
        line = words(rng, rng.randint(4, 12))
        body.append(("From " + line) if rng.random() < 0.003 else line)
    return ("\n".join(hdr) + "\n\n" + "\n".join(body) + "\n").encode()


def make_corpus(top, count, seed=1):
    """Writes top/master-maildir and top/master-mbox; returns nothing."""
    rng = random.Random(seed)
    md = os.path.join(top, "master-maildir")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub))
    t = 1600000000
    with open(os.path.join(top, "master-mbox"), "wb") as mbox:
        for i in range(count):
            t += rng.randint(1, 600)
            msg = make_message(rng, i, t)
            flags = rng.choice(["S", "S", "S", "RS", "FS", ""])
            base = f"{t}.M{rng.randint(0, 999999)}P{rng.randint(100, 99999)}Q{i}.mail,S={len(msg)}"
            path = (os.path.join(md, "new", base) if i >= count - count // 50
                    else os.path.join(md, "cur", f"{base}:2,{flags}"))
            with open(path, "wb") as fp:
                fp.write(msg)
            os.utime(path, (t, t))
            head, _, rest = msg.partition(b"\n\n")
            status = b"\nStatus: RO" if "S" in flags and i < count - count // 50 else b""
            rest = b"\n".join((b">" + ln) if ln.startswith(b"From ") else ln
                              for ln in rest.split(b"\n"))
            stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t)).encode()
            mbox.write(b"From sender@example.org " + stamp + b"\n" + head + status +
                       b"\n\n" + rest + b"\n")


DOVECOT_CONF = """base_dir = {d}/run
log_path = {d}/dovecot.log
ssl = no
protocols = imap
first_valid_uid = 1
mail_location = {loc}
passdb {{
  driver = static
  args = password=x
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}
}}
"""


def chown_tree(path):
    for dirpath, dirs, files in os.walk(path):
        os.chown(dirpath, NOBODY.pw_uid, NOBODY.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), NOBODY.pw_uid, NOBODY.pw_gid)


# setpriv rather than a preexec_fn, so that Python's subprocess can use vfork
AS_NOBODY = ["setpriv", f"--reuid={NOBODY.pw_uid}", f"--regid={NOBODY.pw_gid}",
             "--clear-groups"]


class Instance:
    """One system (tern or dovecot) on its own copy of one format's mailbox."""

    def __init__(self, top, system, fmt, tern_bin):
        self.system, self.fmt, self.bin = system, fmt, tern_bin
        self.dir = tempfile.mkdtemp(prefix=f"{system}-{fmt}-", dir=top)
        src = os.path.join(top, f"master-{fmt}")
        if fmt == "maildir":
            self.path = os.path.join(self.dir, "Maildir")
            subprocess.run(["cp", "-al", src, self.path], check=True)
            loc = f"maildir:{self.path}:INDEX={self.dir}/idx:CONTROL={self.dir}/ctl"
        else:
            os.mkdir(os.path.join(self.dir, "mail"))
            self.path = os.path.join(self.dir, "mail", "inbox")
            shutil.copyfile(src, self.path)
            loc = f"mbox:{self.dir}/mail:INBOX={self.path}:INDEX={self.dir}/idx"
        self.conf = os.path.join(self.dir, "dovecot.conf")
        os.mkdir(os.path.join(self.dir, "run"))
        with open(self.conf, "w") as fp:
            fp.write(DOVECOT_CONF.format(d=self.dir, loc=loc))
        chown_tree(self.dir)
        self.env = dict(os.environ, USER="bench", HOME=self.dir)
        self.delivered = 0

    def command(self, what):
        if self.system == "tern":
            return AS_NOBODY + [self.bin, what, self.path]
        if what == "session":
            return AS_NOBODY + ["/usr/lib/dovecot/imap", "-c", self.conf]
        return AS_NOBODY + ["doveadm", "-c", self.conf, "mailbox", "status",
                "messages unseen uidnext uidvalidity highestmodseq", "INBOX"]

    def run_timed(self, what):
        """(wall ms, peak KB, output) of one process; its CPU time (user + system) in
        self.cpu_ms. From /usr/bin/time: ru_maxrss of a child exec'ed straight from
        Python would count Python's pages."""
        peak_file = os.path.join(self.dir, "peak")
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%U %S %M", "-o", peak_file] +
                           self.command(what), capture_output=True, env=self.env)
        ms = (time.perf_counter() - t0) * 1000
        if p.returncode != 0 or b"Error" in p.stderr:
            sys.exit(f"{self.system} {what} failed: {p.stderr.decode(errors='replace')}")
        with open(peak_file) as fp:
            user, system, peak = fp.read().split()[-3:]
        self.cpu_ms = (float(user) + float(system)) * 1000
        return ms, int(peak), p.stdout.decode()

    def deliver(self):
        self.delivered += 1
        n, t = self.delivered, int(time.time())
        msg = f"From: late@example.org\nSubject: late {n}\nMessage-ID: <{n}.late@x>\n\nhi\n"
        if self.fmt == "maildir":
            name = f"{t}.M{n}P{os.getpid()}.bench,S={len(msg)}"
            tmp = os.path.join(self.path, "tmp", name)
            with open(tmp, "w") as fp:
                fp.write(msg)
            os.chown(tmp, NOBODY.pw_uid, NOBODY.pw_gid)
            os.rename(tmp, os.path.join(self.path, "new", name))
        else:
            stamp = time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(t))
            with open(self.path, "a") as fp:
                fp.write(f"From late@example.org {stamp}\n{msg}\n")


def peak_memory(pid):
    with open(f"/proc/{pid}/status") as fp:
        for line in fp:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def session_catchup(inst, rounds):
    """Median round trip (ms) of a sync after one delivery, and the session's VmHWM (KB)."""
    p = subprocess.Popen(inst.command("session"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         env=inst.env,
                         bufsize=0)

    def ask(line, done):
        p.stdin.write(line.encode())
        while True:
            got = p.stdout.readline().decode()
            if not got:
                sys.exit(f"{inst.system} session ended")
            if got.startswith(done):
                return got

    if inst.system == "tern":
        ask("", "ready")
        request, done = "sync\n", "synced"
    else:
        ask("a SELECT INBOX\r\n", "a OK")
        request, done = "n NOOP\r\n", "n OK"
    times = []
    for _ in range(rounds):
        time.sleep(0.2)
        inst.deliver()
        t0 = time.perf_counter()
        ask(request, done)
        times.append((time.perf_counter() - t0) * 1000)
    hwm = peak_memory(p.pid)
    p.stdin.write(b"quit\n" if inst.system == "tern" else b"q LOGOUT\r\n")
    p.stdin.close()
    p.wait()
    return statistics.median(times), times[0], hwm


def one_run(top, fmt, system, args):
    inst = Instance(top, system, fmt, args.tern)
    time.sleep(1.1)  # the directories' times settle, as on a mailbox at rest
    res = {}
    res["build ms"], res["build peak KB"], _ = inst.run_timed("build")
    res["build cpu ms"] = inst.cpu_ms
    res["catch-up ms"], res["first catch-up ms"], res["session KB"] = session_catchup(
        inst, args.rounds)
    inst.deliver()
    res["status ms"], _, _ = inst.run_timed("status")
    res["status cpu ms"] = inst.cpu_ms
    shutil.rmtree(inst.dir)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=5, help="deliveries per catch-up session")
    ap.add_argument("--formats", default="maildir,mbox")
    ap.add_argument("--tern", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "build", "src", "lib-store",
        "bench-store-index"))
    ap.add_argument("--dir", default="/var/tmp", help="where the mailboxes are made")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (both systems run as nobody)")
    if not os.access(args.tern, os.X_OK):
        sys.exit(f"no {args.tern}: ninja -C build src/lib-store/bench-store-index")
    top = tempfile.mkdtemp(prefix="tern-store-bench.", dir=args.dir)
    os.chmod(top, 0o755)
    try:
        t0 = time.time()
        make_corpus(top, args.count)
        print(f"corpus: {args.count} messages, Maildir and mbox "
              f"({os.path.getsize(os.path.join(top, 'master-mbox')) >> 20} MB) "
              f"in {time.time() - t0:.0f} s", flush=True)
        for fmt in args.formats.split(","):
            report(top, fmt, args)
    finally:
        shutil.rmtree(top)


def report(top, fmt, args):
    figures = {"tern": [], "dovecot": []}
    for run in range(args.runs):
        order = ("tern", "dovecot") if run % 2 == 0 else ("dovecot", "tern")
        for system in order:
            figures[system].append(one_run(top, fmt, system, args))
        print(f"  {fmt} run {run + 1}: " + "; ".join(
            f"{s} " + ", ".join(f"{k} {v:.1f}" for k, v in figures[s][-1].items())
            for s in order), flush=True)
    print(f"\n{fmt}, {args.count} messages, median of {args.runs} runs")
    print(f"  {'':22} {'Tern':>10} {'Dovecot':>10} {'Dovecot/Tern':>13}")
    for key in figures["tern"][0]:
        t = statistics.median(r[key] for r in figures["tern"])
        d = statistics.median(r[key] for r in figures["dovecot"])
        print(f"  {key:22} {t:10.2f} {d:10.2f} {d / t if t else 0:13.2f}")
    print(flush=True)


if __name__ == "__main__":
    main()
