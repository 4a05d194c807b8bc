require ["envelope", "fileinto", "subaddress"];
if size :under 600 {
    fileinto "Small";
}
if envelope :localpart :is "from" ["dave", "erin"] {
    fileinto "DE";
}
if envelope :detail "to" "lists" {
    fileinto "Detail";
}
