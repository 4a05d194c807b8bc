require ["fileinto"];
if not allof (exists "date", header :contains "from" "@") {
    discard;
} elsif header :is "to" "undisclosed-recipients:;" {
    fileinto "Bcc";
    keep;
}
