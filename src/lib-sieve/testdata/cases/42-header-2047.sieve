require "fileinto";
if header :contains "subject" "Résumé" {
    fileinto "Decoded";
}
