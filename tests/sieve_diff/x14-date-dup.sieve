require ["date", "relational", "fileinto", "duplicate"];
if duplicate :header "message-id" {
    fileinto "Dups";
}
if currentdate :value "ge" "year" "2024" {
    if date :value "lt" "date" "year" "2020" {
        fileinto "Old";
    }
}
