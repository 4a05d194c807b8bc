require "fileinto";
if exists ["From", "X-Absent"] {
    fileinto "Both";
}
