#!/bin/sh
# postfix-peer.sh: a private Postfix instance for side-by-side benchmarks (run as root).
#   postfix-peer.sh start DIR PORT DOMAIN   Postfix listening on 127.0.0.1:PORT, delivering
#                                           mail for DOMAIN to Maildirs under DIR/mail
#                                           (virtual(8), its normal durability)
#   postfix-peer.sh stop DIR
# It uses its own configuration, queue and data folders under DIR; the system's
# /etc/postfix/main.cf is created empty if missing and only gains the
# alternate_config_directories line Postfix needs to accept `-c DIR/etc`.
set -eu
cmd=$1 dir=$2
etc="$dir/etc"
case "$cmd" in
stop)
	postfix -c "$etc" stop >/dev/null 2>&1 || true
	exit 0 ;;
start) port=$3 domain=$4 ;;
*) echo "usage: $0 start DIR PORT DOMAIN | stop DIR" >&2; exit 64 ;;
esac
mkdir -p "$etc" "$dir/mail" "$dir/spool" "$dir/data"
chown postfix "$dir/data"
uid=$(id -u postfix) gid=$(id -g postfix)
chown "$uid:$gid" "$dir/mail"
[ -f /etc/postfix/main.cf ] || : > /etc/postfix/main.cf
if ! postconf -h alternate_config_directories | grep -q "$etc"; then
	old=$(postconf -h alternate_config_directories)
	postconf -e "alternate_config_directories = $old $etc"
fi
cat > "$etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/spool
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = peer.$domain
mydestination =
mynetworks = 127.0.0.0/8
virtual_mailbox_domains = $domain
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = static:mailbox/
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
virtual_destination_concurrency_limit = 20
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
biff = no
CF
sed -e "s/^smtp      inet.*/127.0.0.1:$port inet n - n - - smtpd/" \
    -e 's/^\([a-z]*  *\(unix\|inet\|fifo\|unix-dgram\|pass\)  *[-yn]  *[-yn]\)  *[-y]/\1  n/' \
    /etc/postfix/master.cf > "$etc/master.cf"
postfix -c "$etc" check >/dev/null 2>&1 || postfix -c "$etc" check
postfix -c "$etc" start >/dev/null 2>&1 || { script -qc "postfix -c $etc start" /dev/null; exit 1; }
