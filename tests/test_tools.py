"""The administrator's commands: init, check, user, and serve's signals."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from conftest import TERN, tern_env


def run(*args, input=None, conf=None):
    return subprocess.run([TERN] + list(args), input=input, capture_output=True, text=True,
                          env=tern_env(conf), timeout=60)


def test_init_creates_instance():
    d = tempfile.mkdtemp(prefix="tern-init-")
    inst = os.path.join(d, "i")
    r = run("init", inst, "--domain", "example.org")
    assert r.returncode == 0, r.stderr
    conf = os.path.join(inst, "tern.conf")
    text = open(conf).read()
    assert "hostname = mail.example.org" in text
    assert "domains = example.org" in text
    # every listener of the contract (and ManageSieve on its IANA port), on loopback
    for port in (2525, 2587, 2465, 2143, 2993, 2110, 2995, 4190):
        assert "address = 127.0.0.1:%d" % port in text
    # every option is there, commented, with its documentation
    assert "#smtp_max_message_size = 50M" in text
    assert os.path.isdir(os.path.join(inst, "data")) and os.path.isdir(os.path.join(inst, "queue"))
    cert = subprocess.run(["openssl", "x509", "-in", os.path.join(inst, "tls", "cert.pem"),
                           "-noout", "-subject", "-ext", "subjectAltName"],
                          capture_output=True, text=True)
    assert cert.returncode == 0 and "mail.example.org" in cert.stdout
    assert os.stat(os.path.join(inst, "tls", "key.pem")).st_mode & 0o077 == 0
    # the generated file is valid and check prints the effective values
    r = run("check", "-c", conf)
    assert r.returncode == 0, r.stderr
    assert "smtp_max_message_size = 50M  # default" in r.stdout
    assert re.search(r"hostname = mail.example.org  # line \d+", r.stdout)
    # init refuses to overwrite
    assert run("init", inst, "--domain", "example.org").returncode != 0
    # wrong calls
    assert run("init", inst).returncode == 64
    assert run("init", os.path.join(d, "x"), "--domain", "bad domain").returncode == 64


def test_check_reports_file_and_line():
    d = tempfile.mkdtemp(prefix="tern-check-")
    conf = os.path.join(d, "tern.conf")
    open(conf, "w").write("hostname = h.example\nsmtp_max_message_size = huge\n"
                          "nonsense = 1\nlisten smtp {\n  address = 127.0.0.1\n}\n")
    r = run("check", "-c", conf)
    assert r.returncode == 78
    assert "%s:2: smtp_max_message_size: expected a size" % conf in r.stderr
    assert "%s:3: unknown option 'nonsense'" % conf in r.stderr
    r = run("check", "-c", os.path.join(d, "missing.conf"))
    assert r.returncode == 78 and "No such file" in r.stderr
    # TERN_CONF is the default
    open(conf, "w").write("hostname = h.example\n")
    r = run("check", conf=conf)
    assert r.returncode == 0 and "# effective configuration of %s" % conf in r.stdout


def test_user_commands(tern_factory):
    inst = tern_factory(start=False)
    r = inst.run("user", "list")
    assert r.returncode == 0
    assert "alice@example.test" in r.stdout and "bob@example.test" in r.stdout
    # generated password when stdin is empty
    r = inst.run("user", "add", "carol@example.test", "--quota", "10M", input="")
    assert r.returncode == 0, r.stderr
    m = re.search(r"^password: (\S{16})$", r.stdout, re.M)
    assert m
    carol = inst.maildir("carol@example.test")
    assert os.path.isdir(os.path.join(carol, "new"))
    # the special-use folders come with the Maildir, subscribed, owned like the rest
    owner = os.stat(carol).st_uid
    for name in ("Sent", "Drafts", "Trash", "Junk", "Archive"):
        for part in ("", "tmp", "new", "cur", "maildirfolder"):
            path = os.path.join(carol, "." + name, part)
            assert os.path.exists(path), path
            assert os.stat(path).st_uid == owner, path
        assert not os.path.exists(os.path.join(carol, "." + name, "tern-index.sqlite"))
    subs = os.path.join(carol, "subscriptions")
    assert open(subs).read().split() == ["Sent", "Drafts", "Trash", "Junk", "Archive"]
    assert os.stat(subs).st_uid == owner
    users = open(os.path.join(inst.dir, "inst", "data", "users")).read()
    assert "carol@example.test:$" in users and m.group(1) not in users
    assert "10485760" in inst.run("user", "list").stdout
    # refusals
    assert inst.run("user", "add", "carol@example.test", input="x\n").returncode == 65
    assert inst.run("user", "add", "dave@elsewhere.test", input="x\n").returncode == 65
    assert inst.run("user", "passwd", "nobody@example.test", input="x\n").returncode == 67
    shutil.rmtree(os.path.join(carol, ".Junk"))
    r = inst.run("user", "passwd", "carol@example.test", input="new-secret\n")
    assert r.returncode == 0 and "password:" not in r.stdout
    assert not os.path.exists(os.path.join(carol, ".Junk"))  # only add makes them
    assert open(os.path.join(inst.dir, "inst", "data", "users")).read() != users
    r = inst.run("user", "del", "carol@example.test")
    assert r.returncode == 0 and "kept" in r.stdout
    assert "carol" not in inst.run("user", "list").stdout
    assert inst.run("user", "frobnicate").returncode == 64


def smtp_greeting(port):
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    return s, s.recv(1000).decode()


def test_serve_signals(tern):
    s, banner = smtp_greeting(tern.ports["smtp"])
    assert banner.startswith("220 mx.example.test")
    # a worker that dies is restarted
    pids = tern.pids()
    assert len(pids) >= 3, pids  # master, smtp, queue
    os.kill(pids[1], signal.SIGKILL)
    deadline = time.time() + 10
    while time.time() < deadline and len(set(tern.pids()) - set(pids)) == 0:
        time.sleep(0.1)
    assert set(tern.pids()) - set(pids), tern.log()
    # an invalid configuration is refused on SIGHUP, and the server keeps running
    tern.set_option("smtp_max_recipients", "many")
    tern.reload()
    time.sleep(0.5)
    assert "reload refused" in tern.log()
    tern.set_option("smtp_max_recipients", "10")
    tern.reload()
    time.sleep(0.5)
    assert "configuration reloaded" in tern.log()
    s2, banner = smtp_greeting(tern.ports["smtp"])
    # SIGTERM: a session in progress gets 421
    s2.sendall(b"EHLO client.example\r\n")
    s2.recv(1000)
    tern.proc.send_signal(signal.SIGTERM)
    data = b""
    deadline = time.time() + 10
    while time.time() < deadline and b"421" not in data:
        chunk = s2.recv(1000)
        if not chunk:
            break
        data += chunk
    assert b"421" in data
    tern.proc.wait(30)
    assert tern.proc.returncode == 0
    s.close()
    s2.close()
