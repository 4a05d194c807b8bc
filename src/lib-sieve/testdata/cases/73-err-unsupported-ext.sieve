require "x-unknown";
