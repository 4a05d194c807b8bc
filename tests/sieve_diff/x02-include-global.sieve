require ["include", "variables", "fileinto"];
global "verdict";
include :global "spamcheck";
if string :is "${verdict}" "spam" {
    fileinto "Junk";
}
