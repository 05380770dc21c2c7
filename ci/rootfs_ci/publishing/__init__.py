"""Publishing: what may be released (policy), publish, verify, and the multi-arch image index.

policy: only the smoke-tested digest is pushed, version tags never move, tags from the git ref.
publish: push dist/IMAGE/ARCH/image.tar (by tag, or by digest for a multi-arch release).
verify: pull a published tag back and smoke it again.
multiarch: merge the per-architecture digests into one tagged multi-arch image index.
"""
