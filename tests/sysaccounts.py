"""Throwaway Unix accounts and per-process uid checks for the system-user tests
(user_source = system; doc/system-users.md).

UnixUser() makes an account with a random name, a home folder and a shadow password
(useradd + chpasswd); .remove() kills its processes and removes it with userdel -r, with
its /var/mail spool. The `unix_user` fixture makes as many as a test asks for and removes
them afterwards. Tests using them need root: mark them with `needs_root`.

Which process runs as whom is one table, ROLE_UIDS: a role name (the `tern worker ROLE`
of the master's children) to "run_user" or "root". check_worker_uids(instance) asserts
every worker of the instance against it (real, effective, saved and file-system uid), and
returns {role: uids} so a test can check more. Add a row when a role is added.
"""
import os
import pwd
import secrets
import shutil
import subprocess
import time

import pytest

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or not os.path.isdir("/var/mail"),
    reason="needs root, useradd and /var/mail to make throwaway Unix accounts")

# Who each worker of `tern serve` runs as in system-user mode.
ROLE_UIDS = {
    "smtp": "run_user",
    "queue": "run_user",
    "imap": "run_user",
    "pop3": "run_user",
    "sieve": "run_user",  # ManageSieve before login; sessions run as the user
    "deliver": "root",  # switches to each recipient in a child per delivery
    "auth": "root",  # checks passwords, starts each IMAP/POP3/ManageSieve session as its user
}


class UnixUser:
    def __init__(self, prefix="ts"):
        self.name = prefix + secrets.token_hex(5)
        self.password = "pw-" + secrets.token_urlsafe(12)
        subprocess.run(["useradd", "-m", "-s", "/bin/sh", self.name], check=True)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (self.name, self.password),
                       text=True, check=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid, self.home = pw.pw_uid, pw.pw_gid, pw.pw_dir
        self.spool = "/var/mail/" + self.name

    def address(self, domain):
        return "%s@%s" % (self.name, domain)

    def write_home_file(self, name, text, mode=0o644):
        """A file in the home folder, owned by the user (as the user would make it)."""
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, self.uid, self.gid)
        os.chmod(path, mode)
        return path

    def remove(self):
        # userdel refuses while a process of the account lives (a delivery or session of
        # the instance, which may still be running: fixtures end in any order), and a
        # killed process takes a moment to go: try again for a while.
        deadline = time.time() + 10
        while True:
            subprocess.run(["pkill", "-KILL", "-u", self.name], check=False)
            subprocess.run(["userdel", "-r", self.name], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                pwd.getpwnam(self.name)
            except KeyError:
                break
            if time.time() > deadline:
                raise AssertionError("cannot remove the test account " + self.name)
            time.sleep(0.1)
        shutil.rmtree(self.home, ignore_errors=True)
        for path in (self.spool, self.spool + ".lock"):
            if os.path.lexists(path):
                os.unlink(path)
        # Tern's files beside the spool: /var/mail/.NAME.tern-index.sqlite, ...
        for f in os.listdir("/var/mail"):
            if f.startswith("." + self.name + "."):
                os.unlink(os.path.join("/var/mail", f))


@pytest.fixture
def unix_user():
    made = []

    def make():
        u = UnixUser()
        made.append(u)
        return u

    yield make
    for u in made:
        u.remove()


def status_uids(pid):
    """[real, effective, saved, file-system] uid of a process, or None when it is gone."""
    try:
        for line in open("/proc/%d/status" % pid):
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    except OSError:
        return None
    return None


def wait_for(pred, timeout=15):
    """Polls pred until it is true or timeout seconds have passed; returns its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def worker_roles(instance):
    """{role: [uids, ...]} of the instance's workers (`tern worker ROLE`)."""
    out = {}
    for pid in instance.pids():
        try:
            cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        except OSError:
            continue
        if len(cmd) > 2 and cmd[1] == b"worker":
            uids = status_uids(pid)
            if uids is not None:
                out.setdefault(cmd[2].decode(), []).append(uids)
    return out


def check_worker_uids(instance, table=None, run_user="tern"):
    """Asserts each worker's uids against table (default ROLE_UIDS); every role of the
    table must be running. Returns worker_roles(instance)."""
    table = table or ROLE_UIDS
    want = {"run_user": pwd.getpwnam(run_user).pw_uid, "root": 0}
    def settled(roles):
        # imap and pop3 of system mode start as root and drop once their certificates
        # and listeners are ready: give a worker that is still starting a moment
        return set(table) <= set(roles) and all(
            uids == [want[table.get(role, "root")]] * 4
            for role, procs in roles.items() for uids in procs)

    deadline = time.time() + 10
    roles = worker_roles(instance)
    while not settled(roles) and time.time() < deadline:
        time.sleep(0.1)
        roles = worker_roles(instance)
    assert set(table) <= set(roles), (table, roles)
    for role, procs in roles.items():
        assert role in table, "a worker role with no row in the uid table: " + role
        for uids in procs:
            assert uids == [want[table[role]]] * 4, (role, uids)
    return roles
