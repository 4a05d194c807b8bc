require ["regex", "variables", "fileinto"];
if header :regex "Subject" "^\\[([a-z]+)\\] Release ([0-9.]+)" {
    fileinto "rel-${1}-${2}";
}
