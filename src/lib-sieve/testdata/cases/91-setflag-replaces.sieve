require "imap4flags";
addflag "\\Seen";
setflag "\\Answered";
keep;
