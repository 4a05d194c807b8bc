"""Tern's IMAP server judged by Dovecot imaptest's scripted tests (one pytest test per group).

The groups are read from ../shared/imaptest-tests (or $IMAPTEST_DIR) and run with our own
runner (tests/imaptest_runner.py, checked against Dovecot by test_imaptest_runner.py)
against a fresh instance from the `tern` fixture, as alice@example.test (bob is the
second user). A group skipped by the runner (a capability Tern does not advertise) is
a pytest skip with the reason.

KNOWN_FAILING lists the groups that fail today; they are xfail(strict=True), so a group
that starts passing fails the run until it is taken off the list: the list only shrinks.
"""
import os
import socket
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import imaptest_runner as runner  # noqa: E402

TESTS_DIR = os.environ.get("IMAPTEST_DIR") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "shared", "imaptest-tests")

# allowed to be skipped (../shared/imaptest-FORMAT.md)
ALWAYS_SKIP = {
    "urlauth": "URLAUTH is not required",
    "urlauth-binary": "URLAUTH is not required",
    "urlauth2": "needs a second user, and then fails on Dovecot too (a test bug)",
}

# groups that fail against Tern today, with the first mismatch; remove a group when it passes
# (measured at 4060809, the first imapd commit)
KNOWN_FAILING = {}


def _groups():
    if not os.path.isdir(TESTS_DIR):
        return [pytest.param("-", id="missing")]
    out = []
    for name, _ in runner.load_tests(TESTS_DIR):
        marks = []
        if name in ALWAYS_SKIP:
            marks.append(pytest.mark.skip(reason=ALWAYS_SKIP[name]))
        elif name in KNOWN_FAILING:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_FAILING[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


_no_imap_seen = []


def _wait_greeting(port, timeout=5):
    """True once the IMAP listener answers with `* OK`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 1) as s:
                s.settimeout(2)
                if s.recv(512).startswith(b"* OK"):
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("group", _groups())
def test_imaptest(tern, group):
    if group == "-":
        # In CI, shared/ is beside the clone: its absence is an error, not a reason to skip.
        if os.environ.get("CI"):
            pytest.fail("no imaptest tests at " + TESTS_DIR)
        pytest.skip("no imaptest tests at " + TESTS_DIR)
    port = tern.ports["imap"]
    if not _wait_greeting(port, 1 if _no_imap_seen else 5):
        _no_imap_seen.append(port)
        pytest.skip("Tern's IMAP server does not answer with a `* OK` greeting on port %d" % port)
    users = list(tern.users.items())
    (user, password), (user2, password2) = users[0], users[1]
    results = runner.run_tests(TESTS_DIR, "127.0.0.1", port, user, password, user2, password2,
                               names={group}, timeout=10)
    assert len(results) == 1
    r = results[0]
    if r.status == "SKIP":
        pytest.skip(r.reason)
    assert r.status == "PASS", runner.format_result(r)
