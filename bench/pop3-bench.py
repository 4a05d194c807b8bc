#!/usr/bin/python3
"""pop3-bench: POP3 download speed and session rate, Tern vs Dovecot, same run.

One Maildir of MESSAGES messages (2-40 KB, realistic header blocks and text lines) is made
once and copied for each server: Tern (an instance made with `tern init`) and a private
Dovecot (Debian's dovecot-pop3d, configured here in a temporary folder: its own base_dir,
passwd-file users, ssl = no, 127.0.0.1 on a free port). Both run their defaults otherwise.

1. download: one client logs in, STAT, LIST, UIDL, RETR of every message, QUIT without
   DELE: wall time, and the CPU time (utime+stime) of the server process that served it
   (Tern's pop3 worker, Dovecot's pop3 process; password checks and Dovecot's login and
   auth processes are not in it). --client c (the default) is bench-pop3-fetch
   (bench/pop3-fetch.c): RETRs pipelined --window deep (RFC 2449), each message's octets
   after un-stuffing checked against LIST and hashed, the digests of both servers
   compared; --client python sends one RETR at a time, as fetchmail does, and is bound by
   the client at about 140 us per message.
2. sessions: CLIENTS concurrent client processes, each with its own user (Maildir of
   SMALL messages), repeating login (USER/PASS) / UIDL / RETR one / QUIT for ROUNDS
   rounds: total sessions per second.

Every measure has a first untimed pass (indexes built, caches warm). The password hash
is the same crypt(3) string for both servers (Dovecot's {CRYPT} scheme): by default
Tern's yescrypt, whose ~20 ms per check bounds the session rate of both; --fast-hash
uses sha512-crypt with 1000 rounds for both, so the servers rather than the KDF are
measured; --dovecot-plain gives Dovecot {PLAIN} passwords (Tern keeps its hash);
--auth-cache turns on both servers' caches of successful password checks (Tern's
auth_cache_ttl, Dovecot's auth_cache_size/auth_cache_ttl), as a site whose phones poll
every few minutes would. --runs N repeats both measures N times, the servers
alternating who goes first, and prints medians and each run's ratios.

Run as root from the source tree after building (build/src/tern/tern, or --tern BIN):
    /usr/bin/python3 bench/pop3-bench.py [--quick] [--fast-hash] [--dovecot-plain]
                                         [--auth-cache] [--runs N]
                                         [--client c|python] [--window N] [--rounds 0]
"""
import argparse
import statistics
import crypt
import multiprocessing
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))

DOMAIN = "example.test"
BIG = "big@" + DOMAIN


# ---------------------------------------------------------------- the mail

def make_message(rng, i):
    size = rng.choice([2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 40]) * 1024
    head = ("Return-Path: <sender%d@example.org>\n"
            "Received: from mx.example.org (mx.example.org [192.0.2.%d])\n"
            "\tby mail.example.test with ESMTPS id %08X; Tue, 3 Jun 2025 10:%02d:%02d +0000\n"
            "From: Sender %d <sender%d@example.org>\n"
            "To: big@example.test\n"
            "Subject: benchmark message number %d\n"
            "Date: Tue, 3 Jun 2025 10:%02d:%02d +0000\n"
            "Message-ID: <%d.%d@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n"
            % (i % 97, i % 250, i, i % 60, i % 59, i % 97, i % 97, i, i % 60, i % 59, i,
               rng.randrange(1 << 30)))
    words = ["lorem", "ipsum", "dolor", "sit", "amet", "consectetur", "adipiscing", "elit",
             "sed", "do", "eiusmod", "tempor", ".dot", "incididunt", "ut", "labore"]
    lines = []
    n = len(head)
    while n < size:
        line = " ".join(rng.choice(words) for _ in range(rng.randrange(4, 14)))
        lines.append(line)
        n += len(line) + 1
    return (head + "\n".join(lines) + "\n").encode()


def make_maildir(path, count, seed):
    rng = random.Random(seed)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    t = 1750000000
    for i in range(count):
        data = make_message(rng, i)
        name = "%d.M%dP%d.bench,S=%d:2," % (t + i, i, os.getpid(), len(data))
        with open(os.path.join(path, "cur", name), "wb") as f:
            f.write(data)


