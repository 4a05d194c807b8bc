#!/usr/bin/python3
"""imap-bench: IMAP over a large Maildir, Tern vs Dovecot 2.3, same run (issue 6).

A mailbox of MESSAGES realistic messages (2-8 KB, varied headers, a quarter multipart) is
generated once into a cache folder (--cache, default /var/tmp/tern-imap-bench) and copied
fresh for each server: into alice@example.test's Maildir of a Tern instance (tests'
conftest.Instance) and into alice's mail_location of a private Dovecot (bench/dovecot-peer.py).

The same lean socket client (big reads, the tagged line looked for only in new bytes) drives
both servers. Operations:

  login+select       connect, LOGIN, SELECT INBOX
  fetch envelope     FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)
  fetch bodystruct   FETCH 1:* BODYSTRUCTURE
  search subject     UID SEARCH SUBJECT "quarterly"   (about 1% of the messages)
  search text        UID SEARCH TEXT "zanzibar"       (about 0.5%, in bodies)
  1000 body fetches  FETCH n BODY.PEEK[] for 1,000 random n, one command at a time
  store +seen        STORE 1:* +FLAGS (\\Seen)  (untimed -FLAGS.SILENT before each run)
  50 clients         50 threads x ROUNDS sessions: connect/LOGIN/SELECT/FETCH one/LOGOUT
  idle memory        1,000 sessions in IDLE: sum of VmRSS of Tern's imap worker(s) and of
                     Dovecot's imap processes, / 1,000 (also the growth over the idle-free
                     state for Tern, and PSS for Dovecot, which does not count shared pages
                     once per process)

"cold": the mailbox was just copied (no index, first SELECT builds it); repeated ROUNDS
times on fresh copies with both servers restarted. "warm": the same session after that,
every operation repeated 3 times. Every figure is a median of 3, Tern and Dovecot
alternating, and the ratio is Dovecot/Tern seconds (> 1: Tern faster). Also timed once:
building the index offline (`tern reindex` vs `doveadm index`).

Each operation also records the CPU time the whole server used for it (second table): the
sum over the master and its children of their threads' run time (/proc/PID/task/*/schedstat)
plus what the master's reaped children used (cutime + cstime). For Tern that is the imap
worker with its password-check threads; for Dovecot the imap process of the session, and
imap-login and auth. On a loaded machine the CPU figures move far less than the wall ones.

Passwords: by default both servers check the same crypt(3) hash (Tern's yescrypt, ~25 ms a
check); --fast-hash gives both sha512-crypt with 1,000 rounds, so the login-heavy measures
show the servers rather than the KDF.

Run as root from the source tree after building:
    /usr/bin/python3 bench/imap-bench.py [--messages 10000] [--tern BUILD/src/tern/tern]
    /usr/bin/python3 bench/imap-bench.py --quick          # 1,000 messages, a smoke run
    --only PHASES (cold,warm,clients,idle) / --ops OPERATIONS (login,fetch envelope,store,
    ...: only these in the cold and warm phases) / --pause (wait before stopping, to profile)
"""
import argparse
import crypt
import os
import random
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import importlib.util

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

DOMAIN = "example.test"
TERN_USER = "alice@" + DOMAIN
DOVE_USER = "alice"
PASSWORD = "alice-pw"
SUBJECT_WORD = "quarterly"
TEXT_WORD = "zanzibar"


