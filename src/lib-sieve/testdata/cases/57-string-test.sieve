require ["variables", "fileinto"];
set "a" "hello world";
if string :contains "${a}" "world" {
    fileinto "World";
}
