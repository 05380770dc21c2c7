"""Publishing to OCI registries: client, auth, image layout reading, push, and the embedded registry."""
