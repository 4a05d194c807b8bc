require "fileinto";
if header :contains "x-spam-flag" "yes" {
    discard;
    stop;
}
fileinto "Unreached";
