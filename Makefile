# One command each for a fresh machine: `make demo` and `make test`.
.PHONY: demo test services-up services-down

demo:
	python3 -m pip install --quiet -e . && newsflow demo

test:
	bash tests/run.sh

services-up:
	bash deploy/local/services.sh up

services-down:
	bash deploy/local/services.sh down
