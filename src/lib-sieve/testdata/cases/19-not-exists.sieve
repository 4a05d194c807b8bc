require "fileinto";
if not exists "X-Spam-Flag" {
    fileinto "Clean";
}
