#!/usr/bin/python3
"""dovecot-peer: a private Dovecot 2.3 IMAP server tuned as the benchmark peer.

It is tests/imaptest/dovecot.py's PrivateDovecot (imported, not copied) with the limits
raised for a benchmark (1,000+ connections of one user from one address), and helpers:

    from dovecot_peer import BenchDovecot    # (bench/imap-bench.py loads this file)
    d = BenchDovecot().start()
    d.port; d.maildir("alice"); d.set_hashes({"alice": "$y$..."}); d.imap_pids()
    d.index("alice")                         # doveadm index: build index + cache offline
    d.stop()

Runnable on its own: `/usr/bin/python3 bench/dovecot-peer.py` starts one and waits.
Needs root and /usr/sbin/dovecot (Debian: dovecot-imapd; keep the system service off:
`systemctl disable --now dovecot`).
"""
import grp
import os
import pwd
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
from imaptest import dovecot as _dovecot  # noqa: E402  (the tests' private Dovecot)

# Appended to the tests' configuration; a later setting of the same name wins.
BENCH_CONF = """
default_process_limit = 3000
default_client_limit = 6000
protocol imap {
  mail_max_userip_connections = 5000
}
service imap {
  process_limit = 5000
  client_limit = 1
}
service imap-login {
  process_limit = 3000
}
service anvil {
  client_limit = 8000
}
"""


class BenchDovecot(_dovecot.PrivateDovecot):
    def __init__(self, users=None, extra_conf=""):
        super().__init__(users, BENCH_CONF + extra_conf)

    def owner(self):
        """(uid, gid) that owns the mail (Dovecot's internal user)."""
        p = pwd.getpwnam(_dovecot._account("dovecot", "nobody"))
        return p.pw_uid, p.pw_gid

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user)

    def set_hashes(self, hashes):
        """Gives users crypt(3) hashes ({CRYPT}) instead of the {PLAIN} passwords; Dovecot's
        passwd-file backend rereads the file when it changes."""
        path = os.path.join(self.dir, "passwd")
        with open(path + ".tmp", "w") as f:
            for u, p in self.users.items():
                f.write("%s:%s\n" % (u, "{CRYPT}" + hashes[u] if u in hashes
                                      else "{PLAIN}" + p))
        os.rename(path + ".tmp", path)
        time.sleep(1.1)  # a new mtime second, so the change is seen

    def imap_pids(self):
        """The pids of the imap processes (one per logged-in session) under this master."""
        out = []
        master = self.proc.pid
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                comm = open("/proc/%s/comm" % p).read().strip()
                ppid = int(open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if comm == "imap" and ppid == master:
                out.append(int(p))
        return out

    def doveadm(self, *args, check=True):
        return subprocess.run(["doveadm", "-c", self.conf] + list(args), capture_output=True,
                              text=True, check=check)

    def index(self, user, mailbox="INBOX"):
        """Builds the index and cache of a mailbox offline (doveadm index)."""
        return self.doveadm("index", "-u", user, mailbox)


def chown_tree(path, uid, gid):
    for d, dirs, files in os.walk(path):
        os.chown(d, uid, gid)
        for f in files:
            os.chown(os.path.join(d, f), uid, gid)


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
    with BenchDovecot() as d:
        print("dovecot on 127.0.0.1:%d in %s; users %s (group %s)"
              % (d.port, d.dir, d.users, grp.getgrgid(d.owner()[1]).gr_name), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
