require "fileinto";
if header :is "X-Priority" "3" {
    fileinto "Normal";
} elsif header :is "X-Priority" "1" {
    fileinto "Urgent";
} else {
    fileinto "Other";
}
