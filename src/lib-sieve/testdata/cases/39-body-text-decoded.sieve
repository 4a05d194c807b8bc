require ["body", "fileinto"];
if body :text :contains "résumé" {
    fileinto "CV";
}
