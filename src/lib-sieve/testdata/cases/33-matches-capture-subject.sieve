require ["variables", "fileinto"];
if header :matches "Subject" "[*] *" {
    fileinto "${1}";
}
