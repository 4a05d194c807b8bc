require "fileinto";
if size :over 100K {
    fileinto "Big";
} elsif size :under 2000 {
    fileinto "Small";
}
