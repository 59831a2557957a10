#!/usr/bin/env bash
# Fails (exit 1) when the repository cites a document that a reader cannot open:
#
# 1. A tracked text file cites a numbered section of a document that is not in the
#    repository: a section sign before a number (`§3`, `§ 10`), "spec 3.2", "spec
#    behaviour 12", "specification item 4", "section 9 of the spec", or a name built from
#    such a number (`item27_…`, `…_spec_section_9`).
# 2. A test (`#[test]`, `#[tokio::test]`, …) is named after a number instead of the
#    behaviour it pins (`fn item27_…`, `fn b31_…`, `fn behaviour_12`).
# 3. A link to docs/ names a page or an anchor that does not exist
#    (scripts/check-doc-anchors.py, GitHub's anchor rules).
#
# Cite instead a heading of docs/ (`docs/wire-formats.md#w3c-traceparent`) or the external
# standard by URL and section title (W3C Trace Context, W3C Baggage, OTLP, RFCs, AWS).
# Prints every offending line as FILE:LINE:TEXT, then the count per file.
#
# Not flagged, on purpose: RFC and other standard numbers ("RFC 6455, section 4.2.2" names
# a document anyone can open), version numbers ("specification 1.40.0", `+spec-1.1.0`),
# anything inside a URL (a URL is a citation one can open, even with a `§` in its
# fragment), a `§` not followed by a number, and names such as `b64_len`. Test data is not
# scanned: binary files, Cargo.lock, and the fixture, vector, snapshot and regression
# files under tests/ and fuzz/.
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

# One alternative per kind of citation; keep them narrow.
# A section number: 3, 3.2 or 1–2, optionally ending a sentence; never a version (1.1.0).
num='[0-9]+(\.[0-9]+)?([–-][0-9]+)?\.?([^.0-9]|$)'
patterns=(
  '§[[:space:]]*[0-9]'                                                   # §3, § 10, §1–2
  "\\b[Ss]pec(ification)?'?s?[[:space:]]+$num"                           # spec 3.2, spec 10
  '\b[Ss]pec(ification)?s?[[:space:]]+(behaviou?rs?|items?|sections?|clauses?|rows?|steps?)[[:space:]]*[0-9]'
  '\b(behaviou?rs?|items?|sections?|clauses?)[[:space:]]+[0-9][0-9.]*[[:space:]]+of[[:space:]]+the[[:space:]]+spec'
  '_spec_(section|item|behaviou?r)_?[0-9]'                               # names
  '\bitem[0-9]+_[a-z]'                                                   # item27_… anywhere
)
regex=$(IFS='|'; echo "${patterns[*]}")

# Tracked files minus this script and test data.
files() {
  git ls-files -z -- "${@:-.}" \
    ':!scripts/check-citations.sh' ':!Cargo.lock' \
    ':!**/tests/fixtures/**' ':!**/tests/vectors/**' ':!**/tests/snapshots/**' \
    ':!**/proptest-regressions/**' ':!fuzz/corpus/**' ':!fuzz/artifacts/**'
}

# Stage 1: candidate lines. Stage 2: the same patterns on the line with its URLs removed,
# so a URL never makes a line fail.
candidates=$(files | xargs -0 grep -nIE -- "$regex" || true)
hits=""
if [[ -n "$candidates" ]]; then
  while IFS= read -r line; do
    text=${line#*:}
    text=${text#*:}
    stripped=$(printf '%s\n' "$text" | sed -E 's#[A-Za-z][A-Za-z0-9+.-]*://[^[:space:]<>"`)]*##g')
    if printf '%s\n' "$stripped" | grep -qE -- "$regex"; then
      hits+="$line"$'\n'
    fi
  done <<<"$candidates"
fi

# Test functions named after a number: the first `fn` after a test attribute
# (`#[test]`, `#[tokio::test(...)]`, other attributes and comments in between). Names of
# base-N encodings (`b64_…`, `b32_…`) are names, not numbers.
tests=$(files '*.rs' | xargs -0 awk '
  FNR == 1 { pending = 0 }
  /^[ \t]*#\[([a-z_]+::)*test([]( ]|$)/ { pending = 1; next }
  pending && /^[ \t]*(pub[ \t]+)?(async[ \t]+)?fn[ \t]/ {
    name = $0
    sub(/^[ \t]*(pub[ \t]+)?(async[ \t]+)?fn[ \t]+/, "", name)
    if (name ~ /^(item|b|behaviou?r|spec|req|case|t)_?[0-9]+(_|\(|<|$)/ &&
        name !~ /^b(16|32|36|58|62|64|85)_/)
      print FILENAME ":" FNR ":" $0
    pending = 0
    next
  }
  pending && !/^[ \t]*(#\[|\/\/|$)/ { pending = 0 }
')
if [[ -n "$tests" ]]; then
  hits+="$tests"$'\n'
fi
hits=$(printf '%s' "$hits" | sed '/^$/d' | sort -u -t: -k1,1 -k2,2n)

status=0
if [[ -z "$hits" ]]; then
  echo "check-citations: no numbered citation of an outside document"
else
  echo "$hits"
  echo
  echo "check-citations: numbered citations of documents that are not in the repository:"
  echo "$hits" | cut -d: -f1 | sort | uniq -c | sort -rn
  total=$(echo "$hits" | wc -l)
  echo "check-citations: $total offending line(s); cite docs/ anchors or the external standard instead, and name tests after the behaviour they pin"
  status=1
fi

python3 scripts/check-doc-anchors.py || status=1
exit "$status"
