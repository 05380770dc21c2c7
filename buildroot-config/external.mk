# Package recipes of this BR2_EXTERNAL tree (none yet), the way Buildroot's manual lays them out.
include $(sort $(wildcard $(BR2_EXTERNAL_ROOTFS_CI_PATH)/package/*/*.mk))
