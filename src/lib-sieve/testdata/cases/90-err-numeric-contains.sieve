require ["comparator-i;ascii-numeric"];
if header :contains :comparator "i;ascii-numeric" "x-spam-score" "1" { keep; }
