/* unterminated
keep;
