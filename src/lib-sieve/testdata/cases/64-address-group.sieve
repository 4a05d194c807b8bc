require "fileinto";
if address :all :contains "to" "@" {
    fileinto "HasTo";
}
