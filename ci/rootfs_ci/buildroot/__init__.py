"""Buildroot, driven from outside: the pinned source, its make interface, progress and config checks."""
