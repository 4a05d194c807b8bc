require ["variables", "fileinto"];
set "folder" "Lists";
set :upperfirst "sub" "archive";
fileinto "${folder}.${sub}";
