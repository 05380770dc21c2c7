"""Publishing to OCI registries: target, client, auth, repository API, push, and the embedded registry."""
