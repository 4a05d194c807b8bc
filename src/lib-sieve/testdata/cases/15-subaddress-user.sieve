require ["fileinto", "subaddress"];
if address :user :is "to" "carol" {
    fileinto "Carol";
}
