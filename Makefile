# One venv holds the Python tools: moto (the local AWS) for `make local`, and for `make test`
# also the infrastructure checks: cfn-lint, the SAM CLI, checkov, and cargo-lambda with zig
# (what `sam build` cross-compiles the arm64 functions with).
VENV := .venv
PYTHON ?= python3
MOTO := $(VENV)/bin/moto_server
PORT ?= 8228

MOTO_REQUIREMENT := "moto[server]>=5.1,<6"
# Ranges that install together (pip resolves them in one go: ~1.5 minutes on a fresh venv without
# a pip cache). checkov stays on 3.2: a new release can add checks that fail the build.
INFRA_REQUIREMENTS := "cfn-lint>=1.40,<2" "aws-sam-cli>=1.150,<2" "checkov>=3.2.400,<3.3" \
	"cargo-lambda>=1.8,<2" "ziglang>=0.15,<0.18"
# Reinstalled when this Makefile (and so the requirements above) changes.
INFRA_TOOLS := $(VENV)/.infra-tools

TEMPLATE := infra/template.yaml
# The SAM CLI needs a region even offline, and finds cargo-lambda on PATH. No AWS account or
# network access to AWS is needed for validate and build.
SAM := PATH="$(abspath $(VENV))/bin:$$PATH" AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
	$(VENV)/bin/sam

.PHONY: local test check-infra prebuild-functions sam-build bench bench-cold-start bench-cost venv clean

$(MOTO):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet $(MOTO_REQUIREMENT)

$(INFRA_TOOLS): Makefile | $(MOTO)
	$(VENV)/bin/pip install --quiet $(MOTO_REQUIREMENT) $(INFRA_REQUIREMENTS)
	touch $@

venv: $(MOTO) $(INFRA_TOOLS)

## The whole stack on http://127.0.0.1:$(PORT): moto as AWS, the table from the template, the API,
## the collector on its schedule and the stream-driven notifier.
local: $(MOTO)
	MOTO_SERVER=$(abspath $(MOTO)) LOCAL_STACK_PORT=$(PORT) cargo run -p local-stack

## Every test: the infrastructure checks, then unit tests and integration tests against moto.
## The integration tests spread over one moto server per core (tests/src/moto.rs); two tests a
## core keep them busy while each test waits on its server (the integration binary took 494 s
## with one server and a test a core, 372 s like this).
test: check-infra
	MOTO_SERVER=$(abspath $(MOTO)) RUST_TEST_THREADS=$(TEST_THREADS) cargo test --workspace --all-targets

TEST_THREADS ?= $(shell echo $$(( $$(nproc) * 2 )))

## The template: lint, SAM validation, checkov (every finding fixed or skipped in the template
## with a reason), and a `sam build` of every function (arm64, into .aws-sam/build).
check-infra: $(INFRA_TOOLS)
	$(VENV)/bin/cfn-lint $(TEMPLATE)
	$(SAM) validate --lint -t $(TEMPLATE)
	$(VENV)/bin/checkov -f $(TEMPLATE) --framework cloudformation --compact --quiet --skip-download
	$(CHECK_BUILD_PROFILE) $(MAKE) prebuild-functions sam-build

# The check builds every function as SAM does, with the release profile lighter: how hard the
# optimiser works is not what it checks. Fat LTO and one codegen unit link each binary alone (23
# minutes cold on 2 cores against 8 without, with 14 functions; BENCHMARKS.md), and opt-level 0
# compiles the SDKs' and k8s-openapi's generated code fastest. Deploy and measure sizes with `make
# sam-build`, which keeps Cargo.toml's profile.
CHECK_BUILD_PROFILE := CARGO_PROFILE_RELEASE_LTO=off CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
	CARGO_PROFILE_RELEASE_OPT_LEVEL=0

# The functions SAM builds from the workspace root (`CodeUri: ..`), by binary, from the template.
ROOT_FUNCTIONS = $(shell awk '/Binary:/ {bin = $$2} /CodeUri:/ {if ($$2 == "..") print bin}' $(TEMPLATE))

## Every function SAM builds from the workspace root, in one `cargo lambda build` with the command
## SAM runs per function (`--release --arm64`): one cargo keeps both cores busy across all of them
## (SAM's builds one at a time leave one idle while each binary's last crates compile and link),
## and each of SAM's builds then finds its binary built (the features are the same either way).
prebuild-functions: $(INFRA_TOOLS)
	rustup target add aarch64-unknown-linux-gnu
	PATH="$(abspath $(VENV))/bin:$$PATH" cargo lambda build --release --arm64 $(addprefix --bin ,$(ROOT_FUNCTIONS))

## The deployable build: `cargo lambda build --release --arm64 --bin <function>` per function,
## all sharing the workspace target/ directory (CARGO_TARGET_DIR overrides it); `version` is
## built from its own crate directory, so only its own dependencies choose its features.
sam-build: $(INFRA_TOOLS)
	rustup target add aarch64-unknown-linux-gnu
	$(SAM) build -t $(TEMPLATE) --beta-features --no-cached

## CPU benchmarks: parsing and planning a 5,000-container report; deciding a request in the authorizer.
bench:
	cargo bench -p inventory-store --bench ingest
	cargo bench -p inventory-core --bench findings
	cargo bench -p inventory-store --bench response_capacity
	cargo bench -p authorizer --bench authorize

## Dollars per cluster-month for a fleet mix, against moto (the design before content hashes beside it).
## It counts requests and units, not time, so a debug build serves.
bench-cost: $(MOTO)
	MOTO_SERVER=$(abspath $(MOTO)) cargo test -p integration-tests --bench cost -- --bench

## Cold start and size of every function against the floor fixture (x86_64 release builds).
bench-cold-start:
	$(PYTHON) dev/cold-start-floor/measure.py 20

clean:
	rm -rf $(VENV) target .aws-sam
