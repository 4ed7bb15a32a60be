#!/bin/sh
# kit reduce (static): exit 0 while host.ii is interesting
export PYTHONPATH="${KIT_ROOT:-.}"  # the folder holding kit
g++ -std=c++17 -c -x c++ -w -m64 host.ii -o host.o > build.log 2>&1 || exit 1
exec python3 -m kit.engine.oracles static host.o
