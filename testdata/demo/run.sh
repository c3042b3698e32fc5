#!/usr/bin/env bash
# The main job end to end, as `make demo` runs it: a central and a test
# centre's client in temporary homes; master data loaded on central, a QTI
# package published, the client registered; data carried to the client on a
# "USB stick" (a folder), verified and imported; results handed in on the
# client, carried to central on the stick, and central's receipts carried
# back; then the state and history of both sides, and the operator web view
# over the demo central.
#
# Usage: run.sh [--serve] [TAOSYNC_BINARY]   (DEMO_KEEP=1 keeps the temporary folder)
# --serve keeps central serving its API and operator view at the end, until
# Ctrl-C.
set -euo pipefail

serve=
if [ "${1:-}" = --serve ]; then
	serve=1
	shift
fi
taosync=$(realpath "${1:-bin/taosync}")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/taosync-demo.XXXXXX")
if [ "${DEMO_KEEP:-}" = 1 ]; then
	echo "keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi
# Everything happens in the temporary folder, so that the paths printed
# are short: usb-stick/..., not the temporary folder's full path.
cd "$work"
cp "$here"/*.csv "$here"/*.jsonl "$here/../qti/WebDeveloperTest1.zip" .
stick=usb-stick

central() { "$taosync" --home central "$@"; }
client() { "$taosync" --home client "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json_field() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

step "initialise central, and the client of a test centre"
central init --role central --url http://127.0.0.1:8080   # where the centres reach it; here, this machine
client init --role client

step "central: load master data (two organisations, non-ASCII names)"
for t in test-center administrator proctor test-taker delivery eligibility; do
	central central load --type "$t" "$t".*
done

step "central: publish the QTI test package of delivery webdev-1"
central central publish --delivery webdev-1 WebDeveloperTest1.zip

step "central: register the test centre's client (organisation org-1)"
key=$(client keys --json | json_field client_key)
cmd=$(central central client add centre-1 --org org-1 --client-key "$key" --cmd --client-home client)
echo "$cmd"

step "client: import the credentials central printed"
read -r -a words <<<"$cmd"
"$taosync" "${words[@]:1}"

step "central: export the client's data onto the stick"
central export data --client centre-1 --out "$stick"

step "client: verify the stick, preview, then import"
client verify "$stick"
client import --dry-run "$stick"
client import "$stick"
client import "$stick"

step "client: what it now holds"
for t in test-center administrator proctor test-taker delivery eligibility; do
	printf '%-14s %s\n' "$t" "$(client list "$t" --json | wc -l)"
done
client list test-center
client list delivery
client package webdev-1 --out webdev-1.zip
cmp webdev-1.zip WebDeveloperTest1.zip && echo "the package is byte for byte the published ZIP"

step "client: the delivery application hands in results (3 done, 1 active)"
client results add executions.jsonl
client results list

step "client: export the finished results onto the stick"
client export results --out "$stick"

step "central: import the results; the receipts go onto the stick"
central import "$stick"
central results list

step "client: import the receipts from the stick"
client import "$stick"
client results list

step "status of central"
central status
step "status of the client (not ready: only webdev-1 has a package here)"
client status

step "history of central"
central history
step "history of the client"
client history

step "central: an operator account for the web view"
password=demo-operator-password
printf '%s\n' "$password" | central central operator add demo
if [ -n "$serve" ]; then
	step "the operator view: open http://127.0.0.1:8080/ui/; Ctrl-C stops"
	echo "operator demo, password $password"
	central serve --addr 127.0.0.1:8080
else
	step "the operator view of this central: make demo-serve, then"
	echo "open http://127.0.0.1:8080/ui/ (operator demo, password $password)"
fi
