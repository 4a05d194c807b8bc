require ["date", "relational", "variables", "fileinto"];
if currentdate :zone "+0000" :matches "date" "*-*-*" {
    fileinto "${1}-${2}";
}
