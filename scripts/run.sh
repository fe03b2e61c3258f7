#!/usr/bin/env bash
# Build Berth in release mode (installing what is missing) and run it with the demo snapshot.
# Arguments go to `berth serve`; defaults: 127.0.0.1:3000, data in ./berth-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh release
scripts/build.sh --release
exec target/release/berth serve --demo "$@"
