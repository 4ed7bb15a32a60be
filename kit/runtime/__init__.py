"""Where and how a cell compiles and runs: host, Docker, Ray; nvcc lines, python launchers."""
