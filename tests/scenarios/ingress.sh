# shellcheck shell=bash
# ingress: `realserver up --ingress` limits the map-mode rule to the interfaces the directors'
# packets come in on (issue 22); the cases are ingress.d/cases.sh's.
set -u
# shellcheck source=ingress.d/cases.sh
source "$(dirname "$0")/ingress.d/cases.sh"
ingress_cases
exit 0
