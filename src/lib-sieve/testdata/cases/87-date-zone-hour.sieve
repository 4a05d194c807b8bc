require ["date", "variables", "fileinto"];
if date :zone "-0500" :matches "date" "time" "*:*:*" {
    fileinto "h${1}";
}
