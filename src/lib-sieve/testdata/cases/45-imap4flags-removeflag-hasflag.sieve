require ["imap4flags", "fileinto"];
addflag ["\\Seen", "\\Answered", "$Label1"];
removeflag "\\Answered";
if hasflag :is "$label1" {
    fileinto "Labelled";
}
