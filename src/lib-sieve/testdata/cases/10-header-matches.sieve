require "fileinto";
if header :matches "Subject" "*[project-?]*" {
    fileinto "Projects";
} else {
    discard;
}