def load_peer():
    spec = importlib.util.spec_from_file_location("dovecot_peer",
                                                  os.path.join(HERE, "dovecot-peer.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------- the mail

FIRST = ["Anna", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines",
         "Jonas", "Kemal", "Lucia", "Mateo", "Nadia", "Olaf", "Priya", "Quentin", "Rosa",
         "Sven", "Tomasz", "Ulla", "Victor", "Wen", "Yara", "Zoltan"]
LAST = ["Okafor", "Schmidt", "Rossi", "Nakamura", "Dubois", "Kowalski", "Silva", "Novak",
        "Jensen", "Haddad", "Ivanova", "Lindqvist", "Moreau", "Patel", "Garcia", "Chen"]
DOMAINS = ["example.org", "mail.example.net", "lists.example.com", "corp.example",
           "university.example.edu", "shop.example", "news.example.org"]
WORDS = ("the of and to in is for that on with as by this be from at are it an or have not "
         "report meeting project budget review draft update release schedule invoice "
         "server network backup storage client contract proposal agenda minutes summary "
         "customer support ticket issue patch feature design test deploy build version "
         "please thanks regards attached below above question answer team week month "
         "monday friday tomorrow today morning afternoon deadline priority status").split()
SUBJ = ["Re: ", "Fwd: ", "", "", "", "RE: ", "[list] ", "Re: [dev] "]


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def text_body(rng, size, rare):
    lines, n = [], 0
    while n < size:
        line = words(rng, rng.randrange(6, 14))
        if rare and rng.random() < 0.1:
            line += " " + TEXT_WORD
            rare = False
        lines.append(line[0].upper() + line[1:] + ".")
        n += len(lines[-1]) + 1
    if rare:
        lines.append("Greetings from " + TEXT_WORD + ".")
    return "\n".join(lines) + "\n"


def addr(rng):
    f, l, d = rng.choice(FIRST), rng.choice(LAST), rng.choice(DOMAINS)
    return f, l, "%s.%s@%s" % (f.lower(), l.lower(), d)


def make_message(rng, i, t):
    f, l, frm = addr(rng)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))
    subject = rng.choice(SUBJ) + words(rng, rng.randrange(3, 9))
    if rng.random() < 0.01:
        subject += " " + SUBJECT_WORD
    if rng.random() < 0.05:
        subject = "=?UTF-8?B?w4Rnb3N0b24gcmFwb3J0?= " + subject
    h = []
    for hop in range(rng.randrange(1, 4)):
        h.append("Received: from mx%d.%s (mx%d.%s [192.0.2.%d])\n\tby mail.example.test "
                 "with ESMTPS id %08X\n\tfor <alice@example.test>; %s"
                 % (hop, rng.choice(DOMAINS), hop, rng.choice(DOMAINS),
                    rng.randrange(1, 255), rng.randrange(1 << 32), date))
    h.append("Return-Path: <%s>" % frm)
    if rng.random() < 0.3:
        h.append("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel1;\n"
                 "\th=from:to:subject:date:message-id; bh=%s;\n\tb=%s"
                 % (frm.split("@")[1], "%032x" % rng.randrange(1 << 128),
                    "".join("%064x" % rng.randrange(1 << 256) for _ in range(3))))
    h.append('From: "%s %s" <%s>' % (f, l, frm))
    to = ["Alice Liddell <alice@example.test>"]
    if rng.random() < 0.4:
        to += ["%s %s <%s>" % addr(rng) for _ in range(rng.randrange(1, 4))]
    h.append("To: " + ",\n\t".join(to))
    if rng.random() < 0.3:
        h.append("Cc: " + ", ".join("%s" % addr(rng)[2] for _ in range(rng.randrange(1, 3))))
    h.append("Subject: " + subject)
    h.append("Date: " + date)
    h.append("Message-ID: <%d.%08x@%s>" % (i, rng.randrange(1 << 32), frm.split("@")[1]))
    if subject.startswith(("Re", "RE")) and i > 0:
        ref = "<%d.%08x@%s>" % (rng.randrange(i), rng.randrange(1 << 32), rng.choice(DOMAINS))
        h.append("In-Reply-To: " + ref)
        h.append("References: " + ref)
    if "[" in subject:
        h.append("List-Id: Development <dev.lists.example.com>")
        h.append("List-Unsubscribe: <mailto:dev-unsubscribe@lists.example.com>")
    if rng.random() < 0.5:
        h.append("X-Mailer: %s" % rng.choice(["Mutt/2.2.9", "Thunderbird 115.3",
                                               "Apple Mail (2.3731)", "Roundcube 1.6"]))
    h.append("MIME-Version: 1.0")
    size = rng.randrange(2048, 8192)
    rare = rng.random() < 0.005
    kind = rng.random()
    if kind < 0.75:
        h.append("Content-Type: text/plain; charset=utf-8")
        h.append("Content-Transfer-Encoding: 8bit")
        body = text_body(rng, max(size - 900, 400), rare)
    elif kind < 0.92:
        b = "=_alt_%08x" % rng.randrange(1 << 32)
        h.append('Content-Type: multipart/alternative; boundary="%s"' % b)
        txt = text_body(rng, max(size - 1400, 300) // 2, rare)
        html = "<html><body><p>" + txt.replace("\n", "</p>\n<p>") + "</p></body></html>\n"
        body = ("This is a multi-part message in MIME format.\n\n--%s\nContent-Type: "
                "text/plain; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n%s\n--%s\n"
                "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: "
                "quoted-printable\n\n%s\n--%s--\n" % (b, txt, b, html, b))
    else:
        b = "=_mix_%08x" % rng.randrange(1 << 32)
        h.append('Content-Type: multipart/mixed; boundary="%s"' % b)
        txt = text_body(rng, 500, rare)
        raw = bytes(rng.randrange(256) for _ in range(max(size - 1800, 600)))
        import base64
        att = base64.encodebytes(raw).decode()
        body = ("--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n--%s\nContent-Type: "
                "application/pdf; name=\"report-%d.pdf\"\nContent-Disposition: attachment; "
                "filename=\"report-%d.pdf\"\nContent-Transfer-Encoding: base64\n\n%s\n--%s--\n"
                % (b, txt, b, i, i, att, b))
    return ("\n".join(h) + "\n\n" + body).encode()


def make_cache(path, count):
    """Generates the Maildir once (cur/ with a mix of flags, the newest 1% in new/)."""
    done = os.path.join(path, ".complete")
    if os.path.exists(done):
        return
    if os.path.exists(path):
        shutil.rmtree(path)
    rng = random.Random(count)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub))
    t = 1700000000
    for i in range(count):
        t += rng.randrange(60, 3600)
        data = make_message(rng, i, t)
        base = "%d.M%dP%d.mail.example.test,S=%d" % (t, i, 1000 + i % 30000, len(data))
        if i >= count - count // 100:
            name = os.path.join(path, "new", base)
        else:
            r = rng.random()
            fl = "" if r < 0.2 else "S" if r < 0.85 else "RS" if r < 0.95 else "FS"
            name = os.path.join(path, "cur", base + ":2," + fl)
        with open(name, "wb") as f:
            f.write(data)
        os.utime(name, (t, t))
    open(done, "w").close()


