# One command each for a fresh machine: `make demo` and `make test` (the README's two commands).
# Both build the project's own virtualenv (.venv) from uv.lock first: see deploy/bootstrap.sh.
.PHONY: demo test venv lock services-up services-down

demo: venv
	.venv/bin/newsflow demo

venv:
	bash deploy/bootstrap.sh

test:
	bash tests/run.sh

lock:
	bash deploy/bootstrap.sh --lock

services-up:
	bash deploy/local/services.sh up

services-down:
	bash deploy/local/services.sh down
