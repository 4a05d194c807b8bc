#!/usr/bin/python3
"""relay-bench: outbound relaying, Tern against Postfix, same load, same sink, same run.

N messages (default 5,000, about 2 KB each) are submitted over SMTP by C parallel sessions
(smtp-source -d: many messages per connection; or --client python) to the system under test, which relays them all to one smtp-sink on a loopback port
(Tern: relayhost = [127.0.0.1]:SINK, submission with AUTH; Postfix: a private instance
made by postfix-peer.sh with relayhost = [127.0.0.1]:SINK, mynetworks relay). The clock
runs from the first submission until smtp-sink has received the N-th message (-M N), so
the figure is end to end: SMTP in, durable queue, relay out.

    sudo /usr/bin/python3 bench/relay-bench.py [-n 5000] [-c 8] [--rounds 3] [--only tern|postfix]
        [--drain]

--drain measures the relay alone: the N messages are queued while the sink is down (all
deferred), then the sink is started and the queue flushed (tern queue flush, postqueue -f);
the clock runs from the flush to the N-th message at the sink.

Needs root (the private Postfix), smtp-sink and a built tern (TERN_BIN or build/).
"""
import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import conftest  # noqa: E402  (the test instance helper: tern init on free ports)

BODY = ("Subject: relay bench %d\r\nFrom: alice@example.test\r\nTo: rcpt@sink.test\r\n\r\n" +
        ("The quick brown fox jumps over the lazy dog. " * 2 + "\r\n") * 22)


