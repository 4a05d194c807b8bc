require ["copy"];
if anyof (header :contains "subject" "meeting", address :is "cc" "carol@example.net") {
    redirect :copy "archive@example.net";
}
if size :over 20K {
    redirect "big@example.net";
}
