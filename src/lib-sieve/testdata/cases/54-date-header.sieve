require ["date", "relational", "fileinto"];
if date :value "ge" :originalzone "date" "date" "2024-05-14" {
    fileinto "Recent";
}
