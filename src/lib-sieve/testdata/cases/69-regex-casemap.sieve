require ["regex", "fileinto"];
if header :regex "subject" "^MEETING.*X\\]$" {
    fileinto "Regex";
}
