require "reject";
discard;
reject "Rejected, not discarded.";
