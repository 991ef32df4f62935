"""Registry scanner tests: the OCI adapter against real and scripted registries."""
