require "vacation";
vacation :addresses ["team@example.com", "dev@lists.example.net"] :subject "Away" "Out.";
