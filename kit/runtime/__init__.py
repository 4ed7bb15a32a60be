"""Where cells are compiled and run. Every runtime has the same interface (base.Runtime)."""
