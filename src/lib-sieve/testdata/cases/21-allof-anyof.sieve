require "fileinto";
if allof (header :contains "from" "alice", anyof (false, header :contains "to" "bob")) {
    fileinto "Both";
}
