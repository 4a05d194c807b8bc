require ["imap4flags", "variables", "fileinto", "relational", "comparator-i;ascii-numeric"];
set "f" "\\Seen";
if header :contains "subject" "re:" {
    addflag "f" "\\Answered";
}
addflag "f" "$Done";
if hasflag :count "ge" :comparator "i;ascii-numeric" "f" "3" {
    fileinto :flags "${f}" "Three";
} else {
    keep :flags "f";
}