def copy_maildir(src, dst, uid, gid, base=None):
    """A fresh copy of the generated mail at dst: into a copy of base when given (the
    Maildir as the server's user creation left it), else alone."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if base is not None:
        shutil.copytree(base, dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".complete"), dirs_exist_ok=True)
    for d, dirs, files in os.walk(dst):
        os.chown(d, uid, gid)
        for f in files:
            os.chown(os.path.join(d, f), uid, gid)


# ---------------------------------------------------------------- a lean IMAP client

class Imap:
    """Sends a command and reads until its tagged reply, looking for "\\r\\nTAG " only in
    the bytes just received (tags are unusual enough not to occur in the mail)."""
    n = 0

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 120)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        while b"\r\n" not in self.buf:
            self.recv()
        if not self.buf.startswith(b"* OK"):
            raise RuntimeError("greeting: %r" % bytes(self.buf[:200]))
        self.buf.clear()

    def recv(self):
        d = self.s.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def send(self, text):
        Imap.n += 1
        tag = b"zq%d" % Imap.n
        self.s.sendall(tag + b" " + text.encode() + b"\r\n")
        return tag

    def wait(self, tag, ok=True):
        pat = b"\r\n" + tag + b" "
        scanned = 0
        while True:
            if self.buf.startswith(tag + b" "):
                i = 0
            else:
                i = self.buf.find(pat, max(scanned - len(pat), 0))
                if i >= 0:
                    i += 2
            if i >= 0:
                j = self.buf.find(b"\r\n", i)
                if j >= 0:
                    out = bytes(self.buf[:j + 2])
                    del self.buf[:j + 2]
                    if ok and not self.buf_ok(out, i, tag):
                        raise RuntimeError("%r" % out[i:j][:300])
                    return out
            scanned = len(self.buf)
            self.recv()

    @staticmethod
    def buf_ok(out, i, tag):
        return out[i + len(tag) + 1:i + len(tag) + 3] == b"OK"

    def cmd(self, text, ok=True):
        return self.wait(self.send(text), ok)

    def login(self, user, password):
        self.cmd('LOGIN "%s" "%s"' % (user, password))

    def close(self):
        try:
            self.cmd("LOGOUT", ok=False)
        except (OSError, EOFError):
            pass
        self.s.close()


# ---------------------------------------------------------------- operations

def cpu_ns(pid):
    """CPU time a process has used so far, all its threads (schedstat: ns; else ticks)."""
    total = 0
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                total += int(open("/proc/%d/task/%s/schedstat" % (pid, t)).read().split()[0])
            except (OSError, ValueError, IndexError):
                f = open("/proc/%d/task/%s/stat" % (pid, t)).read().rsplit(")", 1)[1].split()
                total += (int(f[11]) + int(f[12])) * 10 ** 9 // os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return total


def server_cpu_ns(master):
    """CPU time of a server: its master, the master's children alive now, and the children
    it has reaped (cutime + cstime: Dovecot's per-connection processes that ended)."""
    total = cpu_ns(master)
    try:
        f = open("/proc/%d/stat" % master).read().rsplit(")", 1)[1].split()
        total += (int(f[13]) + int(f[14])) * 10 ** 9 // os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            ppid = int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if ppid == master:
            total += cpu_ns(int(p))
    return total


class Server:
    """master: the server's master process; each operation also records the CPU time of the
    whole server (server_cpu_ns: Tern's imap worker with its password-check threads;
    Dovecot's imap, imap-login and auth processes)."""
    def __init__(self, name, port, user, master=None):
        self.name, self.port, self.user = name, port, user
        self.session = None
        self.master = master
        self.keep = None  # a connection an operation leaves open until its CPU is read

    def cpu_ns(self):
        return server_cpu_ns(self.master) if self.master else 0

    def settle(self, quiet_ns=2 * 10 ** 6, step=0.1, limit=5.0):
        """Waits for the end of the server's start (its CPU time grows by less than 2 ms in
        0.1 s): a server answers on its ports once its master has bound them, and what its
        processes do to start (Tern: every worker, smtp and queue too) is no part of the
        first operation."""
        deadline = time.time() + limit
        last = self.cpu_ns()
        while time.time() < deadline:
            time.sleep(step)
            now = self.cpu_ns()
            if now - last < quiet_ns:
                return
            last = now

    def connect(self):
        c = Imap(self.port)
        c.login(self.user, PASSWORD)
        return c

    def fresh(self):
        """A logged-in session with INBOX selected (reused by the operations)."""
        if self.session is None:
            self.session = self.connect()
            self.session.cmd("SELECT INBOX")
        return self.session

    def drop(self):
        if self.session is not None:
            self.session.close()
            self.session = None


def timed(fn):
    t0 = time.perf_counter()
    info = fn()
    return time.perf_counter() - t0, info


def cpu_timed(srv, fn):
    """(wall seconds, CPU seconds of the server, fn's result)."""
    before = srv.cpu_ns()
    t0 = time.perf_counter()
    info = fn()
    secs = time.perf_counter() - t0
    cpu = (srv.cpu_ns() - before) / 1e9
    if srv.keep is not None:
        srv.keep.close()
        srv.keep = None
    return secs, cpu, info


def op_login_select(srv):
    c = Imap(srv.port)
    c.login(srv.user, PASSWORD)
    r = c.cmd("SELECT INBOX")
    srv.keep = c  # closed once the CPU time is read (Dovecot's process ends with it)
    return int(r.split(b" EXISTS")[0].rsplit(b"* ", 1)[1])


def op_fetch_env(srv):
    return srv.fresh().cmd("FETCH 1:* (FLAGS UID RFC822.SIZE ENVELOPE)").count(b" FETCH (")


def op_fetch_bs(srv):
    return srv.fresh().cmd("FETCH 1:* BODYSTRUCTURE").count(b" FETCH (")


def search_count(r):
    for line in r.split(b"\r\n"):
        if line.startswith(b"* SEARCH"):
            return len(line.split()) - 2
    return -1


def op_search_subject(srv):
    return search_count(srv.fresh().cmd('UID SEARCH SUBJECT "%s"' % SUBJECT_WORD))


def op_search_text(srv):
    return search_count(srv.fresh().cmd('UID SEARCH TEXT "%s"' % TEXT_WORD))


def op_bodies(srv, count, n=1000):
    c = srv.fresh()
    rng = random.Random(7)
    total = 0
    for _ in range(n):
        total += len(c.cmd("FETCH %d BODY.PEEK[]" % rng.randrange(1, count + 1)))
    return total


def op_store_prepare(srv):
    """Untimed: \\Seen off everywhere, so that the STORE changes every message."""
    srv.fresh().cmd("STORE 1:* -FLAGS.SILENT (\\Seen)")


def op_store(srv):
    return srv.fresh().cmd("STORE 1:* +FLAGS (\\Seen)").count(b" FETCH (")


def op_clients(srv, count, clients, rounds):
    errors = []

    def worker(k):
        rng = random.Random(k)
        try:
            for _ in range(rounds):
                c = Imap(srv.port)
                c.login(srv.user, PASSWORD)
                c.cmd("SELECT INBOX")
                c.cmd("FETCH %d BODY.PEEK[]" % rng.randrange(1, count + 1))
                c.close()
        except Exception as e:  # noqa: BLE001  (reported below)
            errors.append("%s: %s" % (type(e).__name__, e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print("  %s: %d client errors, first: %s" % (srv.name, len(errors), errors[0]),
              flush=True)
    return clients * rounds - len(errors)


def rss_kb(pid, key="VmRSS"):
    try:
        if key == "Pss":
            for line in open("/proc/%d/smaps_rollup" % pid):
                if line.startswith("Pss:"):
                    return int(line.split()[1])
        for line in open("/proc/%d/status" % pid):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def idle_sessions(srv, n):
    conns = []
    for k in range(n):
        c = Imap(srv.port)
        c.login(srv.user, PASSWORD)
        c.cmd("SELECT INBOX")
        tag = c.send("IDLE")
        while b"\r\n" not in c.buf:
            c.recv()
        if not c.buf.startswith(b"+"):
            raise RuntimeError("IDLE: %r" % bytes(c.buf[:200]))
        c.buf.clear()
        c.idle_tag = tag
        conns.append(c)
        if k % 200 == 199:
            print("  %s: %d sessions in IDLE" % (srv.name, k + 1), flush=True)
    time.sleep(2)
    return conns


def idle_end(conns):
    for c in conns:
        try:
            c.s.sendall(b"DONE\r\n")
        except OSError:
            pass
    for c in conns:
        try:
            c.wait(c.idle_tag, ok=False)
            c.close()
        except (OSError, EOFError):
            c.s.close()


# ---------------------------------------------------------------- the servers

class TernSide:
    def __init__(self, conftest, maildir_src, hashes_fn):
        self.inst = conftest.Instance({"imap_max_connections": "5000",
                                       "imap_max_connections_per_ip": "5000",
                                       "imap_max_sessions_per_user": "5000",
                                       "log_level": "info"})
        self.src = maildir_src
        self.hashes_fn = hashes_fn
        import pwd
        p = pwd.getpwnam("tern")
        self.uid, self.gid = p.pw_uid, p.pw_gid
        # alice's Maildir as `tern user add` made it (the special-use folders, subscribed):
        # each fresh copy starts from it, as Dovecot's starts from what its user has (none)
        self.pristine = os.path.join(self.inst.dir, "pristine-maildir")
        shutil.copytree(self.inst.maildir(TERN_USER), self.pristine)

    def users_file(self):
        return os.path.join(self.inst.dir, "inst", "data", "users")

    def hash_of(self, user):
        for line in open(self.users_file()):
            if line.startswith(user + ":"):
                return line.split(":")[1]

    def set_hash(self, user, h):
        path = self.users_file()
        out = []
        for line in open(path):
            f = line.rstrip("\n").split(":")
            if f[0] == user:
                f[1] = h
            out.append(":".join(f))
        open(path, "w").write("\n".join(out) + "\n")

    def fresh_copy(self):
        copy_maildir(self.src, self.inst.maildir(TERN_USER), self.uid, self.gid,
                     self.pristine)

    def start(self):
        self.inst.start(wait_port="imap")
        return Server("tern", self.inst.ports["imap"], TERN_USER, self.inst.proc.pid)

    def stop(self):
        self.inst.stop()

    def reindex(self):
        return self.inst.run("reindex", TERN_USER, check=True)

    def imap_pids(self):
        out = []
        for pid in self.inst.pids()[1:]:
            try:
                cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
            except OSError:
                continue
            if b"imap" in cmd:
                out.append(pid)
        return out

    def cleanup(self):
        self.inst.cleanup()


class DoveSide:
    def __init__(self, peer, maildir_src):
        self.peer_mod = peer
        self.src = maildir_src
        self.d = None
        self.hashes = None

    def start(self):
        self.d = self.peer_mod.BenchDovecot().start()
        if self.hashes:
            self.d.set_hashes(self.hashes)
        return Server("dovecot", self.d.port, DOVE_USER, self.d.proc.pid)

    def fresh_copy(self):
        uid, gid = self.d.owner()
        copy_maildir(self.src, self.d.maildir(DOVE_USER), uid, gid)

    def stop(self):
        if self.d is not None:
            self.d.stop()  # also removes its folder (and so the copy)
            self.d = None

    def reindex(self):
        return self.d.index(DOVE_USER)


def median(v):
    return statistics.median(v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", default=os.path.join(ROOT, "build", "src", "tern", "tern"))
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--cache", default="/var/tmp/tern-imap-bench")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=10, help="sessions per client")
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--bodies", type=int, default=1000)
    ap.add_argument("--fast-hash", action="store_true")
    ap.add_argument("--only", default="", help="comma list of: cold,warm,clients,idle")
    ap.add_argument("--ops", default="",
                    help="comma list of operations to time in the cold and warm phases, "
                         "by the start of their names (login,fetch envelope,store,...)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pause", action="store_true",
                    help="after the warm measures, print the pids and wait for Enter")
    a = ap.parse_args()
    if a.quick:
        a.messages, a.clients, a.rounds, a.idle, a.bodies = 1000, 10, 3, 100, 200
    only = set(a.only.split(",")) if a.only else {"cold", "warm", "clients", "idle"}
    if os.geteuid() != 0:
        raise SystemExit("run as root (Tern's run_user and Dovecot need it)")
    os.environ["TERN_BIN"] = os.path.abspath(a.tern)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(8192, 2 * a.idle + 200)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
    import conftest  # noqa: E402  (reads TERN_BIN)
    peer = load_peer()

    src = os.path.join(a.cache, "maildir-%d" % a.messages)
    t0 = time.time()
    make_cache(src, a.messages)
    print("mailbox: %d messages in %s (%.0f s to make)" % (a.messages, src, time.time() - t0),
          flush=True)

    tern = TernSide(conftest, src, None)
    dove = DoveSide(peer, src)
    h = tern.hash_of(TERN_USER)
    if a.fast_hash:
        h = crypt.crypt(PASSWORD, "$6$rounds=1000$%s$" % crypt.mksalt()[3:11])
        tern.set_hash(TERN_USER, h)
    dove.hashes = {DOVE_USER: h}
    n = a.messages
    res = {}  # (phase, op) -> {"tern": [s...], "dovecot": [s...]}
    info = {}

    cpu = {}  # (phase, op) -> {"tern": [CPU s...], "dovecot": [...]}

    def note(phase, op, name, secs, what, cpu_secs=None):
        res.setdefault((phase, op), {"tern": [], "dovecot": []})[name].append(secs)
        info.setdefault((op, name), what)
        if cpu_secs is not None:
            cpu.setdefault((phase, op), {"tern": [], "dovecot": []})[name].append(cpu_secs)

    ops = [("login+select", op_login_select), ("fetch envelope", op_fetch_env),
           ("fetch bodystruct", op_fetch_bs), ("search subject", op_search_subject),
           ("search text", op_search_text),
           ("%d body fetches" % a.bodies, lambda s: op_bodies(s, n, a.bodies)),
           ("store +seen", op_store)]

    wanted = [w.strip() for w in a.ops.split(",") if w.strip()]

    def run_ops(srv, phase):
        for name, fn in ops:
            if wanted and not any(name.startswith(w) for w in wanted):
                continue
            if fn is op_store:
                op_store_prepare(srv)
            secs, cpu_secs, what = cpu_timed(srv, lambda: fn(srv))
            note(phase, name, srv.name, secs, what, cpu_secs)
        srv.drop()

    sides = [tern, dove]
    mem = {}
    try:
        if "cold" in only:
            for r in range(a.runs):
                for side in sides:
                    side.fresh_copy() if side is tern else None
                    srv = side.start()
                    if side is dove:
                        side.fresh_copy()
                    srv.settle()
                    run_ops(srv, "cold")
                    side.stop()
                print("cold run %d done" % (r + 1), flush=True)
            # offline indexing: tern reindex vs doveadm index, on fresh copies
            for r in range(a.runs if not wanted or "offline" in wanted else 0):
                tern.fresh_copy()
                secs, _ = timed(tern.reindex)
                note("cold", "offline reindex", "tern", secs, "")
                dove.start()
                dove.fresh_copy()
                secs, _ = timed(dove.reindex)
                note("cold", "offline reindex", "dovecot", secs, "")
                dove.stop()
        tern.fresh_copy()
        tsrv = tern.start()
        dsrv = dove.start()
        dove.fresh_copy()
        # bring both to the warm state (index built, caches filled)
        for srv in (tsrv, dsrv):
            for name, fn in ops[:3]:
                fn(srv)
                if srv.keep is not None:
                    srv.keep.close()
                    srv.keep = None
            srv.drop()
        if "warm" in only:
            for r in range(a.runs):
                for srv in (tsrv, dsrv):
                    run_ops(srv, "warm")
            print("warm runs done", flush=True)
        if "clients" in only:
            op = "%d clients x %d sessions" % (a.clients, a.rounds)
            for srv in (tsrv, dsrv):
                op_clients(srv, n, a.clients, 1)  # untimed warm-up
            for r in range(a.runs):
                for srv in (tsrv, dsrv):
                    secs, cpu_secs, what = cpu_timed(
                        srv, lambda: op_clients(srv, n, a.clients, a.rounds))
                    note("warm", op, srv.name, secs, what, cpu_secs)
            print("clients done", flush=True)
        if a.pause:
            print("tern imap worker(s): %s  dovecot master: %d; Enter to go on"
                  % (tern.imap_pids(), dove.d.proc.pid), flush=True)
            sys.stdin.readline()
        if "idle" in only:
            for srv, side in ((tsrv, tern), (dsrv, dove)):
                pids = side.imap_pids() if side is tern else []
                base = sum(rss_kb(p) for p in pids)
                conns = idle_sessions(srv, a.idle)
                pids = side.imap_pids() if side is tern else side.d.imap_pids()
                rss = sum(rss_kb(p) for p in pids)
                pss = sum(rss_kb(p, "Pss") for p in pids)
                mem[srv.name] = (rss, pss, base, len(pids))
                idle_end(conns)
            print("idle done", flush=True)
    finally:
        tern.stop()
        dove.stop()
        tern.cleanup()

    print()
    print("IMAP, %d messages (%.0f MB), %s hash, median of %d; ratio = Dovecot/Tern time"
          % (n, sum(os.path.getsize(os.path.join(d, f)) for d in
                    (os.path.join(src, "cur"), os.path.join(src, "new"))
                    for f in os.listdir(d)) / 1e6,
             "sha512-crypt (1000 rounds)" if a.fast_hash else "yescrypt", a.runs))
    def rows(table):
        """(phase, op, tern median, dovecot median, ratio, spread of the per-repeat ratios:
        each repeat measures Tern and Dovecot back to back)"""
        for (phase, op), v in table.items():
            if not v["tern"] or not v["dovecot"]:
                continue
            t, d = median(v["tern"]), median(v["dovecot"])
            pairs = [dd / tt for tt, dd in zip(v["tern"], v["dovecot"]) if tt]
            spread = "%.2f-%.2f" % (min(pairs), max(pairs)) if pairs else "-"
            yield phase, op, t, d, d / t if t else 0, spread

    print("%-6s %-26s %10s %10s %7s %13s  %s" % ("phase", "operation", "tern s", "dovecot s",
                                                  "ratio", "ratio spread",
                                                  "result (tern / dovecot)"))
    for phase, op, t, d, ratio, spread in rows(res):
        print("%-6s %-26s %10.3f %10.3f %6.2fx %13s  %s / %s%s"
              % (phase, op, t, d, ratio, spread, info.get((op, "tern")),
                 info.get((op, "dovecot")), "" if ratio >= 1.5 else "   < 1.5x target"))
    if cpu:
        print()
        print("CPU seconds of the server (all its processes: Tern's master and workers; "
              "Dovecot's master, imap, imap-login, auth...), median of %d" % a.runs)
        print("%-6s %-26s %10s %10s %7s %13s" % ("phase", "operation", "tern cpu", "dovecot",
                                                  "ratio", "ratio spread"))
        for row in rows(cpu):
            print("%-6s %-26s %10.3f %10.3f %6.2fx %13s" % row)
    if mem:
        t, d = mem["tern"], mem["dovecot"]
        print("idle memory, %d sessions in IDLE:" % a.idle)
        print("  tern:    VmRSS %d KB in %d worker(s) = %.1f KB/session (growth over no "
              "sessions: %.1f KB/session)" % (t[0], t[3], t[0] / a.idle,
                                              (t[0] - t[2]) / a.idle))
        print("  dovecot: VmRSS %d KB in %d imap processes = %.1f KB/session (PSS %.1f "
              "KB/session)" % (d[0], d[3], d[0] / a.idle, d[1] / a.idle))
        print("  ratio dovecot/tern per session: %.1fx (VmRSS), %.1fx (tern growth vs "
              "dovecot PSS); target >= 10x" % (d[0] / max(t[0], 1),
                                                (d[1] / max(t[0] - t[2], 1))))


if __name__ == "__main__":
    main()
