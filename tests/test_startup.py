"""The lean `tern` front and tern-core (src/tern/main.c).

What an MTA, cron or a script starts for every message (`tern deliver`, `tern sendmail`,
the sendmail name) runs in a process that has not loaded OpenSSL, libevent, libunbound or
PAM: read from /proc/PID/maps of the running command. The subcommands that need them
(serve, worker, user, init, imap/pop3 --inetd, and `sendmail -bs` when it runs the SMTP
server itself) are executed by tern-core with the same arguments and the same argv[0];
without tern-core they fail with EX_UNAVAILABLE (69) and say why, while the light ones
still work.
"""
import os
import shutil
import subprocess
import time

import pytest

from conftest import TERN, tern_env
from sysaccounts import needs_root, unix_user, wait_for  # noqa: F401
from test_localsubmit import instance

ALICE = "alice@example.test"
CORE = os.path.join(os.path.dirname(os.path.realpath(TERN)), "tern-core")
HEAVY = ("libssl", "libcrypto", "libevent", "libunbound", "libpam", "libgmp", "libnettle")
MSG = b"From: bob@example.test\nTo: alice@example.test\nSubject: %s\n\nbody line\n"

pytestmark = pytest.mark.skipif(not os.access(CORE, os.X_OK), reason="no tern-core beside " + TERN)


def run_watched(argv, data, exe, env):
    """Runs argv with data on stdin once it runs exe and waits for its input: (the shared
    libraries it had mapped then (basenames), the CompletedProcess)."""
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env, cwd="/")

    def blocked():
        try:
            state = open("/proc/%d/stat" % p.pid).read().rsplit(")", 1)[1].split()[0]
            return os.readlink("/proc/%d/exe" % p.pid) == exe and state == "S"
        except OSError:
            return False
    try:
        assert wait_for(blocked), "pid %d never waited for its input in %s" % (p.pid, exe)
        libs = set()
        for line in open("/proc/%d/maps" % p.pid):
            path = line.split()[-1]
            if ".so" in path:
                libs.add(os.path.basename(path))
        out, err = p.communicate(data, timeout=60)
    finally:
        p.kill()
        p.wait()
    return libs, subprocess.CompletedProcess(argv, p.returncode, out, err)


def heavy(libs):
    return sorted(l for l in libs if l.startswith(HEAVY))


def test_deliver_loads_no_server_library(tern_factory):
    inst = tern_factory(start=False)
    libs, r = run_watched([TERN, "deliver", "-a", ALICE], MSG % b"lean", os.path.realpath(TERN),
                          tern_env(inst.conf))
    assert any(l.startswith("libc.so") for l in libs), libs
    assert heavy(libs) == [], libs
    assert r.returncode == 0, r.stderr
    got = inst.read_messages(ALICE)
    assert len(got) == 1 and got[0].endswith(MSG % b"lean")


def test_sendmail_loads_no_server_library(tern):
    libs, r = run_watched([TERN, "sendmail", "-t"], MSG % b"queued", os.path.realpath(TERN),
                          tern_env(tern.conf))
    assert heavy(libs) == [], libs
    assert r.returncode == 0, r.stderr
    assert len(tern.wait_messages(ALICE, 1)) == 1, tern.log()


@needs_root
def test_bs_over_the_socket_loads_no_server_library(tern_factory, unix_user):
    """An ordinary user's -bs relays the session to the server's socket: lean too."""
    a = unix_user()
    tern = instance(tern_factory)
    env = dict(tern_env(tern.conf), HOME=a.home, USER=a.name, LOGNAME=a.name)
    libs, r = run_watched(["setpriv", "--reuid", str(a.uid), "--regid", str(a.gid),
                           "--init-groups", TERN, "sendmail", "-bs"], b"EHLO me\r\nQUIT\r\n",
                          os.path.realpath(TERN), env)
    assert heavy(libs) == [], libs
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(b"220 ") and b"\r\n221" in r.stdout, r.stdout


def test_bs_of_the_queue_owner_runs_tern_core(tern, tmp_path):
    """Root's -bs runs the SMTP server itself: in tern-core, reached through the sendmail
    name too (argv[0] is kept), and the message arrives."""
    link = tmp_path / "sendmail"
    link.symlink_to(os.path.realpath(TERN))
    session = (b"EHLO me\r\nMAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\n"
               b"DATA\r\n" + (MSG % b"core").replace(b"\n", b"\r\n") + b".\r\nQUIT\r\n")
    libs, r = run_watched([str(link), "-bs"], session, CORE, tern_env(tern.conf))
    assert "libcrypto.so.3" in libs, libs  # what the checks above would see
    assert r.returncode == 0, r.stderr
    codes = [l[:3] for l in r.stdout.decode().splitlines() if l[3:4] == " "]
    assert codes == ["220", "250", "250", "250", "354", "250", "221"], r.stdout
    got = tern.wait_messages(ALICE, 1)
    assert len(got) == 1 and open(got[0], "rb").read().endswith(b"\nbody line\n")


def test_core_subcommands_through_the_front(tern):
    r = tern.run("user", "list", check=True)  # tern-core (libcrypto, PAM)
    assert "alice@example.test" in r.stdout and "bob@example.test" in r.stdout, r.stdout
    r = tern.run("check")
    assert r.returncode == 0, (r.stdout, r.stderr)
    r = tern.run("frobnicate")
    assert r.returncode == 64 and "unknown command" in r.stderr
    r = tern.run()
    assert r.returncode == 64 and "tern serve" in r.stderr and "tern deliver" in r.stderr


def test_front_without_tern_core(tern_factory, tmp_path):
    """A front with no tern-core anywhere: the light subcommands work, the others exit 69
    and name the places it looked in."""
    installed = "/usr/local/libexec/tern/tern-core"
    if os.path.exists(installed):
        pytest.skip("an installed tern-core at " + installed)
    inst = tern_factory(start=False)
    lone = str(tmp_path / "tern")
    shutil.copy(TERN, lone)
    r = subprocess.run([lone, "version"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("tern "), r
    r = subprocess.run([lone, "deliver", "-a", ALICE], input=MSG % b"alone", capture_output=True,
                       env=tern_env(inst.conf), timeout=60)
    assert r.returncode == 0, r.stderr
    assert inst.read_messages(ALICE)[0].endswith(MSG % b"alone")
    for args in (["user", "list"], ["serve"]):
        start = time.time()
        r = subprocess.run([lone] + args, capture_output=True, text=True,
                           env=tern_env(inst.conf), timeout=60)
        assert r.returncode == 69, (args, r)
        assert "tern-core" in r.stderr and str(tmp_path) in r.stderr, r.stderr
        assert time.time() - start < 30
