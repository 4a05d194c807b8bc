require ["variables", "fileinto"];
if anyof (header :matches "from" "*@example.org>", header :matches "to" "no*") {
    fileinto "${1}";
}
