"""Where toolchains, CUTLASS and images come from, pinned and cached."""
