"""Privilege separation: started as root, the master keeps root only to bind and start
workers; every worker that parses network input (smtp, imap, pop3) and the queue run as
the unprivileged run_user with no-new-privs set."""
import os
import pwd
import time

import pytest

from sysaccounts import worker_roles


def status_fields(pid):
    out = {}
    for line in open("/proc/%d/status" % pid):
        key, _, value = line.partition(":")
        out[key] = value.split()
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to start as root")
def test_workers_run_unprivileged(tern):
    tern_uid = pwd.getpwnam("tern").pw_uid
    # The listeners accept as soon as the master has bound them; on a busy machine the
    # workers may still be on their way (forked, not yet exec'd): wait for all four.
    deadline = time.time() + 20
    while not {"smtp", "queue", "imap", "pop3"} <= set(worker_roles(tern)):
        assert time.time() < deadline, worker_roles(tern)
        time.sleep(0.1)
    roles = {}
    for pid in tern.pids():
        cmd = open("/proc/%d/cmdline" % pid, "rb").read().split(b"\0")
        st = status_fields(pid)
        uids = [int(x) for x in st["Uid"]]
        if cmd[1] == b"serve":
            assert uids[0] == 0, "the master runs as root, to bind and start workers"
            continue
        role = cmd[2].decode()
        roles[role] = uids
        # real, effective, saved and file-system uid: all the unprivileged account
        assert uids == [tern_uid] * 4, (role, uids)
        assert int(st["NoNewPrivs"][0]) == 1, role
        assert st["CapEff"][0] == "0000000000000000", (role, st["CapEff"])
    assert {"smtp", "queue", "imap", "pop3"} <= set(roles), roles
