"""Image tags from a git ref and commit, with docker/metadata-action's rule syntax and semantics.

Rules are metadata-action ``tags`` lines (``type=semver,pattern={{major}}.{{minor}}``), flavor lines
are its ``flavor`` lines (``latest=auto``, ``prefix=x-,onlatest=true``). The results are the ones
metadata-action gives for the same ref and commit (tests/data/tag_vectors.yaml was checked against
it), except that rootfs-ci refuses what metadata-action lets through: an unknown key, an unsupported
type or expression (metadata-action ignores them or renders them empty), a ref that is not a full
``refs/...`` name, and a result that is not a valid image tag; and it never lists a tag twice
(metadata-action can list ``latest`` twice).
"""

from rootfs_ci.tags.compute import check_ref, compute_tags, sanitize_tag
from rootfs_ci.tags.refs import current_ref, current_sha
from rootfs_ci.tags.rules import (
    COMMON_KEYS,
    DEFAULT_PRIORITY,
    EMPTY_RULES,
    GLOBAL_EXPRESSIONS,
    PATTERN_EXPRESSIONS,
    REF_EVENTS,
    SHA_FORMATS,
    SHORT_SHA_LENGTH,
    TYPE_KEYS,
    TYPES,
    UNSUPPORTED_EXPRESSIONS,
    UNSUPPORTED_TYPES,
    Flavor,
    Rule,
    parse_flavor,
    parse_rule,
    parse_rules,
)

__all__ = [
    "COMMON_KEYS",
    "DEFAULT_PRIORITY",
    "EMPTY_RULES",
    "GLOBAL_EXPRESSIONS",
    "PATTERN_EXPRESSIONS",
    "REF_EVENTS",
    "SHA_FORMATS",
    "SHORT_SHA_LENGTH",
    "TYPES",
    "TYPE_KEYS",
    "UNSUPPORTED_EXPRESSIONS",
    "UNSUPPORTED_TYPES",
    "Flavor",
    "Rule",
    "check_ref",
    "compute_tags",
    "current_ref",
    "current_sha",
    "parse_flavor",
    "parse_rule",
    "parse_rules",
    "sanitize_tag",
]
