require ["date", "fileinto"];
if date :zone "+0000" "date" "weekday" "2" {
    fileinto "Tuesday";
}
