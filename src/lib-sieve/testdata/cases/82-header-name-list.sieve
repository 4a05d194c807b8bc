require "fileinto";
if header :contains ["X-Nothing", "Subject"] "tomorrow" {
    fileinto "Tomorrow";
}
