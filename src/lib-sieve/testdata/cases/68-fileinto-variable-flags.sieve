require ["fileinto", "imap4flags", "variables"];
set "f" "\\Seen \\Flagged";
fileinto :flags "${f}" "Marked";
