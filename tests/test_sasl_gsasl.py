"""SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) with a real SASL client: GNU SASL's
`gsasl` in its IMAP and SMTP modes, against Tern's IMAP and submission listeners.

gsasl checks the server's final signature itself ("server trusted"), so a success here
means both sides proved they know the password. Users get one secret per hash from
`tern user add`/`passwd` (doc/users-format.md); a directory written before SCRAM-SHA-1
existed has the SHA-256 secret only, and SCRAM-SHA-1 then fails like a wrong password
until the password is set again.
"""
import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("gsasl") is None, reason="gsasl not installed")

ALICE = "alice@example.test"


def gsasl(port, mode, mech, user, password):
    """One gsasl logon; returns (exit status, everything it printed)."""
    r = subprocess.run(["gsasl", "--connect", "127.0.0.1:%d" % port, mode, "--no-starttls",
                        "-m", mech, "-a", user, "-p", password, "--verbose"],
                       input="", capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


@pytest.mark.parametrize("mech", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
@pytest.mark.parametrize("listener,mode", [("imap", "--imap"), ("submission", "--smtp")])
def test_scram_gsasl(tern, mech, listener, mode):
    rc, out = gsasl(tern.ports[listener], mode, mech, ALICE, "alice-pw")
    assert rc == 0, out
    assert "server trusted" in out, out
    if mode == "--imap":
        assert "AUTHENTICATE completed" in out, out
    else:
        assert "235 2.7.0" in out, out
    rc, out = gsasl(tern.ports[listener], mode, mech, ALICE, "wrong-pw")
    assert rc != 0, out
    assert "server trusted" not in out
    log = tern.log()
    proto = "imap" if mode == "--imap" else "smtp"
    assert "proto=%s, mech=%s, user=<%s>, ip=[127.0.0.1], result=ok" % (proto, mech, ALICE) in log
    assert "proto=%s, mech=%s, user=<%s>, ip=[127.0.0.1], result=bad-credentials" % (
        proto, mech, ALICE) in log
    assert "alice-pw" not in log and "wrong-pw" not in log


def test_scram_sha1_needs_new_secret(tern):
    """An entry with only the SHA-256 secret (written by an older Tern): SCRAM-SHA-1 fails,
    SCRAM-SHA-256 works, and `tern user passwd` adds the SHA-1 secret."""
    users = os.path.join(os.path.dirname(tern.conf), "data", "users")  # data_dir's default
    text = open(users).read()
    lines = []
    for line in text.splitlines(True):
        if line.startswith(ALICE + ":"):
            assert " SCRAM-SHA-1$" in line, line
            line = line[:line.index(" SCRAM-SHA-1$")] + "\n"
        lines.append(line)
    open(users, "w").write("".join(lines))
    port = tern.ports["imap"]
    rc, out = gsasl(port, "--imap", "SCRAM-SHA-1", ALICE, "alice-pw")
    assert rc != 0 and "server trusted" not in out, out
    rc, out = gsasl(port, "--imap", "SCRAM-SHA-256", ALICE, "alice-pw")
    assert rc == 0 and "server trusted" in out, out
    r = tern.run("user", "passwd", ALICE, input="alice-pw2\n")
    assert r.returncode == 0, r.stderr
    rc, out = gsasl(port, "--imap", "SCRAM-SHA-1", ALICE, "alice-pw2")
    assert rc == 0 and "server trusted" in out, out
