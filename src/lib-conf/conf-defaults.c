/* conf-defaults: every option of tern.conf, its type, default and documentation.
 *
 * This table is the single source: the parser validates against it, `tern init` writes
 * it out as a commented file, `tern check` prints the effective values. Add an option
 * here, with a sentence a site administrator can act on, before using it in code.
 */
#include "conf.h"

#define S(sec, name, type, def, doc) {sec, name, type, def, NULL, doc}
#define E(sec, name, def, choices, doc) {sec, name, CONF_ENUM, def, choices, doc}
#define L(sec, name, def, choices, doc) {sec, name, CONF_LIST, def, choices, doc}

const struct conf_def conf_global_defs[] = {
	S("Instance", "hostname", CONF_STR, "localhost",
	  "The fully qualified name of this host, used in SMTP greetings, Received: "
	  "headers and Maildir file names."),
	S("Instance", "domains", CONF_LIST, "",
	  "The local mail domains: mail to these is delivered here, to the users of "
	  "'tern user list'. Separate several with commas."),
	S("Instance", "data_dir", CONF_PATH, "data",
	  "Where users, mailboxes and indexes live. Mail for user@domain is in "
	  "DATA/mail/DOMAIN/USER/ (a Maildir)."),
	S("Instance", "queue_dir", CONF_PATH, "queue",
	  "The mail queue. Must be on a file system that honours fsync."),
	S("Instance", "run_user", CONF_STR, "",
	  "When started as root, the account every worker switches to after binding the "
	  "listening sockets. Empty: stay as the starting user (not allowed for root)."),
	S("Instance", "worker_processes", CONF_INT, "1",
	  "Processes for each protocol role (smtp, imap, pop3, sieve), sharing the listeners; "
	  "each serves many sessions. 0: one per CPU. Note that the connection and session "
	  "limits per client address and per user are counted in each process. The queue "
	  "manager is always one process."),
	E("Instance", "log", "stderr", "stderr|syslog",
	  "Where log lines go: standard error (with timestamps), or syslog facility mail."),
	E("Instance", "log_level", "info", "debug|info|warning|error",
	  "The least important kind of log line written."),

	S("SMTP server", "smtp_banner", CONF_STR, "ESMTP Tern",
	  "Text after the host name in the 220 greeting."),
	S("SMTP server", "smtp_max_message_size", CONF_SIZE, "50M",
	  "The largest message accepted (advertised with SIZE, RFC 1870). Bigger ones get "
	  "552 5.3.4."),
	S("SMTP server", "smtp_max_recipients", CONF_INT, "1000",
	  "Recipients accepted for one message; more get 452 4.5.3 and the client sends "
	  "them in another transaction (RFC 5321 4.5.3.1.8)."),
	S("SMTP server", "smtp_max_command_line", CONF_SIZE, "2048",
	  "The longest SMTP command line, CRLF included (RFC 5321 4.5.3.1.4 asks for at "
	  "least 512). Longer lines get 500 5.5.2."),
	S("SMTP server", "smtp_max_line_length", CONF_SIZE, "64k",
	  "The longest line inside a message. A message with a longer line is refused "
	  "with 552 5.3.4 after its end (RFC 5321 allows 1000; real mail is often longer). "
	  "The sendmail command breaks such a line instead (doc/sendmail.md)."),
	S("SMTP server", "smtp_max_header_size", CONF_SIZE, "1M",
	  "The largest header section of a message; more gets 552 5.3.4."),
	S("SMTP server", "smtp_max_errors", CONF_INT, "10",
	  "Command errors allowed in one session before it is closed with 421 4.7.0."),
	S("SMTP server", "smtp_timeout", CONF_TIME, "5m",
	  "How long a client may stay silent, between commands or inside DATA "
	  "(RFC 5321 4.5.3.2.7 asks for at least 5 minutes). Then 421 4.4.2."),
	S("SMTP server", "smtp_max_connections", CONF_INT, "2000",
	  "Concurrent SMTP sessions in all; more get 421 4.7.0 at once."),
	S("SMTP server", "smtp_max_connections_per_ip", CONF_INT, "50",
	  "Concurrent SMTP sessions from one client address; more get 421 4.7.0."),
	S("SMTP server", "smtp_vrfy", CONF_BOOL, "no",
	  "Answer VRFY truthfully. When no (the default), VRFY gets 252 and tells nothing."),
	E("SMTP server", "smtp_bare_lf", "accept", "accept|reject",
	  "Lines in DATA that end in a bare LF: accept (stored as ordinary lines) or reject "
	  "the message with 550 5.6.0. Either way only CR LF . CR LF ends DATA, so a "
	  "bare-LF dot cannot smuggle a second message."),
	E("SMTP server", "smtp_nul", "reject", "reject|accept",
	  "Messages containing NUL bytes: reject with 550 5.6.0, or accept and keep them "
	  "as they are. The sendmail command follows it too (reject: exit 65)."),
	S("SMTP server", "smtp_auth_on_port25", CONF_BOOL, "no",
	  "Offer SMTP AUTH (RFC 4954) on smtp listeners too, not only on submission ones. "
	  "A client that authenticated there may relay like a submission client."),
	S("SMTP server", "submission_sender_check", CONF_BOOL, "yes",
	  "An authenticated client may only use its own address (or user+tag of it) as the "
	  "envelope sender; others get 553 5.7.1. The null sender <> is allowed."),

	S("Local submission", "local_submit", CONF_BOOL, "yes",
	  "Let every local Unix user submit mail with the sendmail command (tern sendmail, "
	  "mail, mutt, cron, vacation) without write access to the queue: the smtp worker "
	  "listens on local_submit_socket, learns each client's uid from the kernel "
	  "(SO_PEERCRED) and makes the envelope sender that user's login at the first local "
	  "domain. The limits of the SMTP server apply. See doc/system-users.md."),
	S("Local submission", "local_submit_socket", CONF_PATH, "",
	  "The local submission socket (mode 0666; every folder above it must be searchable "
	  "by other users). Empty: DATA/run/submit. The sendmail command reads it here, so "
	  "tern.conf must be readable by the users who send mail."),
	S("Local submission", "local_submit_max_per_user", CONF_INT, "20",
	  "Concurrent local submission sessions of one uid (counted in each smtp process); "
	  "more get 421 4.7.0 and the sendmail command exits with 75 (try again later)."),
	S("Local submission", "sendmail_trusted_users", CONF_LIST, "",
	  "Accounts, besides root and run_user, that may set the envelope sender with "
	  "sendmail -f. Anyone else's -f is ignored (with a warning) and their mail goes out "
	  "as LOGIN@first-local-domain; the null sender (-f '<>', as vacation(1) uses) is "
	  "allowed to everyone."),
	E("Local submission", "mailq_users", "any", "any|trusted|root",
	  "Who may list the queue with mailq (sendmail -bp, tern queue list) through the local "
	  "submission socket, which shows every message's queue ID, size, arrival time, sender, "
	  "recipients and deferral reason: any local user (as Postfix and sendmail do by "
	  "default), trusted (root, run_user and sendmail_trusted_users) or root (root and "
	  "run_user). Root and the queue's owner read the queue directly in any case."),
	S("Local submission", "mailq_max_entries", CONF_INT, "10000",
	  "The most messages (the oldest) one mailq lists through the local submission "
	  "socket; the summary line says how many more there are. 0: no limit. The listing "
	  "streams, one message at a time, so the server's memory does not grow with the "
	  "queue."),

	E("Queue", "sync_method", "fsync", "fsync|syncfs",
	  "How the queue and local delivery make mail durable before acknowledging it. "
	  "fsync: each file and folder on its own (one flush each; the queue still flushes "
	  "a folder once for a batch of messages). syncfs: one syncfs(2) serves every "
	  "delivery and session waiting at that moment (group commit), so a burst of N "
	  "messages costs a few flushes instead of N, but each one also waits for every "
	  "other program's dirty data on that file system; worth trying only where the queue "
	  "and the mailboxes have a file system of their own (bench/README.md: fsync was "
	  "the faster here). Both give the same guarantee. tern deliver (one message per "
	  "process, nothing to group) always uses fsync."),
	S("SMTP server", "mynetworks", CONF_LIST, "127.0.0.0/8 ::1/128",
	  "Client networks (CIDR, IPv4 or IPv6, separated by commas or spaces) trusted to "
	  "relay: their mail to other domains is accepted without authentication. Everyone "
	  "else may only send to the local domains (554 5.7.1 Relay access denied)."),
	S("SMTP server", "max_hops", CONF_INT, "50",
	  "A message with more Received: header fields than this is looping (RFC 5321 "
	  "6.3) and refused with 554 5.4.6."),

	S("Aliases", "alias_maps", CONF_LIST, "aliases",
	  "Alias tables in /etc/aliases format (name: target, target; :include:/file, "
	  "|command, /file), for local parts in every local domain; relative paths are in "
	  "data_dir. Each is compiled into PATH.db (by 'tern newaliases', or by itself when "
	  "the file changed). A missing file is an empty table. See doc/aliases.md."),
	S("Aliases", "virtual_alias_maps", CONF_LIST, "",
	  "Address rewriting tables, text files of 'address target, target' lines; "
	  "'@domain target' catches every address of the domain that is neither a user nor "
	  "an alias. Relative paths are in data_dir; the domains must be in 'domains'."),

	S("Address rewriting", "canonical_maps", CONF_LIST, "",
	  "Tables (text maps as for virtual_alias_maps) that replace addresses as mail comes "
	  "in, in the envelope and in the header (see canonical_classes). Keys, in the order "
	  "tried: user@domain, user (only for the local domains and hostname), @domain. A "
	  "value is one address, or '@otherdomain' to keep the user; a value without '@' gets "
	  "the first local domain. With subaddressing, user+tag@domain also tries "
	  "user@domain and keeps +tag. The result is looked up again (at most 10 times). "
	  "Relative paths are in data_dir; 'tern check' reports malformed lines as file:line."),
	S("Address rewriting", "sender_canonical_maps", CONF_LIST, "",
	  "Like canonical_maps, for sender addresses only (the envelope sender, and From:, "
	  "Sender:, Reply-To:, Resent-From:, ...); tried before canonical_maps."),
	S("Address rewriting", "recipient_canonical_maps", CONF_LIST, "",
	  "Like canonical_maps, for recipient addresses only (the envelope recipients, and "
	  "To:, Cc:, Bcc:, Resent-To:, ...); tried before canonical_maps. An envelope "
	  "recipient is rewritten after relay control has accepted it as given."),
	L("Address rewriting", "canonical_classes",
	  "envelope_sender envelope_recipient header_sender header_recipient",
	  "envelope_sender|envelope_recipient|header_sender|header_recipient",
	  "Which addresses the canonical maps rewrite."),
	S("Address rewriting", "masquerade_domains", CONF_LIST, "",
	  "Domains whose subdomains are hidden: with 'example.com', user@host.dept.example.com "
	  "becomes user@example.com. Tried left to right, the first that matches wins; "
	  "'!sub.example.com' leaves that domain and its subdomains as they are."),
	S("Address rewriting", "masquerade_exceptions", CONF_LIST, "",
	  "User names (local parts, such as root, postmaster) that are never masqueraded."),
	L("Address rewriting", "masquerade_classes",
	  "envelope_sender header_sender header_recipient",
	  "envelope_sender|envelope_recipient|header_sender|header_recipient",
	  "Which addresses are masqueraded. Header senders are From:, Sender:, Reply-To:, "
	  "Errors-To:, Return-Receipt-To:, Disposition-Notification-To: and their Resent- "
	  "forms; header recipients To:, Cc:, Bcc:, Apparently-To: and Resent-To/Cc/Bcc:."),
	L("Address rewriting", "header_rewrite_clients", "local authenticated",
	  "local|authenticated|mynetworks|all",
	  "Whose messages get their header addresses rewritten (canonical maps and "
	  "masquerading): local (the sendmail command, and sendmail -bs), authenticated "
	  "(SMTP AUTH), mynetworks (clients in mynetworks), all. Other clients' headers are "
	  "left as they came; envelope addresses are rewritten for every client. Only the "
	  "addr-spec of an address changes: display names, comments, groups and folding "
	  "stay, and the body is never touched."),
	S("Address rewriting", "header_rewrite_max_field", CONF_SIZE, "64k",
	  "A header field longer than this is passed on without its addresses rewritten "
	  "(what the rewriting holds in memory at a time)."),

	S("Bounces", "bounce_max_size", CONF_SIZE, "50k",
	  "A bounce (delivery status notification, RFC 3464) returns the whole original "
	  "message when the sender asked for it (RET=FULL) or did not say, up to this many "
	  "bytes (cut at a line end); larger messages, and RET=HDRS, get only their header."),
	S("Bounces", "double_bounce_recipient", CONF_STR, "",
	  "Where a bounce that cannot be delivered goes (instead of being returned again). "
	  "Empty: postmaster@ the first local domain."),

	S("Queue", "queue_retry_min", CONF_TIME, "1m",
	  "The first wait before retrying a delivery that failed temporarily; each "
	  "further wait doubles."),
	S("Queue", "queue_retry_max", CONF_TIME, "1h",
	  "The longest wait between two delivery attempts."),
	S("Queue", "queue_delivery_threads", CONF_INT, "8",
	  "Local deliveries run at the same time (each on a different message); their "
	  "fsyncs are committed together, so more than the number of disks helps."),
	S("Queue", "queue_lifetime", CONF_TIME, "5d",
	  "How long a message may stay in the queue before it is returned to its sender."),
	S("Queue", "queue_recycle_files", CONF_INT, "256",
	  "Files of delivered messages kept in QUEUE/free/ to hold the next messages "
	  "received, instead of being deleted (two per message: envelope and data): new "
	  "files cost more than reused ones on some file systems (ext4 without a journal "
	  "searches past every recently deleted inode). Beyond this many, files are deleted. "
	  "0: no recycling."),
	S("Queue", "queue_recycle_max_size", CONF_SIZE, "1M",
	  "Data files larger than this are deleted rather than recycled (the pool keeps a "
	  "file's disk space until it is reused)."),
	S("Queue", "delay_warning_time", CONF_TIME, "4h",
	  "When a recipient is still deferred this long after the message arrived, the "
	  "sender gets one delay warning (RFC 3464, Action: delayed, with the last error; "
	  "none for the null sender or a NOTIFY without DELAY). 0: no warnings."),

	S("Outbound delivery", "dns_resolver", CONF_STR, "",
	  "The DNS server for MX and address lookups, as ADDRESS or ADDRESS@PORT "
	  "(127.0.0.1@5353). Empty: the servers of /etc/resolv.conf, and /etc/hosts."),
	S("Outbound delivery", "relayhost", CONF_STR, "",
	  "Send all mail for other domains through this smarthost: [HOST]:PORT (no MX "
	  "lookup) or HOST (its MX records). Empty: to each domain's MX hosts."),
	S("Outbound delivery", "relayhost_auth", CONF_STR, "",
	  "Credentials for the smarthost, USER:PASSWORD, or the path of a file holding "
	  "USER:PASSWORD (better: tern.conf is world-readable for local submission). Sent "
	  "with AUTH PLAIN or LOGIN, only under TLS or on loopback."),
	S("Outbound delivery", "transport_map", CONF_STR, "",
	  "Per-domain routes, comma-separated: DOMAIN relay:[HOST]:PORT, DOMAIN relay:HOST "
	  "(its MX), DOMAIN lmtp:unix:/PATH, DOMAIN lmtp:inet:HOST:PORT. A domain "
	  "given as .example.org also covers its subdomains."),
	E("Outbound delivery", "tls_policy", "may", "none|may|encrypt|verify",
	  "STARTTLS for outbound SMTP: none; may (when offered, no certificate check); "
	  "encrypt (TLS required); verify (TLS required and the certificate must match "
	  "the MX host name and chain to the system CAs)."),
	S("Outbound delivery", "tls_policy_map", CONF_STR, "",
	  "Per-domain TLS policies, comma-separated DOMAIN:POLICY, e.g. "
	  "example.org:encrypt, other.org:none."),
	S("Outbound delivery", "relay_port", CONF_INT, "25",
	  "The port of MX hosts (25; other values are for tests)."),
	S("Outbound delivery", "relay_max_connections", CONF_INT, "50",
	  "Outbound SMTP/LMTP connections open at once, in all."),
	S("Outbound delivery", "relay_max_per_destination", CONF_INT, "10",
	  "Outbound connections open at once to one destination (domain or next hop)."),
	S("Outbound delivery", "relay_max_messages_per_connection", CONF_INT, "100",
	  "Messages sent over one connection before it is closed and a new one made."),
	S("Outbound delivery", "relay_connection_cache_time", CONF_TIME, "2s",
	  "How long a connection with nothing to send stays open for the next message to "
	  "the same destination. 0: close at once."),
	E("Outbound delivery", "relay_8bitmime", "send", "send|bounce",
	  "An 8BITMIME message for a server that does not offer 8BITMIME: send it anyway "
	  "(logged; what most servers take) or fail it with 5.6.3."),
	S("Outbound delivery", "relay_max_line_length", CONF_INT, "998",
	  "The longest line sent to another server, in octets before its CRLF (RFC 5321 "
	  "4.5.3.1.6: 998). A longer line (accepted up to smtp_max_line_length) is broken "
	  "by CRLF and a space: a folded field in the header, a continued line in the "
	  "body; logged. 0: lines are sent as they are."),
	S("Outbound delivery", "relay_timeout_connect", CONF_TIME, "30s",
	  "How long to wait for a TCP connection to an MX host before trying the next."),
	S("Outbound delivery", "relay_timeout_initial", CONF_TIME, "5m",
	  "Wait for the 220 greeting (RFC 5321 4.5.3.2.1), and for EHLO, STARTTLS and AUTH."),
	S("Outbound delivery", "relay_timeout_mail", CONF_TIME, "5m",
	  "Wait for the reply to MAIL (RFC 5321 4.5.3.2.2)."),
	S("Outbound delivery", "relay_timeout_rcpt", CONF_TIME, "5m",
	  "Wait for the reply to each RCPT (RFC 5321 4.5.3.2.3)."),
	S("Outbound delivery", "relay_timeout_data", CONF_TIME, "2m",
	  "Wait for the 354 reply to DATA (RFC 5321 4.5.3.2.4)."),
	S("Outbound delivery", "relay_timeout_data_block", CONF_TIME, "3m",
	  "Longest wait for the server to take the next block of message data "
	  "(RFC 5321 4.5.3.2.5), and for each BDAT reply."),
	S("Outbound delivery", "relay_timeout_final", CONF_TIME, "10m",
	  "Wait for the reply after the final dot (RFC 5321 4.5.3.2.6)."),

	S("Delivery", "recipient_delimiter", CONF_STR, "+",
	  "Separates a user name from an extension (user+tag@domain is delivered to "
	  "user). Empty: no subaddressing."),
	S("Delivery", "user_quota_bytes", CONF_SIZE, "0",
	  "The default mailbox quota in bytes for a virtual user (0: none)."),
	E("Delivery", "quota_exceeded", "defer", "defer|bounce",
	  "What local delivery does with a message that would put a mailbox over its quota "
	  "(bytes or messages, counted over all folders): defer it (4.2.2, retried until "
	  "queue_lifetime) or return it to the sender at once (5.2.2)."),
	S("Delivery", "mbox_lock_timeout", CONF_TIME, "60s",
	  "How long a writer of an mbox waits for the dotlock and fcntl lock held by another "
	  "program (procmail, mutt) before the delivery fails temporarily. Dotlocks older "
	  "than 5 minutes are stale and removed."),

	S("Local delivery agent", "procmailrc_path", CONF_STR, ".procmailrc",
	  "The procmail rc file of a virtual user: relative to the user's mail folder "
	  "(DATA/mail/DOMAIN/USER), or absolute with %u for the local part and %d for the "
	  "domain. Empty: no procmail recipes."),
	S("Local delivery agent", "sieve_path", CONF_STR, "",
	  "The active Sieve script of a virtual user, with %u and %d as for procmailrc_path. "
	  "Empty: DATA/sieve/DOMAIN/USER/active.sieve. Used when the user has no rc file."),
	S("Local delivery agent", "sieve_global_dir", CONF_STR, "",
	  "Where a Sieve script's include :global \"NAME\" finds NAME.sieve (RFC 6609); "
	  ":personal ones are beside the user's active script. Empty: DATA/sieve/global."),
	S("Local delivery agent", "deliver_allow_commands", CONF_BOOL, "no",
	  "Let virtual users' filters run programs (procmail | pipes, ? conditions, f "
	  "filters, backquotes), as the account Tern runs as. When no, such recipes fail "
	  "with a log line and the message goes on to the next recipe or the INBOX."),
	S("Local delivery agent", "deliver_command_timeout", CONF_TIME, "5m",
	  "How long a program started by a filter may run before it is killed (its "
	  "recipe then fails)."),
	S("Local delivery agent", "deliver_filter_max_size", CONF_SIZE, "32M",
	  "The largest message held in memory for filters. Bigger messages are delivered "
	  "whole, but recipes match only their first this many bytes, and f filters "
	  "get them whole on stdin but must fit their output in memory."),
	S("Local delivery agent", "deliver_spool_memory", CONF_SIZE, "1M",
	  "tern deliver keeps a message read on its standard input in memory up to this "
	  "size; a bigger one is spooled to an unlinked file in the INBOX's tmp/ folder "
	  "(or $TMPDIR for system users). 0: always a file."),
	S("Local delivery agent", "comsat_address", CONF_STR, "",
	  "Where to send the biff/comsat datagram (USER@OFFSET:MAILBOX) after a delivery "
	  "to an INBOX, as host:port, e.g. 127.0.0.1:512. Empty: none."),
	S("Local delivery agent", "vacation_interval", CONF_TIME, "7d",
	  "How long `tern vacation` waits before answering the same sender again, when its "
	  "database holds no interval of its own (set with -r; RFC 3834 2 recommends 7 days)."),
	S("Local delivery agent", "vacation_sendmail", CONF_STR, "",
	  "The program `tern vacation` and Sieve vacation hand an answer to when they may not "
	  "write the queue themselves (run from a user's .forward, or as root); it gets "
	  "-i -f <> -- ADDRESS. Empty: this binary's `tern sendmail`."),
	S("Local delivery agent", "vacation_db_max_size", CONF_SIZE, "4M",
	  "The largest vacation database (.vacation.db) read; a bigger one is an error and "
	  "the message gets no answer."),
	S("Local delivery agent", "vacation_msg_max_size", CONF_SIZE, "64K",
	  "The largest vacation message file (.vacation.msg); RFC 3834 2 warns against big "
	  "automatic answers."),
	S("Local delivery agent", "vacation_header_max_size", CONF_SIZE, "256K",
	  "How much of a message's header `tern vacation` reads; a message whose header is "
	  "bigger gets no answer."),
	S("Local delivery agent", "vacation_lock_timeout", CONF_TIME, "30s",
	  "How long `tern vacation` waits for the lock of a database that another process "
	  "is updating before it fails temporarily (75)."),

	E("System users", "user_source", "virtual", "virtual|system",
	  "Who the mail users of the local domains are. virtual: the users of 'tern user "
	  "list', mail under data_dir, everything owned by run_user (no root needed). system: "
	  "the Unix accounts of passwd/shadow (or PAM), mail delivered by a process running "
	  "as the recipient, honouring ~/.forward and ~/.procmailrc; 'tern serve' must start "
	  "as root. See doc/system-users.md for which process runs as whom."),
	S("System users", "system_mailbox", CONF_STR, "mbox:/var/mail/%u",
	  "Where a system user's mail goes: mbox:PATH (one mbox file, locked with a dotlock "
	  "and fcntl as procmail and mutt do) or maildir:PATH (a Maildir). %u is the account "
	  "name, %h its home folder; a PATH starting with ~/ is in the home folder, e.g. "
	  "maildir:~/Maildir."),
	S("System users", "system_sieve_path", CONF_STR, "~/.dovecot.sieve",
	  "A system user's active Sieve script (used when there is no ~/.procmailrc); ~/ is "
	  "the home folder, %u the account name. Its fileinto folders are Maildir++ folders "
	  "of ~/Maildir. Empty: no Sieve for system users."),
	E("System users", "system_auth", "shadow", "shadow|pam",
	  "How system users' passwords are checked: shadow (crypt(3) hashes of /etc/shadow; "
	  "locked and expired accounts are refused) or pam (the PAM service "
	  "system_pam_service: authentication and account checks)."),
	S("System users", "system_pam_service", CONF_STR, "tern",
	  "The PAM service name when system_auth is pam (/etc/pam.d/NAME; a missing file "
	  "means PAM's 'other' service)."),
	S("System users", "system_min_uid", CONF_INT, "1000",
	  "Accounts with a smaller uid are not mail users (they are system and daemon "
	  "accounts: mail to them needs an alias), unless named in system_users_allow."),
	S("System users", "system_users_allow", CONF_LIST, "",
	  "Accounts below system_min_uid that are mail users all the same."),
	S("System users", "system_mail_group", CONF_STR, "mail",
	  "A group a delivery to a system user has besides the user's own groups, so that "
	  "it can create the dotlock in a mail spool such as /var/mail (root:mail, mode 2775 "
	  "on Debian), as procmail and mail.local (set-group-id mail) can. Empty: only the "
	  "user's own groups."),

	S("POP3 server", "pop3_max_line", CONF_SIZE, "255",
	  "The longest POP3 command line, CRLF included (RFC 2449 4: at least 255; smaller "
	  "values count as 255). Longer lines get -ERR line too long."),
	S("POP3 server", "pop3_max_argument", CONF_INT, "255",
	  "The longest argument of a POP3 command. RFC 1939 says 40, but addresses and "
	  "passwords are often longer; longer ones get -ERR argument too long."),
	S("POP3 server", "pop3_timeout", CONF_TIME, "10m",
	  "How long a POP3 client may stay silent, or leave a response unread, before the "
	  "session is closed without deleting anything (RFC 1939 3: at least 10 minutes)."),
	S("POP3 server", "pop3_max_errors", CONF_INT, "10",
	  "Bad or unknown commands allowed in one POP3 session before it is closed."),
	S("POP3 server", "pop3_max_connections", CONF_INT, "1000",
	  "Concurrent POP3 sessions in one worker; more get -ERR [SYS/TEMP] at once."),
	S("POP3 server", "pop3_max_connections_per_ip", CONF_INT, "20",
	  "Concurrent POP3 sessions from one client address; more get -ERR [SYS/TEMP]."),

	S("IMAP server", "imap_max_line", CONF_SIZE, "64k",
	  "The longest IMAP command, literals not counted (RFC 7162 4: at least 8192 bytes). "
	  "Longer commands get BAD."),
	S("IMAP server", "imap_max_literal", CONF_SIZE, "50M",
	  "The largest literal, and so the largest message APPEND accepts (advertised as "
	  "APPENDLIMIT, RFC 7889). A larger literal is refused before it is read."),
	S("IMAP server", "imap_timeout", CONF_TIME, "30m",
	  "How long an authenticated IMAP client may stay silent, or leave output unread, "
	  "before the session is closed (RFC 9051 5.4: at least 30 minutes)."),
	S("IMAP server", "imap_login_timeout", CONF_TIME, "60s",
	  "How long an IMAP client may stay silent before it has logged in."),
	S("IMAP server", "imap_idle_check_interval", CONF_TIME, "30s",
	  "How often a session in IDLE checks its folder although inotify has reported no "
	  "change: inotify reports every change made on this machine at once; the check "
	  "catches the others (another host's, on a network file system). A folder that "
	  "cannot be watched is checked every 2 seconds."),
	S("IMAP server", "imap_max_errors", CONF_INT, "20",
	  "Bad or unknown commands allowed in one IMAP session before it is closed."),
	S("IMAP server", "imap_max_connections", CONF_INT, "1000",
	  "Concurrent IMAP sessions in one worker; more get * BYE at once."),
	S("IMAP server", "imap_max_connections_per_ip", CONF_INT, "50",
	  "Concurrent IMAP sessions from one client address; more get * BYE at once."),
	S("IMAP server", "imap_max_sessions_per_user", CONF_INT, "20",
	  "Concurrent IMAP sessions of one user (clients open several); a login beyond "
	  "this gets NO [LIMIT]."),

	S("ManageSieve server", "managesieve_max_line", CONF_SIZE, "8k",
	  "The longest ManageSieve command line, literals not counted (at least 1100, so a "
	  "1024-octet quoted string fits, RFC 5804 4). Longer commands get NO."),
	S("ManageSieve server", "managesieve_max_literal", CONF_SIZE, "1M",
	  "The largest literal a ManageSieve client may send; a larger one is skipped "
	  "unread and the command gets NO (QUOTA/MAXSIZE). Bounds the memory of a session."),
	S("ManageSieve server", "managesieve_max_script_size", CONF_SIZE, "256k",
	  "The largest Sieve script PUTSCRIPT stores (at most 1M, the Sieve compiler's "
	  "limit); larger ones get NO (QUOTA/MAXSIZE), which HAVESPACE also tells."),
	S("ManageSieve server", "managesieve_max_scripts", CONF_INT, "50",
	  "Sieve scripts one user may keep; PUTSCRIPT of a new one beyond this gets NO "
	  "(QUOTA/MAXSCRIPTS). 0: no limit."),
	S("ManageSieve server", "managesieve_timeout", CONF_TIME, "30m",
	  "How long a logged-in ManageSieve client may stay silent before it gets BYE "
	  "(RFC 5804 1.2: at least 30 minutes)."),
	S("ManageSieve server", "managesieve_login_timeout", CONF_TIME, "60s",
	  "How long a ManageSieve client may stay silent before it has logged in. Failed "
	  "logins are answered after auth_failure_delay, as in every protocol."),
	S("ManageSieve server", "managesieve_max_errors", CONF_INT, "10",
	  "Bad or unknown commands allowed in one ManageSieve session before BYE."),
	S("ManageSieve server", "managesieve_max_connections", CONF_INT, "1000",
	  "Concurrent ManageSieve sessions in one worker; more get BYE at once."),
	S("ManageSieve server", "managesieve_max_connections_per_ip", CONF_INT, "20",
	  "Concurrent ManageSieve sessions from one client address; more get BYE at once."),

	S("TLS", "tls_cert", CONF_PATH, "tls/cert.pem",
	  "The certificate chain (PEM) used by listeners with TLS unless they name their own."),
	S("TLS", "tls_key", CONF_PATH, "tls/key.pem", "The private key (PEM) for tls_cert."),
	S("TLS", "tls_protocols", CONF_STR, "TLSv1.2 TLSv1.3",
	  "The TLS versions offered, among TLSv1, TLSv1.1, TLSv1.2 and TLSv1.3: the lowest "
	  "and the highest named are the range. Older versions are off by default (RFC 8996)."),
	S("TLS", "tls_ciphers", CONF_STR,
	  "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:HIGH:!aNULL:!eNULL:!MD5:!3DES:"
	  "!RC4:!PSK:!SRP:!DSS:!CAMELLIA:!ARIA",
	  "The OpenSSL cipher list for TLS 1.2 (see ciphers(1)): forward-secret AEAD ciphers "
	  "first, then other strong ones so that old mail servers still get encryption. The "
	  "server's order is preferred."),
	S("TLS", "tls_ciphersuites", CONF_STR,
	  "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256",
	  "The TLS 1.3 cipher suites, colon-separated (OpenSSL's default)."),

	S("Authentication", "auth_failure_delay", CONF_TIME, "2s",
	  "The wait before answering a failed login; it doubles with each further failure "
	  "from the same address or for the same user, up to 15 seconds."),
	S("Authentication", "auth_max_failures", CONF_INT, "10",
	  "Failed logins from one address (or for one user) within auth_lockout_time after "
	  "which further logins are refused for auth_lockout_time. 0: never lock."),
	S("Authentication", "auth_lockout_time", CONF_TIME, "15m",
	  "How long an address or user stays locked out, and the window in which failures "
	  "are counted."),
	S("Authentication", "auth_cache_ttl", CONF_TIME, "0",
	  "How long a successful password check is remembered, so that the same user with "
	  "the same password logging in again (a phone polling every few minutes) costs no "
	  "crypt(3) run. Kept in memory only, as a keyed hash; a changed password never "
	  "matches; failures are never cached. 0: off (every login runs crypt(3))."),
	S("Authentication", "auth_cache_size", CONF_INT, "10000",
	  "At most this many remembered checks (auth_cache_ttl), about 40 bytes each."),
	S("Authentication", "auth_plaintext_loopback", CONF_BOOL, "yes",
	  "Allow PLAIN and LOGIN (the password in clear) without TLS on loopback connections "
	  "(127.0.0.0/8, ::1). Elsewhere they are only offered after TLS. SCRAM-SHA-256 "
	  "and SCRAM-SHA-1 are always offered."),
	{NULL, NULL, CONF_STR, NULL, NULL, NULL},
};

const struct conf_def conf_listener_defs[] = {
	S(NULL, "address", CONF_STR, "",
	  "HOST:PORT to listen on, for example 127.0.0.1:25 or [::1]:25 or *:25."),
	E(NULL, "protocol", "smtp", "smtp|submission|imap|pop3|managesieve",
	  "What is spoken on this socket (managesieve: RFC 5804, Sieve scripts)."),
	E(NULL, "tls", "none", "none|starttls|implicit",
	  "TLS: none, offered with STARTTLS/STLS, or from the first byte (RFC 8314)."),
	S(NULL, "tls_cert", CONF_PATH, "", "A certificate for this listener only."),
	S(NULL, "tls_key", CONF_PATH, "", "The private key for this listener's tls_cert."),
	{NULL, NULL, CONF_STR, NULL, NULL, NULL},
};
