require ["envelope", "fileinto"];
if envelope :domain :is "from" "EXAMPLE.ORG" {
    fileinto "Domain";
}
