"""Shared fixtures for Tern's protocol tests: a real instance in a temporary folder.

Each test that asks for `tern` gets its own instance, made with `tern init`, with the
listeners moved to free loopback ports, two users (alice and bob @example.test), and
`tern serve` running; it is stopped (SIGTERM) afterwards and its log is checked for
sanitizer reports. `tern_factory(options={...}, start=True)` makes one with options.

Instance API:
  .dir, .conf                 instance folder and its tern.conf
  .ports[name]                listener ports: smtp submission submissions imap imaps pop3 pop3s sieve
  .domain, .users             'example.test'; {'alice@example.test': 'alice-pw', ...}
  .maildir(addr)              the user's Maildir path
  .wait_messages(addr, n, timeout=10)  files in new/ and cur/ once there are >= n
  .read_messages(addr)        their contents (bytes), oldest first
  .log()                      the server's log text
  .set_option(name, value)    change tern.conf (before start, or then .reload())
  .start() .stop() .reload() .kill9()
  .serve_env                  extra environment variables of `tern serve` at .start()
  .run(*args, input=None, check=False)  runs `tern ARGS` with TERN_CONF set
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TERN = os.environ.get("TERN_BIN") or os.path.join(ROOT, "build", "src", "tern", "tern")
SANITIZE = os.environ.get("TERN_SANITIZE") == "true"
DOMAIN = "example.test"
LISTENERS = ["smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s", "sieve"]
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


_given_ports = set()


def free_ports(n):
    """n distinct free loopback ports, never handed out twice in this process."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            port = s.getsockname()[1]
            if port not in _given_ports:
                _given_ports.add(port)
                ports.append(port)
    finally:
        for s in socks:
            s.close()
    return ports


def free_port():
    return free_ports(1)[0]


def read_queued(queue_dir, qid):
    """(envelope text, message bytes) of queued message qid, in either queue format
    (doc/queue-format.md): format 2 is the one file env/ID, the data then the envelope,
    which starts at the last "V 2\\nI ID\\n" in it (its Z record says the same); format 1
    is env/ID ("V 1" ...) with the data in msg/ID."""
    raw = open(os.path.join(queue_dir, "env", qid), "rb").read()
    at = raw.rfind(b"V 2\nI %s\n" % qid.encode())
    if at < 0:
        assert raw.startswith(b"V 1\n"), raw[:100]
        return raw.decode(), open(os.path.join(queue_dir, "msg", qid), "rb").read()
    env = raw[at:].decode()
    assert "\nZ %d\n" % at in env, env
    return env, raw[:at]


def remove_queued(queue_dir, qid):
    """Takes message qid out of the queue (either format)."""
    os.unlink(os.path.join(queue_dir, "env", qid))
    try:
        os.unlink(os.path.join(queue_dir, "msg", qid))
    except FileNotFoundError:
        pass


def tern_env(conf=None):
    env = dict(os.environ)
    # A small quarantine keeps resident memory close to a normal build, so the tests
    # of bounded memory mean something under AddressSanitizer too.
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:quarantine_size_mb=4"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    if conf:
        env["TERN_CONF"] = conf
    return env


def _live_in_group(pgid):
    """Is a process of group pgid still alive (not a zombie)?"""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            fields = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


