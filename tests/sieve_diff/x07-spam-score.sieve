require ["fileinto", "relational", "comparator-i;ascii-numeric", "variables"];
if header :matches "x-spam-status" "Yes, score=*.*" {
    if string :value "ge" :comparator "i;ascii-numeric" "${1}" "10" {
        discard;
        stop;
    }
    fileinto "Maybe";
}
