#!/usr/bin/env bash
# Device call (issues 18, 20, 21), host runtime:
#  - the baseline preset's SM12x cells (compiled on the CPU machine in kit's Docker images,
#    nvcc 13.0 / 13.5) run --from their pack: this GPU's honest outcome for them;
#  - the build-structure preset's SM90 cells (compiled and predicted on the CPU machine, nvcc
#    13.0.88 + g++ 12.2.0) run --from their pack, to score the predictions;
#  - the reduced alias-split program (no CUTLASS) and its twin: binaries from the CPU machine,
#    then compiled here with this machine's nvcc and g++ by `kit repro run`.
set -u
export KIT_CACHE=/tmp/kitcache PYTHONUNBUFFERED=1 PYTHONPATH=$PWD:/tmp/site
export PIP_NO_INDEX=1 PIP_FIND_LINKS=$PWD/.carry/cutlass
python3 -m pip install -q --no-index --no-deps --target /tmp/site .carry/base/*.whl
nvidia-smi --query-gpu=name,driver_version --format=csv | tee $OUT/gpu.txt
for p in dk-baseline bs-sm90; do
  t0=$(date +%s)
  python3 -m kit matrix run --from .carry/packs-host/$p.kitpack.tar.gz --runtime host \
    --results $PWD/res-$p > $OUT/$p.txt 2>&1
  echo "$p: rc=$? $(( $(date +%s) - t0 )) s"; tail -3 $OUT/$p.txt
  tar czf $OUT/$p.tgz -C res-$p "$(basename "$(readlink -f res-$p/latest)")"
done
A=docs/evidence/reduce-2026-12-06/gcc-alias-split
for b in .carry/packs-host/alias/*; do
  echo "\$ ./$(basename $b)"; timeout 60 $b; echo "[exit $?]"
done > $OUT/alias-binaries.txt 2>&1
cat $OUT/alias-binaries.txt
T=docs/evidence/reduce-2026-12-06/gcc-typename
(g++ --version | head -1; nvcc --version | tail -2 | head -1
 g++ -std=c++17 -c $A/alias_split_gcc.cpp -o /tmp/g.o && nm -C /tmp/g.o | grep show
 echo "\$ g++ -c typename_mismatch_gcc.cpp"; g++ -std=c++17 -c $T/typename_mismatch_gcc.cpp -o /tmp/t.o; echo "[exit $?]"
 echo "\$ nvcc -c typename_mismatch.cu"; nvcc -std=c++17 -c $T/typename_mismatch.cu -o /tmp/t.o; echo "[exit $?]"
) > $OUT/compilers-here.txt 2>&1
cat $OUT/compilers-here.txt
for twin in 0 1; do
  python3 -m kit repro run $A/alias_split.cu -D TWIN=$twin --cuda host --arch sm_90a \
    --runtime host --results $PWD/res-alias > $OUT/alias-repro-run-$twin.txt 2>&1
  echo "repro run TWIN=$twin: rc=$?"; tail -8 $OUT/alias-repro-run-$twin.txt
done
tar czf $OUT/alias-runs.tgz -C res-alias .
