"""rootfs-ci: Buildroot defconfig + rootfs overlay -> tested, versioned container images."""

__version__ = "0.1.0"
