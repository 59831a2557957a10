#!/usr/bin/env bash
# Fails (exit 1) when a tracked text file cites a numbered section of a document that is
# not in the repository: a `§` sign, "spec 3.2", "spec behaviour 12", "specification item 4",
# or a test named after such a number (`item27_…`, `b31_…`, `…_spec_section_9`).
#
# Cite instead a heading of docs/ (`docs/wire-formats.md#w3c-traceparent`) or the external
# standard by URL and section title (W3C Trace Context, W3C Baggage, OTLP, RFCs, AWS).
# Name a test after the behaviour it pins. Prints every offending line as FILE:LINE:TEXT,
# then the count per file. Binary files (fixtures) are skipped.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

# One alternative per kind of citation; keep them narrow so RFC numbers, URLs, hex ids and
# names such as `b64_len` never match.
patterns=(
  '§'                                                                   # any section sign
  '\b[Ss]pec(ification)?s?\s+[0-9]'                                     # spec 3.2, specification 4
  '\b[Ss]pec(ification)?s?\s+(behaviou?rs?|items?|sections?|clauses?|rows?|steps?)\s+[0-9]'
  '\b[Ss]pec(ification)?\s+(behaviou?r|item|section)\s*[0-9]'
  '_spec_(section|item|behaviou?r)_?[0-9]'                              # test names
  '\bfn\s+(item|b)[0-9]+_'                                              # item27_…, b31_…
  '\bitem[0-9]+_[a-z]'                                                  # item27_… anywhere
)
regex=$(IFS='|'; echo "${patterns[*]}")

self='scripts/check-citations.sh'
hits=$(git ls-files -z -- ':!'"$self" | xargs -0 grep -nIE -- "$regex" || true)

if [[ -z "$hits" ]]; then
  echo "check-citations: no numbered citation of an outside document"
  exit 0
fi

echo "$hits"
echo
echo "check-citations: numbered citations of documents that are not in the repository:"
echo "$hits" | cut -d: -f1 | sort | uniq -c | sort -rn
total=$(echo "$hits" | wc -l)
echo "check-citations: $total offending line(s); cite docs/ anchors or the external standard instead"
exit 1
