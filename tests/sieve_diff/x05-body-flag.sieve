require ["body", "imap4flags", "fileinto"];
if body :contains "money" {
    addflag "\\Flagged";
    addflag "$Money";
}
if body :text :contains "REPORT" {
    fileinto "Reports";
}
