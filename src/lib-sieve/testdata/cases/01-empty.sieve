# an empty script keeps
