require ["vacation", "variables"];
if header :matches "subject" "*" {
    set "s" "${1}";
}
vacation :days 2 :from "Alice <alice@example.test>" :subject "Re: ${s}" "Away until Monday.";
