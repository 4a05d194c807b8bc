require ["variables", "fileinto"];
if header :matches "List-Id" "*<*.lists.example.org>" {
    fileinto "lists.${2}";
}
