#!/bin/sh
# Single sign-on end to end against a real OpenID provider: installs the pinned provider and runs
# ceir's OIDC test, which fails (rather than skips) when anything is missing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
npm ci --no-audit --no-fund
cd "$here/../.."
CEIR_REQUIRE_OIDC=1 cargo test -p ceir-http --test oidc -- --nocapture
