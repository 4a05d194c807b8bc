require ["variables", "fileinto"];
set :lower "a" "MiXeD";
set :upper "b" "MiXeD";
set :length "c" "hello";
set :quotewildcard "d" "a*b?c";
set :lower :upperfirst "e" "hELLO";
fileinto "${a}-${b}-${c}-${d}-${e}";
