"""Faults and hostile input, each repeated: conveyor as separate worker processes on a real
redis-server, registry and bare repository, killed, restarted and fed what an attacker or a
broken part would send. Each test prints a summary line (``pytest -s``): the README's
"Reliability" figures."""
