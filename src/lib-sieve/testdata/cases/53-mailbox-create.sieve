require ["fileinto", "mailbox"];
if mailboxexists "INBOX" {
    fileinto :create "New/Folder";
}
