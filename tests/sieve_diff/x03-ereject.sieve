require ["ereject"];
if header :contains "x-spam-status" "Yes" {
    ereject "spam refused";
}
