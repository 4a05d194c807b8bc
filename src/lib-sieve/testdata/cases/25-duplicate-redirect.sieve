redirect "x@example.com";
redirect "X@example.com";
