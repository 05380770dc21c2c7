"""What changed in an image: files, packages, sizes and config between two builds (``invoke diff``).

Sources (diff.sources), file trees streamed from the layers (diff.tree), SBOM packages
(diff.packages), the comparison (diff.compare) and the renderers (diff.render).
"""

from rootfs_ci.diff.model import DiffReport
from rootfs_ci.diff.render import FORMATS, RENDERERS
from rootfs_ci.diff.run import diff_image

__all__ = ["FORMATS", "RENDERERS", "DiffReport", "diff_image"]
