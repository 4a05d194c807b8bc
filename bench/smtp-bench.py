#!/usr/bin/python3
"""smtp-bench: inbound SMTP to local Maildir delivery, Tern vs Postfix, same run.

For each message size, smtp-source (from Debian's postfix package) sends COUNT messages
over SESSIONS parallel sessions, first to Tern, then to a private Postfix instance set up
alike (virtual(8) Maildir delivery, its default durability); the clock stops when the
last message is in the Maildir. Prints messages/second for each, the ratio Tern/Postfix,
and peak resident memory (largest VmHWM of any one process, and the sum over processes).

Run as root from the source tree after building (build/src/tern/tern):
    /usr/bin/python3 bench/smtp-bench.py [--quick] [--rounds N] [--tern-option NAME=VALUE]
                                         [--syscalls] [--settle SECONDS]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import conftest  # noqa: E402  (the tests' instance helper)


def count_files(d):
    try:
        return len(os.listdir(d))
    except FileNotFoundError:
        return 0


def children_of(pid):
    out = [pid]
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open("/proc/%s/stat" % p).read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) in out:
                out.append(int(p))
    return out


def peak_rss(pids):
    """(largest VmHWM, sum of VmHWM) in MB over pids."""
    vals = []
    for pid in pids:
        try:
            for line in open("/proc/%d/status" % pid):
                if line.startswith("VmHWM:"):
                    vals.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return (max(vals) if vals else 0, sum(vals))


def postfix_pids():
    out = subprocess.run(["pgrep", "-f", "postfix|/usr/lib/postfix"], capture_output=True,
                         text=True).stdout.split()
    return [int(p) for p in out]


def loadavg():
    return float(open("/proc/loadavg").read().split()[0])


COUNTED = ["fsync", "fdatasync", "futex", "rename", "openat", "write", "linkat"]


def worker_pids(master):
    """{"smtp": pid, "queue": pid} of Tern's workers (children of the master)."""
    out = {}
    for pid in children_of(master):
        try:
            args = open("/proc/%d/cmdline" % pid).read().split("\0")
        except OSError:
            continue
        if len(args) > 2 and args[1] == "worker" and args[2] in ("smtp", "queue"):
            out[args[2]] = pid
    return out


def start_counting(master):
    """perf stat of the system calls in COUNTED, and of the CPU time (task-clock), on
    Tern's smtp and queue workers."""
    runs = []
    for name, pid in sorted(worker_pids(master).items()):
        out = tempfile.mktemp(prefix="smtp-bench-perf-")
        ev = ",".join(["task-clock"] + ["syscalls:sys_enter_" + c for c in COUNTED])
        runs.append((name, out, subprocess.Popen(["perf", "stat", "-x", ",", "-o", out,
                                                  "-e", ev, "-p", str(pid)])))
    time.sleep(0.5)  # perf attached
    return runs


def stop_counting(runs, count):
    for name, out, proc in runs:
        proc.send_signal(signal.SIGINT)
        proc.wait()
        counts = {}
        cpu_ms = 0.0
        for line in open(out):
            f = line.strip().split(",")
            if len(f) > 2 and f[2].startswith("syscalls:sys_enter_") and f[0].isdigit():
                counts[f[2][len("syscalls:sys_enter_"):]] = int(f[0])
            elif len(f) > 2 and f[2] == "task-clock":
                try:
                    cpu_ms = float(f[0])
                except ValueError:
                    pass
        os.unlink(out)
        print("    tern %-5s per message: cpu %.0f us  %s" % (name, cpu_ms * 1000 / count, "  ".join(
            "%s %.2f" % (c, counts.get(c, 0) / count) for c in COUNTED)), flush=True)


