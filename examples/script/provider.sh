#!/usr/bin/env bash
# A script provider for destilation-script in pure bash (no jq): see destilation_script/PROTOCOL.md.
#
# It relies on what the parent guarantees: one compact JSON object per line, ASCII only, with
# "type" first and "id" second, so a regular expression can route each line. It answers the
# `simple` template's schema (question and answer) from the prompt's "Topic:" line and the
# request's seed, so the answers are deterministic and distinct per task.
#   printf '%s\n' '{"type":"hello","protocol":1}' | bash examples/script/provider.sh
set -u

send() { printf '%s\n' "$1"; }

send '{"type":"hello","protocol":1,"name":"bash-provider","models":["bash-1"],"capabilities":["json_schema"]}'

route='^\{"type":"([a-z_]+)"(,"id":([0-9]+))?'
while IFS= read -r line || [ -n "$line" ]; do
  [[ $line =~ $route ]] || { printf 'not a protocol line: %.80s\n' "$line" >&2; continue; }
  type=${BASH_REMATCH[1]}
  id=${BASH_REMATCH[3]}
  [ "$type" = generate ] || continue
  # The topic as it stands inside the JSON string: plain characters and \uXXXX escapes (the
  # parent writes ASCII), stopping at any other escape, so it stays valid inside our JSON too.
  topic="a topic of your choice"
  if [[ $line =~ Topic:\ (([^\\\"]|\\u[0-9a-fA-F]{4})+) ]]; then topic=${BASH_REMATCH[1]}; fi
  seed=none
  if [[ $line =~ \"seed\":(-?[0-9]+) ]]; then seed=${BASH_REMATCH[1]}; fi
  question="What is the most important idea of ${topic} (case ${seed})?"
  answer="The most important idea of ${topic} is explained here, case ${seed}."
  # content is a JSON string holding JSON text: its quotes are escaped once more.
  content="{\\\"question\\\": \\\"${question}\\\", \\\"answer\\\": \\\"${answer}\\\"}"
  send "{\"type\":\"result\",\"id\":${id},\"content\":\"${content}\",\"model\":\"bash-1\",\"finish_reason\":\"stop\"}"
done