class Instance:
    def __init__(self, options=None):
        self.dir = tempfile.mkdtemp(prefix="tern-test-")
        os.chmod(self.dir, 0o755)  # the unprivileged run_user must reach it
        self.domain = DOMAIN
        self.proc = None
        self.serve_env = {}  # extra environment of `tern serve` (and so of its workers)
        self.logfile = os.path.join(self.dir, "tern.log")
        inst = os.path.join(self.dir, "inst")
        r = subprocess.run([TERN, "init", inst, "--domain", DOMAIN, "--hostname",
                            "mx." + DOMAIN], capture_output=True, text=True, env=tern_env())
        assert r.returncode == 0, r.stderr
        self.conf = os.path.join(inst, "tern.conf")
        self.ports = dict(zip(LISTENERS, free_ports(len(LISTENERS))))
        text = open(self.conf).read()
        for name in LISTENERS:
            port = self.ports[name]
            text, n = re.subn(r"(listen %s \{\n    address = 127\.0\.0\.1:)\d+" % name,
                              r"\g<1>%d" % port, text)
            assert n == 1, name
        open(self.conf, "w").write(text)
        for name, value in (options or {}).items():
            self.set_option(name, value)
        self.users = {}
        for user in ("alice", "bob"):
            self.add_user("%s@%s" % (user, DOMAIN), user + "-pw")

    def add_user(self, address, password):
        r = self.run("user", "add", address, input=password + "\n")
        assert r.returncode == 0, r.stderr
        self.users[address] = password

    def set_option(self, name, value):
        text = open(self.conf).read()
        line = "%s = %s" % (name, value)
        text, n = re.subn(r"(?m)^#?%s = .*$" % re.escape(name), line, text, count=1)
        if n == 0:
            text = line + "\n" + text
        # Atomically, as an editor would: a worker starting now must not read half a file.
        tmp = self.conf + ".tmp"
        open(tmp, "w").write(text)
        os.rename(tmp, self.conf)

    def run(self, *args, input=None, check=False, timeout=60):
        r = subprocess.run([TERN] + [str(a) for a in args], input=input,
                           capture_output=True, text=isinstance(input, str) or input is None,
                           env=tern_env(self.conf), timeout=timeout)
        if check:
            assert r.returncode == 0, (r.stdout, r.stderr)
        return r

    def listener_addresses(self):
        """(host, port) of every listener in tern.conf, as it is now."""
        text = open(self.conf).read()
        return [(h, int(p)) for h, p in
                re.findall(r"(?m)^listen \S+ \{\n(?:[^}]*?\n)?\s*address = ([\d.]+):(\d+)", text)]

    def _reassign_ports(self):
        """Another program took one of our ports: move every loopback listener."""
        text = open(self.conf).read()
        for name, port in zip(LISTENERS, free_ports(len(LISTENERS))):
            text = re.sub(r"(listen %s \{\n    address = 127\.0\.0\.1:)\d+" % name,
                          r"\g<1>%d" % port, text)
            self.ports[name] = port
        open(self.conf, "w").write(text)

    def start(self, wait_port="smtp", _tries=3):
        log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([TERN, "serve", "-c", self.conf], stdout=log,
                                     stderr=log, env=dict(tern_env(), **self.serve_env),
                                     start_new_session=True)
        log.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.log() and _tries > 1:
                    self.proc = None
                    self._reassign_ports()
                    return self.start(wait_port, _tries - 1)
                raise AssertionError("tern serve exited:\n" + self.log())
            # Ready when every listener accepts connections.
            try:
                for addr in self.listener_addresses():
                    socket.create_connection(addr, 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("tern serve did not start listening:\n" + self.log())

    def stop(self, timeout=30):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError("tern serve did not stop on SIGTERM")
        self.proc = None

    def kill9(self):
        """kill -9 the master and every worker at once."""
        if self.proc is not None:
            pgid = self.proc.pid
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
            # The workers die asynchronously and hold the listening sockets until then.
            deadline = time.time() + 10
            while time.time() < deadline and _live_in_group(pgid):
                time.sleep(0.02)

    def reload(self):
        self.proc.send_signal(signal.SIGHUP)

    def pids(self):
        """The master's pid and its workers'."""
        out = [self.proc.pid]
        for p in os.listdir("/proc"):
            if p.isdigit():
                try:
                    stat = open("/proc/%s/stat" % p).read()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    out.append(int(p))
        return out

    def maildir(self, address):
        local, domain = address.split("@")
        return os.path.join(self.dir, "inst", "data", "mail", domain, local)

    def message_files(self, address):
        files = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir(address), sub)
            if os.path.isdir(d):
                files += [os.path.join(d, f) for f in os.listdir(d) if not f.startswith(".")]
        return sorted(files, key=lambda f: (os.stat(f).st_mtime_ns, f))

    def wait_messages(self, address, n, timeout=10):
        deadline = time.time() + timeout
        while True:
            files = self.message_files(address)
            if len(files) >= n or time.time() > deadline:
                return files
            time.sleep(0.05)

    def read_messages(self, address):
        out = []
        for f in self.message_files(address):
            with open(f, "rb") as fh:
                out.append(fh.read())
        return out

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ScriptedSmtpServer:
    """An SMTP server on a loopback port, one connection at a time in a thread, for tests
    that need a peer to behave as real servers do not (or to see exactly what it got).
    A subclass writes session(f) over the connection's binary file; say() and
    read_data() help; received messages go to self.messages."""

    def __init__(self, address, port):
        self.messages = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(5)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(30)
                try:
                    self.session(conn.makefile("rwb"))
                except OSError:
                    pass

    @staticmethod
    def say(f, text):
        f.write(text.encode() + b"\r\n")
        f.flush()

    def read_data(self, f):
        """The message after a 354, up to the lone dot, kept in self.messages."""
        data = b""
        while True:
            line = f.readline()
            if line in (b".\r\n", b""):
                break
            data += line
        self.messages.append(data)
        return data

    def stop(self):
        self.sock.close()


def _check_sanitizers(inst):
    text = inst.log()
    for mark in SANITIZER_MARKS:
        assert mark not in text, "sanitizer report in the server log:\n" + text[-6000:]


@pytest.fixture
def tern_factory():
    made = []

    def make(options=None, start=True):
        inst = Instance(options)
        made.append(inst)
        if start:
            inst.start()
        return inst

    yield make
    for inst in made:
        try:
            inst.stop()
            _check_sanitizers(inst)
        finally:
            inst.cleanup()


@pytest.fixture
def tern(tern_factory):
    return tern_factory()
