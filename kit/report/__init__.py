"""Reports read results; they never run anything."""
