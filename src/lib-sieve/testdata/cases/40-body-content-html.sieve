require ["body", "fileinto"];
if body :content "text/html" :contains "<b>resume</b>" {
    fileinto "Html";
}
