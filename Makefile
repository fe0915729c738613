# One venv holds the Python tools: moto (the local AWS) and cfn-lint.
VENV := .venv
PYTHON ?= python3
MOTO := $(VENV)/bin/moto_server
PORT ?= 8228

.PHONY: local test bench venv clean

$(MOTO):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "moto[server]>=5.1,<6" "cfn-lint>=1,<2"

venv: $(MOTO)

## The whole stack on http://127.0.0.1:$(PORT): moto as AWS, the table from the template, the API,
## the collector on its schedule and the stream-driven notifier.
local: $(MOTO)
	MOTO_SERVER=$(abspath $(MOTO)) LOCAL_STACK_PORT=$(PORT) cargo run -p local-stack

## Every test: template lint, unit tests, and integration tests against moto.
test: $(MOTO)
	$(VENV)/bin/cfn-lint infra/template.yaml
	MOTO_SERVER=$(abspath $(MOTO)) cargo test --workspace --all-targets

## CPU benchmark of parsing and planning a 5,000-container report.
bench:
	cargo bench -p inventory --bench ingest

clean:
	rm -rf $(VENV) target
