#!/usr/bin/python3
"""Checks the .expect files against the real procmail (the oracle).

For every NAME.rc x MSG.msg it runs `procmail -m MAILDIR=tmp DEFAULT=tmp/default ...` with a
stub $SENDMAIL, then turns what landed in tmp into the lines the unit test records
("deliver file /md/x", "deliver maildir /md/x", "deliver mh /md/x", "forward ...") and
compares them, as sets, with the deliver/forward lines of NAME.expect (pipes and locks are
not visible from outside, so they are not compared). Usage: check-real.py [NAME.rc...]
"""
import os, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))


def expected(name):
    out, cur = {}, None
    for line in open(os.path.join(HERE, name[:-3] + '.expect')):
        line = line.rstrip('\n')
        if line.startswith('['):
            cur = line[1:-1]
            out[cur] = []
        elif line.startswith('deliver ') or line.startswith('forward '):
            out[cur].append(line)
    return out


def actual(rc, msg):
    with tempfile.TemporaryDirectory() as tmp:
        md = os.path.join(tmp, 'md')
        os.mkdir(md)
        stub = os.path.join(tmp, 'sendmail')
        with open(stub, 'w') as f:
            f.write('#!/bin/sh\necho "$@" >> %s/forwards\ncat > /dev/null\n' % tmp)
        os.chmod(stub, 0o755)
        env = {'PATH': '/usr/bin:/bin', 'HOME': tmp, 'LOGNAME': 'u', 'SHELL': '/bin/sh'}
        args = ['procmail', '-m', 'MAILDIR=' + md, 'DEFAULT=' + md + '/default',
                'ORGMAIL=' + md + '/orgmail', 'SENDMAIL=' + stub, 'TESTDATA=' + HERE,
                os.path.join(HERE, rc), 'arg1', 'arg2']
        with open(os.path.join(HERE, msg), 'rb') as f:
            subprocess.run(args, stdin=f, env=env, cwd=tmp, check=False)
        time.sleep(0.3)
        lines = set()
        for name in sorted(os.listdir(md)):
            path = os.path.join(md, name)
            if name.endswith('.lock'):
                continue
            if os.path.isdir(path):
                kind = 'maildir' if os.path.isdir(os.path.join(path, 'new')) else 'mh'
                lines.add('deliver %s /md/%s' % (kind, name))
            else:
                lines.add('deliver file /md/%s' % name)
        fw = os.path.join(tmp, 'forwards')
        if os.path.exists(fw):
            for line in open(fw):
                lines.add('forward /stub/sendmail,' + ','.join(line.split()))
        return lines


def main():
    rcs = sys.argv[1:] or sorted(f for f in os.listdir(HERE) if f.endswith('.rc'))
    msgs = sorted(f for f in os.listdir(HERE) if f.endswith('.msg'))
    bad = 0
    for rc in rcs:
        exp = expected(rc)
        for msg in msgs:
            got, want = actual(rc, msg), set(exp.get(msg, []))
            if got != want:
                bad += 1
                print('%s %s: procmail %s, expected %s' % (rc, msg, sorted(got), sorted(want)))
    print('%d differences' % bad)
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
