require "fileinto";
if header :is :comparator "i;octet" "subject" "meeting tomorrow about [project-x]" {
    fileinto "Wrong";
} elsif header :is :comparator "i;ascii-casemap" "subject" "meeting tomorrow about [project-x]" {
    fileinto "Right";
}
