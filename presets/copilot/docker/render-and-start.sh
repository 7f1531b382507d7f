#!/usr/bin/env bash
# Entrypoint of temporal-dsql-runtime: renders the Temporal server config from the environment
# (Python's string.Template), refuses to start when a required variable is missing or a
# placeholder of the template has no value, then hands over to the base image's entrypoint with
# the container's arguments.
#
# Overridable (the defaults are the image's paths):
#   TEMPORAL_PERSISTENCE_TEMPLATE  the template       (/etc/temporal/config/persistence-dsql-elasticsearch.template.yaml)
#   TEMPORAL_PERSISTENCE_CONFIG    the rendered file  (/etc/temporal/config/persistence-dsql.yaml)
#   TEMPORAL_BASE_ENTRYPOINT       what is exec'd     (/etc/temporal/entrypoint.sh)
set -euo pipefail

TEMPLATE="${TEMPORAL_PERSISTENCE_TEMPLATE:-/etc/temporal/config/persistence-dsql-elasticsearch.template.yaml}"
OUTPUT="${TEMPORAL_PERSISTENCE_CONFIG:-/etc/temporal/config/persistence-dsql.yaml}"
BASE_ENTRYPOINT="${TEMPORAL_BASE_ENTRYPOINT:-/etc/temporal/entrypoint.sh}"

# Every TEMPORAL_SQL_*, TEMPORAL_ELASTICSEARCH_* and TEMPORAL_HISTORY_SHARDS the template uses.
REQUIRED_VARS=(
  TEMPORAL_SQL_HOST
  TEMPORAL_SQL_PORT
  TEMPORAL_SQL_USER
  TEMPORAL_SQL_DATABASE
  TEMPORAL_SQL_PLUGIN_NAME
  TEMPORAL_SQL_MAX_CONNS
  TEMPORAL_SQL_MAX_IDLE_CONNS
  TEMPORAL_SQL_MAX_CONN_LIFETIME
  TEMPORAL_SQL_CONNECTION_TIMEOUT
  TEMPORAL_SQL_TLS_ENABLED
  TEMPORAL_ELASTICSEARCH_VERSION
  TEMPORAL_ELASTICSEARCH_SCHEME
  TEMPORAL_ELASTICSEARCH_HOST
  TEMPORAL_ELASTICSEARCH_PORT
  TEMPORAL_ELASTICSEARCH_INDEX
  TEMPORAL_HISTORY_SHARDS
)

# The template's other placeholders have defaults.
export TEMPORAL_LOG_LEVEL="${TEMPORAL_LOG_LEVEL:-info}"
export TEMPORAL_FRONTEND_ADDRESS="${TEMPORAL_FRONTEND_ADDRESS:-temporal-frontend:7233}"

missing=()
for var in "${REQUIRED_VARS[@]}"; do
  if [[ -z "${!var:-}" ]]; then
    missing+=("$var")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "render-and-start: missing required environment variables:" >&2
  printf '  - %s\n' "${missing[@]}" >&2
  exit 1
fi

if [[ ! -f "$TEMPLATE" ]]; then
  echo "render-and-start: template not found: $TEMPLATE" >&2
  exit 1
fi

# The check reads the template's placeholders, not the output: a value may itself hold a "$".
python3 - "$TEMPLATE" "$OUTPUT" <<'PY'
import os
import sys
from string import Template

template_path, output_path = sys.argv[1], sys.argv[2]
with open(template_path) as f:
    text = f.read()
template = Template(text)

unset, invalid = [], []
for m in template.pattern.finditer(text):
    name = m.group("named") or m.group("braced")
    if name is not None:
        if name not in os.environ and name not in unset:
            unset.append(name)
    elif m.group("invalid") is not None:
        invalid.append(text.count("\n", 0, m.start()) + 1)

if unset or invalid:
    if unset:
        print("render-and-start: unsubstituted variables in " + template_path + ":", file=sys.stderr)
        for name in unset:
            print("  - " + name, file=sys.stderr)
    for line in invalid:
        print(f"render-and-start: {template_path}:{line}: a '$' that starts no placeholder "
              "(write $$ for a literal dollar)", file=sys.stderr)
    sys.exit(1)

rendered = template.substitute(os.environ)
tmp = output_path + ".tmp"
with open(tmp, "w") as f:
    f.write(rendered)
os.replace(tmp, output_path)
PY

echo "render-and-start: rendered $OUTPUT"

if [[ ! -x "$BASE_ENTRYPOINT" ]] && ! command -v "$BASE_ENTRYPOINT" >/dev/null 2>&1; then
  echo "render-and-start: base entrypoint not found: $BASE_ENTRYPOINT" >&2
  exit 1
fi
exec "$BASE_ENTRYPOINT" "$@"
