require ["regex", "fileinto", "variables", "encoded-character"];
if header :regex "subject" "^([A-Za-z]+) ([a-z]+)" {
    fileinto "${unicode:52}x-${1}";
}
