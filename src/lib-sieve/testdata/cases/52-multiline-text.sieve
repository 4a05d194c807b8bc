require "reject";
reject text:
Sorry,
..this line started with a dot.
.
;
