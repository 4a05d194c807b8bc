#!/bin/sh
# One command for a fresh Debian 12 machine (as root): install dependencies, build,
# create the embedded default instance (domain example.test, user demo@example.test with
# a generated password) in ./demo, print how to connect, and run `tern serve` in the
# foreground. Ctrl-C stops it; running the script again reuses the instance.
set -eu
cd "$(dirname "$0")/.."
sh scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
# Only the programs (tern and the tern-core it runs) are needed for the demo (the tests are built by scripts/test.sh).
if ! ninja -C build src/tern/tern src/tern/tern-core >build/demo-build.log 2>&1; then
	cat build/demo-build.log >&2
	echo "demo: the build failed" >&2
	exit 1
fi
TERN="$PWD/build/src/tern/tern"
DIR="$PWD/demo"
CONF="$DIR/tern.conf"
if [ ! -f "$CONF" ]; then
	"$TERN" init "$DIR" --domain example.test --hostname mail.example.test
	chmod 755 "$DIR"
	pw=$("$TERN" user add demo@example.test -c "$CONF" </dev/null | sed -n 's/^password: //p')
	echo "$pw" > "$DIR/demo-password"
	chmod 600 "$DIR/demo-password"
fi
pw=$(cat "$DIR/demo-password")
cat <<INFO

Tern is running the demo instance in $DIR (configuration: $CONF).
  domain     example.test
  user       demo@example.test   password: $pw
  SMTP       127.0.0.1:2525        (e.g. swaks --server 127.0.0.1:2525 --to demo@example.test)
  submission 127.0.0.1:2587 (STARTTLS), 127.0.0.1:2465 (TLS)
  IMAP       127.0.0.1:2143, IMAPS 127.0.0.1:2993
  POP3       127.0.0.1:2110, POP3S 127.0.0.1:2995
  ManageSieve 127.0.0.1:4190 (STARTTLS; e.g. sieve-connect -s 127.0.0.1 -p 4190 -u demo@example.test --notlsverify --list)
  mailbox    $DIR/data/mail/example.test/demo   (mutt -f that folder)
  send       echo hi | $TERN sendmail -c $CONF demo@example.test

INFO
exec "$TERN" serve -c "$CONF"
