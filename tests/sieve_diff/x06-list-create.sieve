require ["fileinto", "mailbox"];
if exists "list-id" {
    fileinto :create "Lists/dev";
} elsif mailboxexists "Lists/dev" {
    fileinto "Never";
}
