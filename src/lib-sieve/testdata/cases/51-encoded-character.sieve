require ["encoded-character", "fileinto"];
fileinto "${hex:49 4E 42 4f 58}.${unicode:263A}";
