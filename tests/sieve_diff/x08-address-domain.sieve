require "fileinto";
if address :domain :is "from" "example.org" {
    fileinto "Org";
} elsif address :localpart :matches ["to", "cc"] "dev*" {
    fileinto "Dev";
}