def start_sink(port, count):
    return subprocess.Popen(["smtp-sink", "-u", "root", "-M", str(count),
                             "127.0.0.1:%d" % port, "256"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


CLIENT = "smtp-source"
TERN_OPTIONS = {}


def submit(port, n, clients, login=None):
    """Sends n messages over `clients` connections; returns the seconds it took."""
    if CLIENT == "smtp-source":
        # Postfix's C load generator: several messages per connection (-d), a distinct
        # recipient each (-N), about the size of BODY. Tern gets it on its smtp port,
        # relaying for 127.0.0.0/8 (mynetworks), like the Postfix peer.
        t0 = time.time()
        subprocess.run(["smtp-source", "-d", "-N", "-s", str(clients), "-m", str(n),
                        "-l", "2000", "-f", "alice@example.test", "-t", "rcpt@sink.test",
                        "127.0.0.1:%d" % port], check=True)
        return time.time() - t0
    errors = []

    def worker(k):
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=120)
            s.ehlo("bench.client")
            if login:
                s.login(*login)
            for i in range(k, n, clients):
                s.sendmail("alice@example.test", ["rcpt%d@sink.test" % (i % 50)],
                           (BODY % i).encode())
            s.quit()
        except Exception as e:  # reported below
            errors.append(repr(e))
    t0 = time.time()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit("submission failed: %s" % errors[:3])
    return time.time() - t0


def wait_sink(sink, timeout):
    try:
        sink.wait(timeout)
    except subprocess.TimeoutExpired:
        sink.kill()
        raise SystemExit("the sink did not receive every message in %ds" % timeout)


def wait_deferred(count_fn, n, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if count_fn() >= n:
            return
        time.sleep(0.5)
    raise SystemExit("the messages were not all deferred in %ds" % timeout)


def run_tern(n, clients, drain=False):
    sink_port = conftest.free_port()
    opts = {"relayhost": "[127.0.0.1]:%d" % sink_port}
    opts.update(TERN_OPTIONS)
    inst = conftest.Instance(opts)
    inst.start()
    port, login = inst.ports["smtp"], None
    if CLIENT == "python":
        port = inst.ports["submission"]
        login = ("alice@example.test", inst.users["alice@example.test"])
    try:
        if drain:
            sub = submit(port, n, clients, login)
            wait_deferred(lambda: inst.run("mailq").stdout.count("(deferred: 4.4.1"), n)
            sink = start_sink(sink_port, n)
            time.sleep(0.3)
            t0 = time.time()
            inst.run("queue", "flush", check=True)
            wait_sink(sink, 600)
            return sub, time.time() - t0
        sink = start_sink(sink_port, n)
        time.sleep(0.3)
        t0 = time.time()
        sub = submit(port, n, clients, login)
        wait_sink(sink, 600)
        return sub, time.time() - t0
    finally:
        inst.stop()
        inst.cleanup()


def run_postfix(n, clients, drain=False):
    sink_port, port = conftest.free_port(), conftest.free_port()
    d = tempfile.mkdtemp(prefix="tern-bench-pf-")
    os.chmod(d, 0o755)
    peer = os.path.join(HERE, "postfix-peer.sh")
    subprocess.run(["sh", peer, "start", d, str(port), "peer.test"], check=True)
    try:
        etc = os.path.join(d, "etc")
        subprocess.run(["postconf", "-c", etc, "-e", "relayhost = [127.0.0.1]:%d" % sink_port],
                       check=True)
        subprocess.run(["postfix", "-c", etc, "reload"], check=True, capture_output=True)
        time.sleep(1)
        if drain:
            sub = submit(port, n, clients)

            def deferred():
                out = subprocess.run(["postqueue", "-c", etc, "-j"], capture_output=True,
                                     text=True).stdout
                return out.count('"delay_reason"')
            wait_deferred(deferred, n)
            sink = start_sink(sink_port, n)
            time.sleep(0.3)
            t0 = time.time()
            subprocess.run(["postqueue", "-c", etc, "-f"], check=True)
            wait_sink(sink, 600)
            return sub, time.time() - t0
        sink = start_sink(sink_port, n)
        time.sleep(0.3)
        t0 = time.time()
        sub = submit(port, n, clients)
        wait_sink(sink, 600)
        return sub, time.time() - t0
    finally:
        subprocess.run(["sh", peer, "stop", d], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


def load():
    return open("/proc/loadavg").read().split()[0]


def median(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("-c", type=int, default=8, help="parallel submitting clients")
    ap.add_argument("--only", choices=["tern", "postfix"])
    ap.add_argument("--drain", action="store_true", help="time the relay alone (see above)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds, Tern and Postfix alternating (the order swapped each"
                         " round: a machine getting busier or quieter weighs on both"
                         " alike); medians are reported")
    ap.add_argument("--client", choices=["smtp-source", "python"], default="smtp-source",
                    help="the submitting client: smtp-source (C, to Tern's smtp port), or"
                         " Python's smtplib (Tern: submission port with AUTH)")
    ap.add_argument("--tern-option", action="append", default=[], metavar="NAME=VALUE",
                    help="a tern.conf option for the Tern instance (repeatable)")
    a = ap.parse_args()
    global CLIENT
    CLIENT = a.client
    for o in a.tern_option:
        name, _, value = o.partition("=")
        TERN_OPTIONS[name] = value
    what = "queue drained" if a.drain else "end to end"
    systems = [(name, fn) for name, fn in (("tern", run_tern), ("postfix", run_postfix))
               if not a.only or a.only == name]
    rates = {name: [] for name, _ in systems}
    for r in range(a.rounds):
        order = systems if r % 2 == 0 else systems[::-1]
        for name, fn in order:
            before = load()
            sub, total = fn(a.n, a.c, a.drain)
            rates[name].append(a.n / total)
            print("round %d %-8s %d messages: submitted in %.1fs, all relayed after %.1fs: "
                  "%.0f msg/s %s (load %s -> %s)" % (r + 1, name, a.n, sub, total,
                                                     a.n / total, what, before, load()),
                  flush=True)
        if len(systems) == 2:
            print("round %d ratio tern/postfix: %.2f" % (
                r + 1, rates["tern"][-1] / rates["postfix"][-1]), flush=True)
    for name, _ in systems:
        print("%-8s median %.0f msg/s %s over %d rounds" % (name, median(rates[name]), what,
                                                            a.rounds))
    if len(systems) == 2:
        ratios = [t / p for t, p in zip(rates["tern"], rates["postfix"])]
        print("ratio tern/postfix: median %.2f (rounds: %s)" % (
            median(ratios), " ".join("%.2f" % x for x in ratios)))


if __name__ == "__main__":
    main()
