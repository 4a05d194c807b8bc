require ["include", "fileinto"];
include :personal "lists";
if header :contains "subject" "money" {
    fileinto "Money";
}
