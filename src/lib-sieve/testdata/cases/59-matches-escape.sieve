require "fileinto";
if header :matches "subject" "*\\[project-x\\]" {
    fileinto "Escaped";
}
