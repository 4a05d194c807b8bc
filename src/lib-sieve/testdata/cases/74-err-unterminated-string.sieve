if header :is "subject" "foo {
  keep;
}
