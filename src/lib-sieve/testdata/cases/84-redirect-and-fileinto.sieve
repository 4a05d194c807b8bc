require "fileinto";
redirect "backup@example.net";
fileinto "Saved";
