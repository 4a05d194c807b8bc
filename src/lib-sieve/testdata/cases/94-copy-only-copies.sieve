require ["fileinto", "copy"];
fileinto :copy "A";
redirect :copy "b@example.com";
