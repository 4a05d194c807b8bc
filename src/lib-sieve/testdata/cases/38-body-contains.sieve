require ["body", "fileinto"];
if body :contains "budget" {
    fileinto "Budget";
}
