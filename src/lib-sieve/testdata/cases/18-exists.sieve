require "fileinto";
if exists ["X-Spam-Flag", "X-Spam-Score"] {
    fileinto "Junk";
}
