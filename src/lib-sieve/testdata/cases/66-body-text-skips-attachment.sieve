require ["body", "fileinto"];
if body :text :contains "banana" {
    fileinto "Banana";
}
