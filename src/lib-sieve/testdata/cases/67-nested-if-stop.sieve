require "fileinto";
if header :contains "from" "example.org" {
    if header :contains "subject" "meeting" {
        fileinto "Org/Meetings";
        stop;
    }
    fileinto "Org";
}
fileinto "Never";
