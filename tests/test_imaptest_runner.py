"""The imaptest runner itself, checked against Dovecot 2.3 (Debian: dovecot-imapd).

Dovecot passes every imaptest group with the real imaptest, so the runner must pass
them too; and a deliberately wrong expectation must fail, so the runner cannot pass
everything by accident. Skipped when /usr/sbin/dovecot is missing or we are not root.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import imaptest_runner as runner  # noqa: E402
from imaptest import dovecot  # noqa: E402

TESTS_DIR = os.environ.get("IMAPTEST_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "shared", "imaptest-tests")

pytestmark = [
    pytest.mark.skipif(not dovecot.available(),
                       reason="needs /usr/sbin/dovecot (dovecot-imapd) and root"),
    pytest.mark.skipif(not os.path.isdir(TESTS_DIR), reason="no imaptest tests at " + TESTS_DIR),
]

# groups Dovecot 2.3 skips: it does not offer CONTEXT=SORT; urlauth2 needs --user2
# (and with one it fails: the second user has no test mailbox to SELECT, a test bug)
DOVECOT_SKIPS = {"sort-partial", "urlauth2"}


@pytest.fixture(scope="module")
def server():
    with dovecot.PrivateDovecot() as d:
        yield d


def run(server, directory=TESTS_DIR, names=None, timeout=10, **kw):
    return runner.run_tests(directory, "127.0.0.1", server.port, "alice", "alice-pw",
                            names=names, timeout=timeout, **kw)


def test_some_groups_pass(server):
    names = {"select", "fetch", "store", "pipeline", "expunge", "search-sets", "listext",
             "append-binary", "fetch-body", "copy", "logout", "thread"}
    results = run(server, names=names)
    assert {r.name for r in results} == names
    bad = [runner.format_result(r) for r in results if r.status != "PASS"]
    assert not bad, "\n".join(bad)


def test_all_groups_against_dovecot(server):
    results = run(server)
    assert len(results) == 71
    bad = [runner.format_result(r) for r in results
           if r.status == "FAIL" or (r.status == "SKIP" and r.name not in DOVECOT_SKIPS)]
    assert not bad, "\n".join(bad)
    assert {r.name for r in results if r.status == "SKIP"} == DOVECOT_SKIPS


@pytest.fixture
def testdir(tmp_path):
    shutil.copy(os.path.join(TESTS_DIR, "default.mbox"), tmp_path / "default.mbox")
    return tmp_path


def write(d, name, text):
    (d / name).write_text(text)


def test_wrong_expectations_fail(server, testdir):
    # each of these is a correct test with one thing wrong
    write(testdir, "a-uid", "messages: 2\n\nok fetch 1 (uid)\n* 1 fetch (uid 999)\n")
    write(testdir, "b-status", "messages: 2\n\nno fetch 1 (uid)\n")
    write(testdir, "c-mustnot", "messages: 2\n\nok search all\n! search 1 2\n")
    write(testdir, "d-extra", "messages: 2\nignore_extra_untagged: no\n\n"
                              "ok fetch 1:2 (uid)\n* 1 fetch (uid $uid)\n")
    write(testdir, "e-var", "messages: 2\n\nok fetch 1 (uid)\n* 1 fetch (uid $u)\n"
                            "ok fetch 2 (uid)\n* 2 fetch (uid $u)\n")
    write(testdir, "f-flags", "messages: 1\n\nok store 1 flags (\\seen \\flagged)\n"
                              "* 1 fetch (flags (\\seen))\n")
    write(testdir, "g-order", "messages: 3\n\nok search all\n* search 3 2 1\n")
    write(testdir, "h-literal", "messages: 1\n\nok fetch 1 body.peek[text]\n"
                                "* 1 fetch (body[text] {{{\nnot the body\n}}})\n")
    write(testdir, "i-code", "state: created\n\nexamine $mailbox\nok [read-write]\n")
    write(testdir, "j-seq", "messages: 3\n\nok store 1,3 +flags \\deleted\nok expunge\n"
                            "* $1 expunge\n* $2 expunge\n")
    results = run(server, directory=str(testdir))
    assert len(results) == 10
    passed = [r.name for r in results if r.status != "FAIL"]
    assert not passed, passed
    assert "999" in results[0].reason


def test_right_expectations_pass(server, testdir):
    # the same tests put right: the runner is not failing everything either
    write(testdir, "a-uid", "messages: 2\n\nok fetch 1 (uid)\n* 1 fetch (uid $uid1)\n"
                            "ok fetch 2 (uid)\n! 2 fetch (uid $uid1)\n")
    write(testdir, "c-mustnot", "messages: 2\n\nok search all\n! search 2 1\n* search 1 2\n")
    write(testdir, "d-extra", "messages: 2\nignore_extra_untagged: no\n\n"
                              "ok fetch 1:2 (uid)\n* 1 fetch (uid $uid)\n* 2 fetch (uid $)\n")
    write(testdir, "f-flags", "messages: 1\n\nok store 1 flags (\\flagged \\seen)\n"
                              "* 1 fetch (flags (\\seen \\flagged))\n")
    write(testdir, "h-literal", "messages: 1\n\nok fetch 1 body.peek[text]\n"
                                "* 1 fetch (body[text] {{{\nbody1\n\n\n}}})\n")
    write(testdir, "i-code", "state: created\n\nexamine $mailbox\nok [read-only]\n")
    write(testdir, "j-seq", "messages: 3\n\nok store 1,3 +flags \\deleted\nok expunge\n"
                            "* $1 expunge\n* $3 expunge\n")
    write(testdir, "k-skip", "capabilities: X-NO-SUCH-THING\n\nok noop\n")
    write(testdir, "l-ifenv", "messages: 1\n\n!ifenv TERN_NO_SUCH_VARIABLE\nok no-such-command\n"
                              "!else\nok noop\n!endif\n")
    results = {r.name: r for r in run(server, directory=str(testdir))}
    assert results.pop("k-skip").status == "SKIP"
    bad = [runner.format_result(r) for r in results.values() if r.status != "PASS"]
    assert not bad, "\n".join(bad)


def test_command_line(server, testdir):
    write(testdir, "good", "messages: 1\n\nok fetch 1 (uid)\n* 1 fetch (uid $uid)\n")
    write(testdir, "wrong", "messages: 1\n\nok fetch 1 (uid)\n* 1 fetch (uid 999)\n")
    cmd = ["/usr/bin/python3", os.path.join(HERE, "imaptest_runner.py"), "--port",
           str(server.port), "--user", "alice", "--password", "alice-pw", str(testdir)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "PASS good"
    assert lines[1].startswith("FAIL wrong: ")
    assert lines[-1] == "1 passed, 1 failed, 0 skipped"
    r = subprocess.run(cmd + ["--test", "good"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1] == "1 passed, 0 failed, 0 skipped"


def test_silent_server_times_out(testdir):
    # a server that accepts but never greets: the group fails within the timeout
    write(testdir, "t", "ok noop\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(5)
        start = time.monotonic()
        results = runner.run_tests(str(testdir), "127.0.0.1", s.getsockname()[1], "u", "p",
                                   timeout=1)
        assert time.monotonic() - start < 10
    assert results[0].status == "FAIL"


def test_synchronising_literals():
    # a Dovecot that does not advertise LITERAL+: literals wait for "+" continuations
    caps = ("IMAP4rev1 ID ENABLE IDLE MULTIAPPEND CATENATE UNSELECT CHILDREN NAMESPACE "
            "UIDPLUS LIST-EXTENDED CONDSTORE ESEARCH BINARY MOVE")
    names = {"append", "append-binary", "catenate", "catenate-multiappend", "multiappend",
             "fetch-body", "select", "pipeline"}
    with dovecot.PrivateDovecot(extra_conf="imap_capability = %s\n" % caps) as d:
        results = run(d, names=names)
    assert {r.name for r in results} == names
    bad = [runner.format_result(r) for r in results if r.status != "PASS"]
    assert not bad, "\n".join(bad)