def copy_maildir(src, dst, top, uid, gid):
    """Copies src to dst, all owned by uid:gid, as are the folders made between top and dst."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    parent = os.path.dirname(dst)
    made = []
    while not os.path.exists(parent) and parent.startswith(top):
        made.append(parent)
        parent = os.path.dirname(parent)
    for d in reversed(made):
        os.mkdir(d)
        os.chown(d, uid, gid)
    shutil.copytree(src, dst)
    for d, dirs, files in os.walk(dst):
        os.chown(d, uid, gid)
        for f in files:
            os.chown(os.path.join(d, f), uid, gid)


# ---------------------------------------------------------------- a small POP3 client

class Pop:
    """A lean POP3 client: big reads, the terminator searched at the tail."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), 60)
        self.buf = b""
        self.line()

    def fill(self):
        d = self.s.recv(262144)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 2:]
                return out
            self.fill()

    def cmd(self, text):
        self.s.sendall(text.encode() + b"\r\n")
        r = self.line()
        if not r.startswith(b"+OK"):
            raise RuntimeError("%s: %r" % (text.split()[0], r))
        return r

    def multi(self, text):
        self.cmd(text)
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                i = 0
            else:
                i = self.buf.find(b"\r\n.\r\n", max(start - 4, 0))
                if i >= 0:
                    i += 2
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + 3:]
                return out
            start = len(self.buf)
            self.fill()

    def login(self, user, password):
        self.cmd("USER " + user)
        return self.cmd("PASS " + password)

    def quit(self):
        self.cmd("QUIT")
        self.s.close()


def download_all(port, user, password, before_quit=lambda: None):
    """The Python client: one RETR at a time, as fetchmail does. Returns (count, octets,
    digest (None: not checked), seconds)."""
    t0 = time.time()
    p = Pop(port)
    p.login(user, password)
    count = int(p.cmd("STAT").split()[1])
    p.multi("UIDL")
    octets = 0
    for n in range(1, count + 1):
        octets += len(p.multi("RETR %d" % n))
    secs = time.time() - t0
    before_quit()
    p.quit()
    return count, octets, None, secs


