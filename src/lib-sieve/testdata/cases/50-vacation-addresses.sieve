require "vacation";
vacation :addresses ["carol+sieve@example.net"] "Carol is away.";
