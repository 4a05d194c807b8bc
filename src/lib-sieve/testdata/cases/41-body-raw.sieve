require ["body", "fileinto"];
if body :raw :contains "r=C3=A9sum=C3=A9" {
    fileinto "Raw";
}
