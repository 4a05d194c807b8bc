require "fileinto";
if header :is "Subject" "Meeting" {
    fileinto "Meetings";
}
