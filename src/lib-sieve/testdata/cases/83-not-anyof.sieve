require "fileinto";
if not anyof (header :contains "subject" "lottery", size :over 1M) {
    fileinto "Fine";
}
