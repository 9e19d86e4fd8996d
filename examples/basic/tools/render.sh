#!/bin/sh
# render.sh TEMPLATE KEY=FILE...: replaces each @KEY@ line of TEMPLATE with FILE's content.
set -eu
template=$1
shift
awk -v pairs="$*" '
  BEGIN { n = split(pairs, kv, " "); for (i = 1; i <= n; i++) { split(kv[i], p, "="); file[p[1]] = p[2] } }
  /^@[A-Z_]+@$/ {
    key = substr($0, 2, length($0) - 2)
    if (!(key in file)) { print "render.sh: no value for @" key "@" > "/dev/stderr"; exit 1 }
    while ((getline line < file[key]) > 0) print line
    close(file[key])
    next
  }
  { print }
' "$template"
