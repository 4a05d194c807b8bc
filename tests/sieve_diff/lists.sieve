require ["fileinto", "variables"];
if exists "list-id" {
    fileinto "Lists";
    stop;
}
