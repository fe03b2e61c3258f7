# The two commands a newcomer needs (see README.md), and the build step both use.
.PHONY: run test build

run:    ## Build in release mode and serve Berth with the demo snapshot on http://127.0.0.1:3000/
	scripts/run.sh

test:   ## Run every test: fmt, clippy, unit, integration (real Incus), end-to-end (Chromium)
	scripts/test.sh

build:  ## Debug build of the site and the berth binary
	scripts/setup.sh build
	scripts/build.sh
