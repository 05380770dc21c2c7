"""Attestations: the SBOM and the SLSA provenance of a pushed image, as OCI artifacts referring to it."""
