#!/usr/bin/env bash
# Elasticsearch setup for both Temporal clusters, run once by the elasticsearch-setup service:
# the visibility index template (Temporal's system search attributes and the custom ones it
# pre-allocates), then one visibility index per cluster. Running it again changes nothing.
#   ES_URL              e.g. http://elasticsearch:9200
#   VISIBILITY_INDICES  space-separated index names (the monitored and the copilot cluster's)
set -euo pipefail

: "${ES_URL:?ES_URL is not set}"
: "${VISIBILITY_INDICES:?VISIBILITY_INDICES is not set}"
TEMPLATE_FILE="${VISIBILITY_TEMPLATE_FILE:-/setup/visibility-template.json}"
read -r -a indices <<<"$VISIBILITY_INDICES"

body="$(mktemp)"
template="$(mktemp)"
trap 'rm -f "$body" "$template"' EXIT

# request METHOD PATH [DATA_FILE] -> prints the status code; the response body is in $body.
request() {
  local args=(-sS -o "$body" -w '%{http_code}' -X "$1" "$ES_URL$2")
  if [[ $# -ge 3 ]]; then args+=(-H 'Content-Type: application/json' --data-binary "@$3"); fi
  curl "${args[@]}"
}

patterns="$(printf '"%s",' "${indices[@]}")"
printf '{"index_patterns": [%s], "priority": 100, "template": %s}\n' \
  "${patterns%,}" "$(cat "$TEMPLATE_FILE")" >"$template"

status="$(request PUT /_index_template/temporal_visibility_v1_template "$template")"
if [[ "$status" != 200 ]]; then
  echo "elasticsearch-setup: the index template was refused ($status): $(cat "$body")" >&2
  exit 1
fi
echo "elasticsearch-setup: index template temporal_visibility_v1_template for ${indices[*]}"

for index in "${indices[@]}"; do
  status="$(request PUT "/$index")"
  if [[ "$status" == 200 ]]; then
    echo "elasticsearch-setup: created index $index"
  elif [[ "$status" == 400 ]] && grep -q resource_already_exists_exception "$body"; then
    echo "elasticsearch-setup: index $index exists"
  else
    echo "elasticsearch-setup: creating index $index failed ($status): $(cat "$body")" >&2
    exit 1
  fi
done
echo "elasticsearch-setup: done"
