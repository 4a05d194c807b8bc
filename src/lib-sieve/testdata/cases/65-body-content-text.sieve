require ["body", "fileinto"];
if body :content "text" :contains "pineapple" {
    fileinto "Fruit";
}
