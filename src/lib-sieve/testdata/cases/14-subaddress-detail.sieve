require ["fileinto", "subaddress"];
if address :detail "to" "sieve" {
    fileinto "Sieve";
}
