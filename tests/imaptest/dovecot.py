"""A private Dovecot IMAP server in a temporary folder, the reference for the imaptest runner.

    with PrivateDovecot() as d:       # needs /usr/sbin/dovecot (Debian: dovecot-imapd)
        d.port, d.users                # {'alice': 'alice-pw', 'bob': 'bob-pw'}

Also runnable: `python3 tests/imaptest/dovecot.py` starts one and waits (Ctrl-C stops it).
It runs as root with its own config (`dovecot -c FILE`), listens on a free loopback port,
stores mail as Maildir under the folder and never touches the system's instance.
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DOVECOT = "/usr/sbin/dovecot"
USERS = {"alice": "alice-pw", "bob": "bob-pw"}  # no domain: imaptest URLs put $domain (the host) after $username

CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = tern-test-{port}
log_path = {dir}/dovecot.log
info_log_path = {dir}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
mail_location = maildir:{dir}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={dir}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
first_valid_uid = 0
imap_urlauth_host = *
mail_attribute_dict = file:%h/dovecot-attributes
service imap-urlauth-login {{
  chroot =
}}
protocol imap {{
  mail_max_userip_connections = 100
}}
"""


def available():
    return os.path.exists(DOVECOT) and os.geteuid() == 0


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _account(*names):
    import pwd
    for n in names:
        try:
            pwd.getpwnam(n)
            return n
        except KeyError:
            pass
    raise RuntimeError("none of the accounts %s exists" % (names,))


class PrivateDovecot:
    def __init__(self, users=None, extra_conf=""):
        self.users = dict(users or USERS)
        self.extra_conf = extra_conf
        self.dir = None
        self.port = None
        self.proc = None

    def start(self, timeout=15):
        import grp
        import pwd
        self.dir = tempfile.mkdtemp(prefix="tern-dovecot-")
        os.chmod(self.dir, 0o755)
        self.port = _free_port()
        internal = _account("dovecot", "nobody")
        login = _account("dovenull", "nobody")
        # mail owned by an unprivileged account
        owner = pwd.getpwnam(internal)
        for sub in ("run", "state", "mail"):
            os.mkdir(os.path.join(self.dir, sub))
        os.chown(os.path.join(self.dir, "mail"), owner.pw_uid, owner.pw_gid)
        with open(os.path.join(self.dir, "passwd"), "w") as f:
            for u, p in self.users.items():
                f.write("%s:{PLAIN}%s\n" % (u, p))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(CONF.format(dir=self.dir, port=self.port, internal=internal,
                                internal_group=grp.getgrgid(owner.pw_gid).gr_name,
                                login=login, uid=owner.pw_uid, gid=owner.pw_gid))
            f.write(self.extra_conf)
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                log = self.log()
                self.stop()
                raise RuntimeError("dovecot exited: %s\n%s" % (err, log))
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5) as s:
                    s.settimeout(5)
                    if s.recv(100).startswith(b"* OK"):
                        return self
            except OSError:
                time.sleep(0.1)
        log = self.log()
        self.stop()
        raise RuntimeError("dovecot did not start:\n" + log)

    def log(self):
        try:
            return open(os.path.join(self.dir, "dovecot.log")).read()
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
            self.proc = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    with PrivateDovecot() as d:
        print("dovecot on 127.0.0.1:%d in %s; users %s" % (d.port, d.dir, d.users), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
