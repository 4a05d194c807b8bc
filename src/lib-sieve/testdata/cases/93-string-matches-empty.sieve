require ["variables", "fileinto"];
set "empty" "";
if string :is "${empty}" "" {
    fileinto "Empty";
}
