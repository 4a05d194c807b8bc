require "fileinto";
if address :all :is ["to", "cc"] "dave@example.com" {
    fileinto "Dave";
}
