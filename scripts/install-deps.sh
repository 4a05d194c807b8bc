#!/bin/sh
# Installs everything Tern needs to build, run and test on Debian 12 (run as root),
# and the unprivileged account `tern` that workers run as.
set -eu
export DEBIAN_FRONTEND=noninteractive
# Postfix (for smtp-source/smtp-sink and as a relay peer in tests) must not ask questions.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string localhost" | debconf-set-selections
PKGS="build-essential meson ninja-build pkg-config clang
libevent-dev libssl-dev libsqlite3-dev libcrypt-dev libpam0g-dev libunbound-dev libidn2-dev zlib1g-dev
libcmocka-dev openssl python3 python3-pytest
swaks mutt curl fetchmail procmail postfix isync offlineimap3 tmux iproute2 linux-perf
dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-sieve dovecot-managesieved
dnsmasq vacation bsd-mailx sieve-connect python3-sievelib gsasl"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# (vacation: Debian's vacation(1), the reference tests/test_vacation.py compares with;
# bsd-mailx: mail(1), a real user of the sendmail command in tests/test_localsubmit.py;
# sieve-connect, python3-sievelib: the ManageSieve clients of tests/test_managesieve.py;
# gsasl: GNU SASL's client, SCRAM-SHA-1/-256 over IMAP and SMTP in tests/test_sasl_gsasl.py.)
# Debian's postfix, dovecot and dnsmasq start themselves on install; Tern's tests and
# benchmarks run private instances of their own on free loopback ports.
for svc in postfix dovecot dnsmasq; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
	if [ -x "/etc/init.d/$svc" ]; then
		"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
	fi
done
postfix stop >/dev/null 2>&1 || true
if ! id tern >/dev/null 2>&1; then
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin tern
fi
