#!/bin/sh
# Bring back files dropped from docs/results/ (training states, study databases, chart pages) from
# git history, each from the commit dropped.txt names (its final content), into the working tree
# (not staged: .gitignore keeps them out of a commit). From the repository root of a git clone:
#   sh docs/results/restore-dropped.sh                      # all of them (about 47 MB)
#   sh docs/results/restore-dropped.sh t3-d1 s-lwsr16-3c39  # those whose path contains a pattern
set -e
grep -v '^#' docs/results/dropped.txt | while read -r commit path bytes; do
  if [ $# -gt 0 ]; then
    hit=
    for pattern in "$@"; do case "$path" in *"$pattern"*) hit=1 ;; esac; done
    [ -n "$hit" ] || continue
  fi
  mkdir -p "$(dirname "$path")"
  git show "$commit:$path" > "$path"
  echo "restored $path ($bytes bytes, from $commit)"
done
