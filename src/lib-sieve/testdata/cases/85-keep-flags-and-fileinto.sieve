require ["fileinto", "imap4flags"];
keep :flags "\\Flagged";
fileinto "Copy";
