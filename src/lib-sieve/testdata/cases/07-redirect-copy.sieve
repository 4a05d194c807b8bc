require "copy";
redirect :copy "boss@example.com";