def drive(port, rcpt, count, size, sessions, maildir_new, start_count):
    t0 = time.monotonic()
    subprocess.run(["smtp-source", "-s", str(sessions), "-m", str(count), "-l", str(size),
                    "-f", "sender@source.test", "-t", rcpt, "127.0.0.1:%d" % port],
                   check=True)
    deadline = t0 + 600
    while count_files(maildir_new) < start_count + count:
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for delivery in %s" % maildir_new)
        time.sleep(0.01)
    return count / (time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller counts, for a smoke run")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds per load, Tern and Postfix alternating (the order swapped"
                         " each round); the median ratio is reported")
    ap.add_argument("--tern-option", action="append", default=[], metavar="NAME=VALUE",
                    help="a tern.conf option for the Tern instance (repeatable), e.g."
                         " sync_method=fsync")
    ap.add_argument("--syscalls", action="store_true",
                    help="count system calls (perf stat) of Tern's smtp and queue workers"
                         " during its runs and print them per message")
    ap.add_argument("--settle", type=float, default=0, metavar="SECONDS",
                    help="pause before each run, so that neither server's run follows the"
                         " other's deletes within ext4's recently-deleted window (about"
                         " 30 s without a journal; see bench/README.md); default 0")
    args = ap.parse_args()
    runs = [(5000, 4096, 20), (500, 100 * 1024, 20)]
    if args.quick:
        runs = [(500, 4096, 20), (50, 100 * 1024, 20)]

    tern = conftest.Instance(options=dict(o.partition("=")[::2] for o in args.tern_option))
    tern.start()
    pfdir = tempfile.mkdtemp(prefix="bench-postfix-")
    os.chmod(pfdir, 0o755)
    pfport = conftest.free_port()
    subprocess.run([os.path.join(HERE, "postfix-peer.sh"), "start", pfdir, str(pfport),
                    "bench.test"], check=True)
    results = []
    try:
        tern_new = os.path.join(tern.maildir("alice@example.test"), "new")
        pf_new = os.path.join(pfdir, "mail", "mailbox", "new")
        for count, size, sessions in runs:
            rounds = []
            for r in range(args.rounds):
                def one_tern():
                    time.sleep(args.settle)
                    counting = start_counting(tern.proc.pid) if args.syscalls else []
                    rate = drive(tern.ports["smtp"], "alice@example.test", count, size,
                                 sessions, tern_new, count_files(tern_new))
                    stop_counting(counting, count)
                    return rate

                def one_postfix():
                    time.sleep(args.settle)
                    return drive(pfport, "user@bench.test", count, size, sessions, pf_new,
                                 count_files(pf_new))
                # Alternate who goes first: a machine getting busier or quieter during
                # the run then weighs on both alike.
                if r % 2 == 0:
                    t = one_tern()
                    p = one_postfix()
                else:
                    p = one_postfix()
                    t = one_tern()
                rounds.append((t, p))
                print("%d x %d, round %d: tern %.0f msg/s, postfix %.0f msg/s, %.2fx, load"
                      " average %.1f" % (count, size, r + 1, t, p, t / p, loadavg()),
                      flush=True)
            results.append((count, size, sessions, rounds))
        trss = peak_rss(children_of(tern.proc.pid))
        prss = peak_rss(postfix_pids())
    finally:
        subprocess.run([os.path.join(HERE, "postfix-peer.sh"), "stop", pfdir])
        tern.cleanup()
        shutil.rmtree(pfdir, ignore_errors=True)
    print("%-8s %-8s %-8s %12s %12s %8s   %s" % ("messages", "size", "sessions",
                                                 "tern msg/s", "postfix msg/s",
                                                 "ratio", "(each round)"))
    for count, size, sessions, rounds in results:
        ratios = sorted(t / p for t, p in rounds)
        mid = len(rounds) // 2
        t = sorted(t for t, _ in rounds)[mid]
        p = sorted(p for _, p in rounds)[mid]
        print("%-8d %-8d %-8d %12.0f %12.0f %7.2fx   %s" % (
            count, size, sessions, t, p, ratios[mid],
            " ".join("%.2fx" % (tr / pr) for tr, pr in rounds)))
    print("msg/s and ratio: medians over %d rounds" % args.rounds)
    print("peak RSS, largest process / sum: tern %.1f / %.1f MB, postfix %.1f / %.1f MB"
          % (trss + prss))


if __name__ == "__main__":
    main()
