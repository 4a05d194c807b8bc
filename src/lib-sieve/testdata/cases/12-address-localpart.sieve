require "fileinto";
if address :localpart :is "to" "bob" {
    fileinto "ToBob";
}
