require ["envelope", "fileinto", "subaddress"];
if envelope :detail "to" "lists" {
    fileinto "Lists";
}