def download_c(fetch, window, port, user, password, before_quit=lambda: None):
    """The C client (bench/pop3-fetch.c): RETRs pipelined WINDOW deep, every message's
    octets checked against LIST and hashed. Returns (count, octets, digest, seconds)."""
    p = subprocess.Popen([fetch, "127.0.0.1", str(port), user, password, str(window),
                          "pause"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if p.stdout.readline().strip() != "ready":
            raise SystemExit("bench-pop3-fetch failed (see its error above)")
        before_quit()
        out, _ = p.communicate("go\n", timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0:
        raise SystemExit("bench-pop3-fetch failed (see its error above)")
    f = dict(kv.split("=") for kv in out.split())
    return (int(f["count"]), int(f["octets"]), f["digest"] + "/" + f["lists"],
            float(f["total_s"]))


# ---------------------------------------------------------------- server CPU time

def proc_ticks(match):
    """{pid: utime+stime in clock ticks} of the processes for which match(pid, comm,
    cmdline) holds (all threads included)."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open("/proc/%s/stat" % pid).read()
            cmdline = open("/proc/%s/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        f = stat[stat.rindex(")") + 2:].split()
        if match(int(pid), comm, [a.decode(errors="replace") for a in cmdline]):
            out[int(pid)] = int(f[11]) + int(f[12])
    return out


class CpuMeter:
    """Server CPU seconds spent between start() and stop(): a process that appears in
    between counts from zero (Dovecot forks one pop3 process per session)."""

    def __init__(self, match):
        self.match = match
        self.before = {}
        self.secs = None

    def start(self):
        self.before = proc_ticks(self.match)

    def stop(self):
        after = proc_ticks(self.match)
        ticks = sum(t - self.before.get(pid, 0) for pid, t in after.items())
        self.secs = ticks / os.sysconf("SC_CLK_TCK")


def tern_pop3_worker(pid, comm, argv):
    return len(argv) > 2 and argv[1] == "worker" and argv[2] == "pop3"


def dovecot_pop3(pid, comm, argv):
    return comm == "pop3"


def session_loop(args):
    port, user, password, rounds, seed = args
    rng = random.Random(seed)
    for _ in range(rounds):
        p = Pop(port)
        r = p.login(user, password)
        count = int(r.split()[3]) if b"maildrop has" in r else int(p.cmd("STAT").split()[1])
        p.multi("UIDL")
        p.multi("RETR %d" % rng.randrange(1, count + 1))
        p.quit()
    return rounds


def sessions(port, users, rounds):
    jobs = [(port, u, pw, rounds, i) for i, (u, pw) in enumerate(users)]
    with multiprocessing.Pool(len(jobs)) as pool:
        t0 = time.time()
        done = sum(pool.map(session_loop, jobs))
        return done, time.time() - t0


# ---------------------------------------------------------------- the servers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            Pop(port).s.close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("%s did not start listening on %d" % (what, port))


def set_users_hash(tern, hashes):
    """Rewrites the crypt hash of users in Tern's users file (the bench's own choice)."""
    path = os.path.join(tern.dir, "inst", "data", "users")
    out = []
    for line in open(path):
        f = line.rstrip("\n").split(":")
        if not line.startswith("#") and f[0] in hashes:
            f[1] = hashes[f[0]]
        out.append(":".join(f))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def user_hashes(tern):
    path = os.path.join(tern.dir, "inst", "data", "users")
    return {l.split(":")[0]: l.split(":")[1] for l in open(path) if not l.startswith("#")}


DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:{d}/mail/%n/Maildir
first_valid_uid = 1
default_internal_user = dovecot
default_login_user = dovenull
pop3_uidl_format = %08Xu%08Xv
mail_max_userip_connections = 1000
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


class Dovecot:
    def __init__(self, base, users, uid, gid, plain, cache=False):
        self.d = os.path.join(base, "dovecot")
        os.makedirs(self.d)
        os.chmod(base, 0o755)
        os.chmod(self.d, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.d, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.d, port=self.port))
            if cache:
                f.write("auth_cache_size = 10M\nauth_cache_ttl = 1 hour\n")
        with open(os.path.join(self.d, "passwd"), "w") as f:
            for user, (pw, h) in users.items():
                secret = "{PLAIN}" + pw if plain else "{CRYPT}" + h
                f.write("%s:%s:%d:%d::%s/mail/%s::\n" % (user, secret, uid, gid, self.d,
                                                         user.split("@")[0]))

    def maildir(self, user):
        return os.path.join(self.d, "mail", user.split("@")[0], "Maildir")

    def start(self):
        # dovecot daemonizes: its children keep any pipe open, so no capture here
        with open(os.path.join(self.d, "start.log"), "w") as log:
            r = subprocess.run(["dovecot", "-c", self.conf], stdout=log, stderr=log)
        if r.returncode != 0:
            raise SystemExit("dovecot: " + open(os.path.join(self.d, "start.log")).read())
        wait_port(self.port, "dovecot")

    def stop(self):
        subprocess.run(["dovecot", "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        time.sleep(1)


# ---------------------------------------------------------------- main

def measure(name, port, users, rounds, download, cpu):
    """Warm pass, then the two timed measures for one server: (download seconds, server
    CPU seconds of the download, the download's digest, sessions per second)."""
    bigpw = users[BIG][0]
    small = [(u, pw) for u, (pw, h) in users.items() if u != BIG]
    download(port, BIG, bigpw)
    cpu.start()
    t0 = time.time()
    count, octets, digest, dl = download(port, BIG, bigpw, before_quit=cpu.stop)
    wall = time.time() - t0
    done, secs = 0, 1.0
    if rounds > 0:  # --rounds 0: the download only
        sessions(port, small, max(1, rounds // 4))
        done, secs = sessions(port, small, rounds)
    print("%-8s download %d messages (%.1f MB): %.2f s (client %.2f s), server CPU %.2f s%s"
          % (name, count, octets / 1e6, dl, wall, cpu.secs,
             "; sessions: %d in %.2f s = %.0f/s" % (done, secs, done / secs) if done else ""),
          flush=True)
    return dl, cpu.secs, digest, done / secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", default=os.path.join(ROOT, "build", "src", "tern", "tern"))
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--small", type=int, default=200, help="messages per session user")
    ap.add_argument("--rounds", type=int, default=20, help="sessions per client (0: no sessions measure)")
    ap.add_argument("--fast-hash", action="store_true")
    ap.add_argument("--dovecot-plain", action="store_true")
    ap.add_argument("--auth-cache", action="store_true")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--client", choices=("c", "python"), default="c",
                    help="download client: c (bench-pop3-fetch, pipelined, checked) or "
                         "python (one RETR at a time)")
    ap.add_argument("--window", type=int, default=64, help="RETRs in flight (--client c)")
    ap.add_argument("--fetch", default=os.path.join(ROOT, "build", "src", "pop3d",
                                                    "bench-pop3-fetch"))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    a = ap.parse_args()
    if a.quick:
        a.messages, a.clients, a.small, a.rounds = 1000, 10, 50, 5
    os.environ["TERN_BIN"] = os.path.abspath(a.tern)
    import conftest  # noqa: E402  (the tests' instance helper; reads TERN_BIN)
    if a.client == "c":
        if not os.access(a.fetch, os.X_OK):
            raise SystemExit("%s: not built (ninja -C build)" % a.fetch)
        fetch, window = os.path.abspath(a.fetch), a.window

        def download(*args, **kw):
            return download_c(fetch, window, *args, **kw)
    else:
        download = download_all
    if shutil.which("dovecot") is None:
        raise SystemExit("apt-get install dovecot-pop3d (then: systemctl disable --now dovecot)")

    base = tempfile.mkdtemp(prefix="pop3-bench-")
    opts = {"pop3_max_connections_per_ip": "1000", "log_level": "warning"}
    if a.auth_cache:
        opts["auth_cache_ttl"] = "1h"
    tern = conftest.Instance(opts)
    try:
        tpl_big = os.path.join(base, "tpl-big")
        tpl_small = os.path.join(base, "tpl-small")
        print("making %d messages..." % a.messages, flush=True)
        make_maildir(tpl_big, a.messages, 1)
        make_maildir(tpl_small, a.small, 2)
        users = {BIG: "big-pw"}
        for i in range(a.clients):
            users["u%d@%s" % (i, DOMAIN)] = "u%d-pw" % i
        for u, pw in users.items():
            tern.add_user(u, pw)
        hashes = user_hashes(tern)
        if a.fast_hash:
            hashes = {u: crypt.crypt(pw, "$6$rounds=1000$%s$" % crypt.mksalt()[3:11])
                      for u, pw in users.items()}
            set_users_hash(tern, hashes)
        pw_ent = pwd.getpwnam("tern")  # tern init's run_user
        uid, gid = pw_ent.pw_uid, pw_ent.pw_gid
        full = {u: (pw, hashes[u]) for u, pw in users.items()}
        dove = Dovecot(base, full, uid, gid, a.dovecot_plain, a.auth_cache)
        print("copying the Maildirs...", flush=True)
        for u in users:
            src = tpl_big if u == BIG else tpl_small
            copy_maildir(src, tern.maildir(u), tern.dir, uid, gid)
            copy_maildir(src, dove.maildir(u), dove.d, uid, gid)

        def run_tern():
            tern.start(wait_port="pop3")
            try:
                return measure("tern", tern.ports["pop3"], full, a.rounds, download,
                               CpuMeter(tern_pop3_worker))
            finally:
                tern.stop()

        def run_dovecot():
            dove.start()
            try:
                return measure("dovecot", dove.port, full, a.rounds, download,
                               CpuMeter(dovecot_pop3))
            finally:
                dove.stop()
        runs = []
        for i in range(a.runs):
            if i % 2 == 0:
                tr = run_tern()
                dr = run_dovecot()
            else:
                dr = run_dovecot()
                tr = run_tern()
            runs.append((tr, dr))
            if tr[2] != dr[2]:
                raise SystemExit("the servers sent different messages: digest %s (Tern) vs "
                                 "%s (Dovecot)" % (tr[2], dr[2]))
            print("run %d ratio Tern/Dovecot: download time %.2f, download server CPU %s, "
                  "sessions/s %.2f%s"
                  % (i + 1, tr[0] / dr[0], "%.2f" % (tr[1] / dr[1]) if dr[1] else "n/a",
                     tr[3] / dr[3] if dr[3] else 0, ", same bytes (digest %s)" % tr[2] if tr[2] else ""),
                  flush=True)
        med = statistics.median
        down = med(tr[0] / dr[0] for tr, dr in runs)
        cpu = [tr[1] / dr[1] for tr, dr in runs if dr[1]]
        sess = med(tr[3] / dr[3] if dr[3] else 0 for tr, dr in runs)
        print("median of %d: ratio Tern/Dovecot: download time %.2f, download server CPU %s "
              "(below 1: Tern faster), sessions/s %.2f (above 1: Tern faster); load average %s"
              % (a.runs, down, "%.2f" % med(cpu) if cpu else "n/a", sess,
                 " ".join(open("/proc/loadavg").read().split()[:3])))
    finally:
        tern.stop()
        if a.keep:
            print("kept", base, tern.dir)
        else:
            tern.cleanup()
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
