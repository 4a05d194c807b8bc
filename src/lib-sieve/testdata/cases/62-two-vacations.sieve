require "vacation";
vacation :handle "a" "one";
vacation :handle "b" "two";
