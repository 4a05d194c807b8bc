require ["include", "variables"];
global "verdict";
if header :contains "x-spam-status" "Yes" {
    set "verdict" "spam";
}
